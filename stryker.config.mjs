// Mutation testing of the core folders against the unit tests: `pnpm test:mutation`.
// Two workers at most: the machines it runs on have two cores, shared.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.stryker.config.ts', related: false },
  mutate: ['packages/kysely-replicas/src/{routing,consistency,health,balancing}/**/*.ts'],
  // Only what the unit tests load is copied into the sandbox.
  ignorePatterns: [
    '/*',
    '!/package.json',
    '!/tsconfig.base.json',
    '!/vitest.config.ts',
    '!/vitest.stryker.config.ts',
    '!/packages',
    '/packages/*',
    '!/packages/kysely-replicas',
  ],
  coverageAnalysis: 'perTest',
  // A static mutant (module-level constants) needs the whole suite for each one: about half the
  // run's time for a tenth of the mutants. `pnpm test:mutation --ignoreStatic false` includes them.
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
}
