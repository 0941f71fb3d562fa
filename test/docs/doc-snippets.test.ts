// Every ```ts block of the READMEs and the library's docs type-checks against the current
// sources, so that an API change cannot leave a snippet behind. A snippet is a module on its
// own; what it uses without declaring (`db`, `primaryPool`, `log`, the usual imports) comes from
// the prelude below, minus the names the snippet declares itself.
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const documents = [
  'README.md',
  'packages/kysely-replicas/README.md',
  'packages/kysely-replicas/docs/deployment.md',
  'packages/kysely-replicas/docs/migrating.md',
  'packages/kysely-replicas/docs/testing.md',
  'packages/pg-cluster/README.md',
  'packages/testcontainers/README.md',
]

// What snippets import without saying so, by module.
const IMPORTS: Record<string, readonly string[]> = {
  kysely: ['Kysely', 'PostgresDialect', 'sql', 'type Dialect', 'type Generated', 'type Insertable'],
  'kysely-replicas': ['ReplicatedDialect', 'replicationOf', 'handlePoolErrors'],
  'kysely-replicas/postgres': ['postgresTopology'],
  '@kysely-replicas/pg-cluster': ['PgCluster'],
  'vitest/config': ['defineConfig'],
}
const DEFAULT_IMPORTS: Record<string, string> = { pg: 'pg' }

// What snippets use without declaring it, by name.
const DECLARATIONS: Record<string, string> = {
  DB: 'interface DB { person: { id: Generated<number>; name: string }; order: { id: Generated<number> }; report: { id: Generated<number> } }',
  db: 'declare const db: Kysely<DB>',
  primaryPool: 'declare const primaryPool: pg.Pool',
  replicaPool1: 'declare const replicaPool1: pg.Pool',
  replicaPool2: 'declare const replicaPool2: pg.Pool',
  replicaPoolA: 'declare const replicaPoolA: pg.Pool',
  replicaPoolB: 'declare const replicaPoolB: pg.Pool',
  primary: 'declare const primary: Dialect',
  replicas: 'declare const replicas: Dialect[]',
  primaryDialect: 'declare const primaryDialect: Dialect',
  replicaDialects: 'declare const replicaDialects: Dialect[]',
  row: "declare const row: Insertable<DB['person']>",
  id: 'declare const id: number',
  log: 'declare const log: Record<"debug" | "info" | "warn" | "error", (...args: unknown[]) => void>',
  metrics: 'declare const metrics: { increment(name: string, tags?: object): void }',
  debug: 'declare function debug(...args: unknown[]): void',
  // The part of a Hono app the README's middleware uses.
  app: 'declare const app: { use(handler: (c: { req: { header(name: string): string | undefined }; res: Response }, next: () => Promise<void>) => Promise<void>): void }',
  // kysely-replication's API, in the migration guide's "before".
  KyselyReplicationDialect:
    'declare class KyselyReplicationDialect { constructor(config: object) }',
  RoundRobinReplicaStrategy:
    'declare class RoundRobinReplicaStrategy { constructor(options: object) }',
}

interface Snippet {
  readonly name: string
  readonly code: string
}

function snippetsOf(document: string): Snippet[] {
  const lines = readFileSync(join(root, document), 'utf8').split('\n')
  const snippets: Snippet[] = []
  let start = -1
  lines.forEach((line, index) => {
    if (start === -1 && line.trim() === '```ts') {
      start = index + 1
    } else if (start !== -1 && line.trim() === '```') {
      snippets.push({ name: `${document}:${start}`, code: lines.slice(start, index).join('\n') })
      start = -1
    }
  })
  return snippets
}

// The top-level names a snippet declares or imports itself.
function declaredNames(code: string): Set<string> {
  const file = ts.createSourceFile('snippet.ts', code, ts.ScriptTarget.ES2022)
  const names = new Set<string>()
  const addBinding = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text)
    else
      for (const element of name.elements)
        if (!ts.isOmittedExpression(element)) addBinding(element.name)
  }
  for (const statement of file.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause
      if (clause?.name) names.add(clause.name.text)
      const bindings = clause?.namedBindings
      if (bindings && ts.isNamedImports(bindings))
        for (const element of bindings.elements) names.add(element.name.text)
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text)
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) addBinding(declaration.name)
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name !== undefined
    ) {
      names.add(statement.name.text)
    }
  }
  return names
}

function withPrelude(code: string): string {
  const own = declaredNames(code)
  const lines: string[] = []
  for (const [module, names] of Object.entries(IMPORTS)) {
    const wanted = names.filter((name) => !own.has(name.replace(/^type /, '')))
    if (wanted.length > 0) lines.push(`import { ${wanted.join(', ')} } from '${module}'`)
  }
  for (const [module, name] of Object.entries(DEFAULT_IMPORTS)) {
    if (!own.has(name)) lines.push(`import ${name} from '${module}'`)
  }
  for (const [name, declaration] of Object.entries(DECLARATIONS)) {
    if (!own.has(name)) lines.push(declaration)
  }
  return `${lines.join('\n')}\n${code}\nexport {}\n`
}

// The line of the document a line of a snippet's virtual file comes from.
function documentLine(snippet: Snippet, fileLine: number): number {
  const prelude = withPrelude(snippet.code).split('\n').length - snippet.code.split('\n').length - 2
  return Number(snippet.name.split(':')[1]) + 1 + fileLine - prelude
}

const snippets = documents.flatMap(snippetsOf)
// Virtual files next to this test, so that imports resolve from test/node_modules.
const fileOf = (snippet: Snippet) =>
  join(root, 'test/docs/__snippets__', `${snippet.name.replace(/[/:.]/g, '_')}.ts`)
const sources = new Map(snippets.map((snippet) => [fileOf(snippet), withPrelude(snippet.code)]))
const snippetOf = new Map(snippets.map((snippet) => [fileOf(snippet), snippet]))

function diagnostics(): Map<string, string[]> {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: root,
    paths: {
      'kysely-replicas': ['packages/kysely-replicas/src/index.ts'],
      'kysely-replicas/postgres': ['packages/kysely-replicas/src/postgres/index.ts'],
      '@kysely-replicas/pg-cluster': ['packages/pg-cluster/src/index.ts'],
      '@kysely-replicas/testcontainers': ['packages/testcontainers/src/index.ts'],
    },
  }
  const host = ts.createCompilerHost(options)
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (file) => sources.has(file) || fileExists(file)
  host.readFile = (file) => sources.get(file) ?? readFile(file)
  host.getSourceFile = (file, language, ...rest) => {
    const text = sources.get(file)
    return text === undefined
      ? getSourceFile(file, language, ...rest)
      : ts.createSourceFile(file, text, language)
  }
  const program = ts.createProgram([...sources.keys()], options, host)

  const byFile = new Map<string, string[]>()
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file?.fileName ?? ''
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const at =
      diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
        : undefined
    const snippet = snippetOf.get(file)
    const where =
      at === undefined || snippet === undefined
        ? relative(root, file)
        : `${snippet.name.split(':')[0]}:${documentLine(snippet, at.line)}`
    byFile.set(file, [...(byFile.get(file) ?? []), `${where}: ${text}`])
  }
  return byFile
}

describe('code snippets of the docs', () => {
  const found = diagnostics()

  it('finds the snippets', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(18)
  })

  it.each(snippets.map((snippet) => [snippet.name, snippet] as const))(
    '%s type-checks',
    (_, snippet) => {
      expect(found.get(fileOf(snippet)) ?? []).toEqual([])
    },
  )
})
