import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

// Tests import the packages by name; the alias points them at the sources so that a test run
// needs no build, while `check:packages` covers the built output.
const alias = {
  'kysely-replicas/postgres': src('./packages/kysely-replicas/src/postgres/index.ts'),
  'kysely-replicas': src('./packages/kysely-replicas/src/index.ts'),
  '@kysely-replicas/pg-cluster': src('./packages/pg-cluster/src/index.ts'),
  '@kysely-replicas/testcontainers': src('./packages/testcontainers/src/index.ts'),
}

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'kysely-replicas',
          include: ['packages/kysely-replicas/test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'pg-cluster',
          include: ['packages/pg-cluster/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          // Skipped with one line where no Docker engine runs; REQUIRE_DOCKER=1 makes that fail.
          name: 'testcontainers',
          include: ['packages/testcontainers/test/**/*.test.ts'],
          globalSetup: ['packages/testcontainers/test/global-setup.ts'],
          // No registry to pull Testcontainers' reaper from: each cluster's stop() and the
          // global teardown remove the containers instead.
          env: { TESTCONTAINERS_RYUK_DISABLED: 'true' },
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          // A Patroni cluster of its own. Skipped with one line where Patroni and etcd are not
          // installed (scripts/install-ha.sh); REQUIRE_HA=1 makes that fail.
          name: 'ha',
          include: ['test/ha/**/*.test.ts'],
          globalSetup: ['test/ha/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          // The ```ts snippets of the READMEs and docs, type-checked against the sources.
          name: 'docs',
          include: ['test/docs/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // The HTTP recipes in examples/ run their checks against the same shared cluster.
          include: ['test/**/*.test.ts', 'examples/*/test/**/*.test.{ts,mjs}'],
          exclude: [...configDefaults.exclude, 'test/ha/**', 'test/docs/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
