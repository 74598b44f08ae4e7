/**
 * Prints the run's totals as one plain line, `N passed, N failed`
 * (`, N skipped` when any), after vitest's own report: the closing line CI
 * reads, whatever the runner. A file that could not run, an error outside
 * the tests (a global setup that failed) or an interrupted run counts as a
 * failure, so the line never says 0 failed for a run that failed.
 */
import { existsSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';
import { uncoveredAnswers } from './contract.ts';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      const tests = [...module.children.allTests()];
      for (const test of tests) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (module.state() === 'failed' && !tests.some((t) => t.result().state === 'failed')) failed++;
    }
    if (reason !== 'passed' && failed === 0) failed = 1;
    reportContractCoverage();
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  }
}

/**
 * Lists the answers docs/openapi.yaml documents that no integration test of
 * this run produced (noted by test/support/contract.ts in the directory the
 * global setup made). A report, not a failure: a run of one file covers little.
 */
function reportContractCoverage(): void {
  const dir = process.env.CONTRACT_COVERAGE_DIR;
  if (!dir || !existsSync(dir)) return;
  const { seen, missing } = uncoveredAnswers(dir);
  if (seen === 0) return;
  const lines = missing.length === 0 ? ['every documented answer was produced'] : [`${missing.length} documented answers no test produced:`, ...missing];
  process.stdout.write(`\n[contract coverage] ${lines.join('\n  ')}\n`);
}
