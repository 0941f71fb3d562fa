import { defineConfig } from 'tsup'

export default defineConfig({
  // Two entries share one copy of the core (error classes, ReplicatedDialect): `splitting` puts it
  // in a chunk both import, in CommonJS too, so `instanceof` works across the subpaths.
  entry: { index: 'src/index.ts', 'postgres/index': 'src/postgres/index.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
})
