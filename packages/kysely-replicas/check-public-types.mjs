// Every type in the published declarations must be exported by name from an entry point, so that
// users can name what they get and TypeDoc can link it. A type that only an internal member drags
// in means that member needs `@internal` (stripped from dist by tsup's stripInternal), or a
// narrower public type. Run after `pnpm build` (part of `pnpm check:package`).
import ts from 'typescript'

const entries = ['dist/index.d.ts', 'dist/postgres/index.d.ts']
const program = ts.createProgram(entries, {
  strict: true,
  skipLibCheck: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
})
const checker = program.getTypeChecker()
const exported = new Set()
for (const entry of entries) {
  const file = program.getSourceFile(entry)
  if (file === undefined) {
    throw new Error(`${entry} is missing: run pnpm build first.`)
  }
  for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(file))) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
    for (const declaration of target.declarations ?? []) exported.add(declaration)
  }
}
const unexported = []
for (const file of program.getSourceFiles()) {
  if (!file.fileName.includes('/kysely-replicas/dist/')) continue
  ts.forEachChild(file, (node) => {
    const named =
      ts.isClassDeclaration(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      ts.isFunctionDeclaration(node) ||
      ts.isEnumDeclaration(node)
    if (named && node.name !== undefined && !exported.has(node)) {
      unexported.push(`${node.name.text} (${file.fileName.split('/dist/')[1]})`)
    }
  })
}
if (unexported.length > 0) {
  console.error(
    `Types in the published declarations that no entry point exports:\n  ${unexported.join('\n  ')}\n` +
      'Export each from src/index.ts or src/postgres/index.ts if users may name it, or tag the ' +
      'member that uses it @internal if they may not.',
  )
  process.exit(1)
}
console.log(`public types: every declared type is exported by name (${exported.size} exports).`)
