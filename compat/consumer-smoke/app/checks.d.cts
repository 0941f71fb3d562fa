// Loose on purpose: typed.ts gets its types from the ESM declarations, this file from the
// CommonJS ones, and those are distinct declarations of the same classes.
export declare function runChecks(options: {
  db: object
  sql: (strings: TemplateStringsArray, ...values: unknown[]) => unknown
  replicationOf: (db: never) => unknown
  label: string
}): Promise<void>
