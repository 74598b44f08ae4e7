/**
 * The reconciler's gauge `oldest_starting_age` on DynamoDB Local: once per
 * tick, seconds since the oldest `starting` record was created (0 when there
 * is none), with the `service` dimension only, on its own EMF document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { captureEmf } from '../support/emf.ts';
import { RecordingLog } from '../support/harness.ts';
import { type Stack, startStack } from '../support/stack.ts';

const STARTING_TIMEOUT_S = 120;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ STARTING_TIMEOUT_S: String(STARTING_TIMEOUT_S) });
});

afterAll(async () => {
  await stack?.close();
});

/** One tick at a fixed instant (the injected clock); the gauge values it emitted. */
async function tick(now: Date) {
  const emf = captureEmf();
  const log = new RecordingLog();
  const result = await buildReconciler(loadConfig(), { dynamo: stack.tables.client, log, clock: () => now })
    .run()
    .finally(() => emf.restore());
  const gauges = emf.metrics().filter((m) => m.name === 'oldest_starting_age');
  return { result, gauges, log };
}

describe('Gauge: oldest_starting_age', () => {
  it('is 0 when nothing is starting', async () => {
    const { gauges } = await tick(new Date());
    expect(gauges).toHaveLength(1);
    expect(gauges[0]).toMatchObject({ unit: 'Seconds', value: 0, dimensionSets: [['service']] });
  });

  it('is the age of the oldest starting record, young or old, measured before the tick reclaims it; each tick emits it once', async () => {
    const now = new Date();
    await stack.tables.seedAbandonedStarting('g-gauge-young', 30, stack.engine.url);
    const young = await tick(now);
    expect(young.result).toEqual({ examined: 0, reclaimed: 0 });
    expect(young.gauges).toHaveLength(1);
    expect(young.gauges[0]?.value).toBeGreaterThanOrEqual(30);
    expect(young.gauges[0]?.value).toBeLessThan(90);

    await stack.tables.seedAbandonedStarting('g-gauge-old', 1000, stack.engine.url);
    const old = await tick(new Date());
    expect(old.result).toEqual({ examined: 1, reclaimed: 1 });
    expect(old.gauges).toHaveLength(1);
    expect(old.gauges[0]).toMatchObject({ unit: 'Seconds', dimensionSets: [['service']] });
    expect(old.gauges[0]?.value).toBeGreaterThanOrEqual(1000);
    expect(old.gauges[0]?.value).toBeLessThan(1060);
    // Its own document: the outcome metric of the reclaim never carries it, nor it the outcome's dimensions.
    expect(Object.keys(old.gauges[0]?.dimensions ?? {})).toEqual(['service']);

    // Next tick: the old one is gone, the young one is the oldest.
    const after = await tick(new Date());
    expect(after.gauges[0]?.value).toBeGreaterThanOrEqual(30);
    expect(after.gauges[0]?.value).toBeLessThan(90);
  });

  it('a tick that reclaims takes the gauge from its candidates, and logs no error', async () => {
    const log = new RecordingLog();
    const reconciler = buildReconciler(loadConfig(), { dynamo: stack.tables.client, log, clock: () => new Date(Date.now() + 86_400_000) });
    // The young record is now past the timeout: reclaimed, and the gauge comes from the candidates.
    const emf = captureEmf();
    const result = await reconciler.run().finally(() => emf.restore());
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    expect(emf.metrics().filter((m) => m.name === 'oldest_starting_age')[0]?.value).toBeGreaterThanOrEqual(86_400);
    expect(log.at('error')).toEqual([]);
  });
});
