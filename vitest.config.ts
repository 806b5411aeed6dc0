import { defineConfig } from 'vitest/config';

// One run, three projects: unit tests beside the code (no Redis), integration tests in test/ (one Redis
// for the run, found or started by test/globalSetup.ts), and type tests checked by tsc. Tests import the
// packages from their build, as users do: `npm test` builds first, test/builtPackages.ts refuses a stale build.
export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores, and tests spawn redis-server and worker processes: two test files at a time.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A committed `.only` fails the run instead of silently skipping the rest (pass --allowOnly locally).
    allowOnly: false,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/**/src/**/*.test.ts', 'apps/**/src/**/*.test.ts'],
          globalSetup: ['test/builtPackages.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/builtPackages.ts', 'test/globalSetup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'types',
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['test/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
    ],
  },
});
