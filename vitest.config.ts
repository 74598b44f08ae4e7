import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (no services: the SDKs are mocked) and `integration`
 * (integration and deploy tests, with one DynamoDB Local started for the
 * whole run by the global setup). `npx vitest run --project unit` needs
 * neither Java nor DynamoDB Local.
 */
const shared = {
  setupFiles: ['test/support/setup-env.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
  allowOnly: false,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/deploy/**/*.test.ts'],
          setupFiles: [...shared.setupFiles, 'test/support/contract-setup.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
