/**
 * The chaos test's short, fixed-seed form (issue 16, item 5; the long form
 * is `npm run chaos -- --registrations 2000`, see docs/chaos.md): 150
 * registrations under combined faults (DynamoDB errors, throttles, answers
 * lost after the write landed, brownouts after a commit; engine failures,
 * slowness and wrong rosters; tight deadlines; keyed, retried and parallel
 * calls; relay rounds refused or failed; reconciler ticks), each checked
 * against what its answers promised. The table is printed whatever the
 * outcome; a broken promise fails the test, naming the registration and its
 * plan (replay it with `npm run chaos -- --seed 20261205 --only N`).
 */
import { describe, expect, inject, it, vi } from 'vitest';
import { check } from '../support/chaos/checker.ts';
import { report } from '../support/chaos/report.ts';
import { runChaos } from '../support/chaos/runner.ts';

const SEED = 20261205;
const REGISTRATIONS = 150;

describe('chaos: registrations under combined faults keep what their answers promised', () => {
  it(`seed ${SEED}, ${REGISTRATIONS} registrations: no broken promise`, { timeout: 180_000 }, async () => {
    // Act: each execution environment is a fresh import of the handler (a cold start).
    const run = await runChaos({
      seed: SEED,
      registrations: REGISTRATIONS,
      lanes: 12,
      dynamoEndpoint: inject('dynamoEndpoint'),
      importFresh: async (path) => {
        vi.resetModules();
        return import(path);
      },
    });

    // Assess
    const broken = check(run);
    console.log(report(run, broken));
    expect(run.registrations).toHaveLength(REGISTRATIONS);
    expect(broken.map((b) => `#${b.registration.plan.index} ${b.promise}: ${b.detail}`)).toEqual([]);
  });
});
