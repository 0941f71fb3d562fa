import { defineConfig } from 'vitest/config'
import workspace from './vitest.config.js'

// What `pnpm test:mutation` runs against each mutant: the in-memory unit tests only (no cluster,
// no build), with the same aliases as the main config. The built-package check is left out: it
// tests what tsup emits, which no mutant of the sources changes in a way the others miss.
export default defineConfig({
  resolve: workspace.resolve,
  test: {
    include: ['packages/kysely-replicas/test/**/*.test.ts'],
    exclude: ['packages/kysely-replicas/test/entry-points.test.ts'],
  },
})
