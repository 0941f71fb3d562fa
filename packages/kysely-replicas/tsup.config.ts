import { defineConfig } from 'tsup'

export default defineConfig({
  // Two entries share one copy of the core (error classes, ReplicatedDialect): `splitting` puts it
  // in a chunk both import, in CommonJS too, so `instanceof` works across the subpaths.
  entry: { index: 'src/index.ts', 'postgres/index': 'src/postgres/index.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  // Members tagged @internal (constructors of what the library makes, router hooks) are left out
  // of the published types, and with them the internal types they would drag in.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: true,
  target: 'node20',
})
