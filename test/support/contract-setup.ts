/**
 * Integration setup: a test fails when anything it caused broke the published
 * contract (an HTTP answer of a cold-started handler, a Detail received by the
 * EventBridge double), even if the test itself caught the error.
 */
import { afterAll, afterEach, inject } from 'vitest';
import { takeViolations } from './contract.ts';

// Where checked answers are noted for the coverage report of the global teardown.
const coverageDir = inject('contractCoverageDir');
if (coverageDir) process.env.CONTRACT_COVERAGE_DIR = coverageDir;

function failOnViolations(): void {
  const violations = takeViolations();
  if (violations.length > 0) throw new Error(`contract violations:\n${violations.join('\n')}`);
}

afterEach(failOnViolations);
// Also what hooks outside any test (beforeAll/afterAll) caused.
afterAll(failOnViolations);
