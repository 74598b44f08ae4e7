/**
 * Integration setup: a test fails when anything it caused broke the published
 * contract (an HTTP answer of a cold-started handler, a Detail received by the
 * EventBridge double), even if the test itself caught the error.
 */
import { afterAll, afterEach } from 'vitest';
import { takeViolations } from './contract.ts';

function failOnViolations(): void {
  const violations = takeViolations();
  if (violations.length > 0) throw new Error(`contract violations:\n${violations.join('\n')}`);
}

afterEach(failOnViolations);
// Also what hooks outside any test (beforeAll/afterAll) caused.
afterAll(failOnViolations);
