/**
 * Reconcile-starting: reclaims registrations that died mid-flight.
 *
 * Input: none (runs every minute, one at a time).
 * Output: { examined, reclaimed }.
 *
 * Steps, for each `starting` record created more than STARTING_TIMEOUT_S ago
 * (found through the sparse index, never a scan):
 *  1. markReclaiming  - conditionally on it still being that same `starting`
 *                       record (same op_id): a registration that completed is
 *                       never touched; one that is only slow finds its
 *                       compare-and-set refused and rolls itself back;
 *  2. deleteOwnedMappings, then the record (a `starting` record has no
 *     outbox item: the item commits only with the compare-and-set to
 *     `running`, which a marked record refuses);
 *  3. the failure entry (`reconciler`, `registration_abandoned`), written in
 *     the same transaction as the record's delete;
 *  4. the outcome metric; 5. one warning line.
 * A reclaim interrupted halfway leaves a marked `starting` record, which the
 * next run finds and finishes (the mark is idempotent).
 *
 * Each run also reports the gauge `oldest_starting_age`: seconds since the
 * oldest `starting` record was created, 0 when there is none, measured
 * before this run's reclaims (the oldest candidate when there are any, else
 * one index entry). A reconciler that clears what it should keeps it below
 * STARTING_TIMEOUT_S plus a minute; the alarm watches it staying above
 * STARTING_TIMEOUT_S + 180 s.
 *
 * Time budget: the run starts no new reclaim once less than
 * RECONCILE_STOP_MS of the function's time is left; the rest of a large
 * backlog is left for the next run, a minute later. `examined` counts the
 * records it looked at (reclaimed or not), not the ones left.
 */
import { newOpId, type OperationEntry } from '../domain/operation.ts';
import type { Log, StartingRecordReclaimer, StartingRecordRef, Telemetry } from '../ports.ts';

export const ABANDONED_CODE = 'registration_abandoned';

/**
 * No new reclaim once less than this is left of the function's time (its
 * timeout is 50 s): a reclaim is a few requests, each bounded by the SDK's
 * 2 s request timeout and 3 attempts, so one started with 10 s left ends in
 * time, and the run answers instead of being cut off by Lambda.
 */
export const RECONCILE_STOP_MS = 10_000;

export interface ReconcileStartingDeps {
  reclaimer: StartingRecordReclaimer;
  telemetry: Telemetry;
  log: Log;
  startingTimeoutS: number;
  clock?: () => Date;
}

export interface ReconcileResult {
  examined: number;
  reclaimed: number;
}

export class ReconcileStarting {
  private readonly clock: () => Date;

  constructor(private readonly deps: ReconcileStartingDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** One run; `remainingTimeMs` is the function's time left (none given: no budget, e.g. a local run). */
  async run(remainingTimeMs: () => number = () => Number.POSITIVE_INFINITY): Promise<ReconcileResult> {
    const now = this.clock();
    const cutoff = new Date(now.getTime() - this.deps.startingTimeoutS * 1000).toISOString();
    const candidates = await this.deps.reclaimer.findStartingBefore(cutoff);
    await this.reportOldestStarting(candidates, now);
    let examined = 0;
    let reclaimed = 0;
    for (const ref of candidates) {
      if (remainingTimeMs() < RECONCILE_STOP_MS) {
        this.deps.log.warn('reconcile time budget spent; the rest is left for the next run', {
          examined,
          reclaimed,
          left: candidates.length - examined,
        });
        break;
      }
      examined++;
      try {
        if (await this.reclaim(ref)) reclaimed++;
      } catch (err) {
        // One stuck record must not stop the others; the next run retries it.
        this.deps.log.error('reclaim of starting record failed', { game_id: ref.game_id, op_id: ref.op_id, error: err });
      }
    }
    return { examined, reclaimed };
  }

  /** The gauge; a failure to measure is logged and never stops the reclaims. */
  private async reportOldestStarting(candidates: readonly StartingRecordRef[], now: Date): Promise<void> {
    try {
      let oldest: string | undefined;
      for (const ref of candidates) if (oldest === undefined || ref.created_at < oldest) oldest = ref.created_at;
      oldest ??= await this.deps.reclaimer.oldestStartingCreatedAt();
      const created = oldest === undefined ? Number.NaN : Date.parse(oldest);
      this.deps.telemetry.oldestStartingAge(Number.isFinite(created) ? Math.max(0, (now.getTime() - created) / 1000) : 0);
    } catch (err) {
      this.deps.log.error('oldest starting age not measured', { error: err });
    }
  }

  private async reclaim(ref: StartingRecordRef): Promise<boolean> {
    const startedAt = this.clock();
    if (!(await this.deps.reclaimer.markReclaiming(ref, startedAt.toISOString()))) return false;
    await this.deps.reclaimer.deleteOwnedMappings(ref.game_id, ref.op_id);
    const message = `registration ${ref.op_id} abandoned in status starting since ${ref.created_at}; reclaimed`;
    const entry: OperationEntry = {
      game_id: ref.game_id,
      op_id: newOpId(startedAt),
      op_kind: 'register_runtime',
      op_source: 'reconciler',
      source_ref: ref.op_id,
      outcome: 'failure',
      error_code: ABANDONED_CODE,
      error_message: message,
      started_at: startedAt.toISOString(),
      finished_at: this.clock().toISOString(),
    };
    if (!(await this.deps.reclaimer.deleteMarkedWithEntry(ref, entry))) return false;
    this.deps.telemetry.registerOutcome('failure', ABANDONED_CODE);
    this.deps.log.warn('abandoned registration reclaimed', {
      game_id: ref.game_id,
      op_id: ref.op_id,
      op_source: 'reconciler',
      error_code: ABANDONED_CODE,
      error_message: message,
    });
    return true;
  }
}
