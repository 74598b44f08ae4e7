/**
 * The reconciler's oldest_starting_age gauge against a fake reclaimer: which
 * record it measures, from one injected clock reading, and that a failed
 * measurement never stops the reclaims. The same gauge on DynamoDB Local,
 * with its EMF document, is in test/integration/oldest-starting-gauge.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, type StartingRecordReclaimer, type StartingRecordRef } from '../../lib/ports.ts';
import { ReconcileStarting } from '../../lib/reconcile-starting/reconcile-starting.ts';
import { RecordingLog, RecordingTelemetry } from '../support/harness.ts';

const NOW = new Date('2026-12-05T12:00:00.000Z');

function reclaimer(candidates: StartingRecordRef[], oldest: () => Promise<string | undefined>) {
  const calls = { oldest: 0, marked: [] as string[] };
  const fake: StartingRecordReclaimer = {
    findStartingBefore: async () => candidates,
    oldestStartingCreatedAt: () => {
      calls.oldest++;
      return oldest();
    },
    markReclaiming: async (ref) => {
      calls.marked.push(ref.game_id);
      return true;
    },
    deleteOwnedMappings: async () => undefined,
    deleteMarkedWithEntry: async () => true,
  };
  return { fake, calls };
}

function reconcile(fake: StartingRecordReclaimer) {
  const telemetry = new RecordingTelemetry();
  const log = new RecordingLog();
  const useCase = new ReconcileStarting({ reclaimer: fake, telemetry, log, startingTimeoutS: 120, clock: () => NOW });
  return { useCase, telemetry, log };
}

const ref = (game_id: string, secondsAgo: number): StartingRecordRef => ({
  game_id,
  op_id: `op-${game_id}`,
  created_at: new Date(NOW.getTime() - secondsAgo * 1000).toISOString(),
});

describe('Class: ReconcileStarting (gauge oldest_starting_age)', () => {
  it('with candidates: the age of the oldest of them (Powertools emits it in whole seconds), without another read', async () => {
    const { fake, calls } = reclaimer([ref('g-2', 150.7), ref('g-1', 400.2)], async () => 'unused');
    const { useCase, telemetry } = reconcile(fake);
    await useCase.run();
    expect(telemetry.oldestStartingAges).toEqual([400.2]);
    expect(calls.oldest).toBe(0);
  });

  it('without candidates: the oldest starting record, however young; 0 when there is none', async () => {
    const young = reconcile(reclaimer([], async () => new Date(NOW.getTime() - 30_000).toISOString()).fake);
    await young.useCase.run();
    expect(young.telemetry.oldestStartingAges).toEqual([30]);
    const none = reconcile(reclaimer([], async () => undefined).fake);
    await none.useCase.run();
    expect(none.telemetry.oldestStartingAges).toEqual([0]);
  });

  it('a failed measurement is logged at error level; the run goes on and reclaims', async () => {
    const { fake, calls } = reclaimer([], async () => {
      throw new StoreUnavailableError('find oldest starting record: store request failed');
    });
    const { useCase, telemetry, log } = reconcile(fake);
    expect(await useCase.run()).toEqual({ examined: 0, reclaimed: 0 });
    expect(telemetry.oldestStartingAges).toEqual([]);
    expect(calls.oldest).toBe(1);
    expect(log.at('error').map((l) => l.message)).toEqual(['oldest starting age not measured']);
    const withWork = reclaimer([ref('g-9', 500)], async () => undefined);
    const second = reconcile(withWork.fake);
    expect(await second.useCase.run()).toEqual({ examined: 1, reclaimed: 1 });
    expect(withWork.calls.marked).toEqual(['g-9']);
  });
});
