/**
 * Register-runtime: installs a freshly started game runtime whole, or
 * leaves nothing of it behind.
 *
 * Input: the raw request body and who sent it (RegisterCall).
 * Output: the runtime record as stored, a stable error code and message, or
 * (only when a commit's fate could not be learnt) 503 "commit outcome unknown".
 *
 * Steps (the spec's lifecycle, one method each, in order):
 *  0. validateInput        - shape, the seed's eight checks, the stricter limits
 *     readRecordAndVersion - steps 1 and 2 read in one request (none warm)
 *  1. rejectExisting       - a runtime record for the game exists -> conflict
 *  2. resolveImageRef      - target_engine_version -> image_ref
 *  3. insertStartingRecord - conditional insert of the `starting` record
 *  4. callEngineInit       - POST {engine_endpoint}/admin/init
 *  5. validateRoster       - the engine's players match the roster exactly
 *  6. buildPlayerMappings  - one mapping per member
 *  7. computeNextGeneration - first cron fire strictly after the start
 * 10. buildSnapshotEvent   - the outbox item (built before the commit: it needs the engine's players)
 *  8. commitRunning        - mappings + starting->running CAS + scheduling
 *  9.                        + the success entry
 * 10.                        + the outbox item, in one transaction
 * 11. 201 with the record. Delivering the event is the relay's job
 *     (publishSnapshots), at least once; this function never calls EventBridge.
 *
 * Settled facts. Once a commit transaction was sent, a failed or missing
 * answer says nothing about whether it landed (or will). Nothing is undone
 * before `settle` has learnt it with a fence (RegistrationCommitter.fence,
 * a write DynamoDB orders against the commit): landed -> the registration
 * stands (201); fenced -> it never will land, roll back, answer the failure;
 * fence unanswered -> 503 "commit outcome unknown", nothing more written,
 * the reconciler settles it.
 *
 * One answer per operation. Whoever decides first (the operation itself,
 * or an outer layer through `abandon`: the handler's deadline guard, a
 * defect that escaped) fixes the answer in `decide`; every later layer
 * gives that same answer, the operation's later work never contradicts it,
 * and the outcome metric, the log line and the failure entry are emitted
 * once, there.
 */
import { DEADLINE_GUARD_MS, ROLLBACK_RESERVE_MS } from '../config.ts';
import type { RegisterErrorCode } from '../domain/errors.ts';
import { fallbackOpSource, newOpId, type OperationEntry, UNIDENTIFIED_GAME } from '../domain/operation.ts';
import type { EngineInitPlayer } from '../domain/engine-player.ts';
import type { PlayerMapping, RuntimeRecord } from '../domain/runtime-record.ts';
import { nextFireAfter } from '../domain/schedule.ts';
import { buildSnapshotUpdate, type OutboxEvent, outboxEvent } from '../domain/snapshot-event.ts';
import {
  EngineCallError,
  type EngineClient,
  type Log,
  type OperationLogStore,
  type RecordAndVersion,
  type RegistrationCommitter,
  type RegistrationReads,
  type RuntimeRecordStore,
  StoreConflictError,
  StoreUnavailableError,
  type Telemetry,
} from '../ports.ts';
import { goQuote as quote, parseBody, type RegisterRequest, usableGameId, validateRegisterRequest } from './validation.ts';

export interface RegisterCall {
  /** The raw request body as API Gateway hands it over. */
  body: string | undefined;
  isBase64Encoded: boolean;
  /** How the request entered Game Master (`lobby_internal` for the HTTP route). */
  opSource: string;
  /** X-Request-Id or API Gateway's request id. */
  sourceRef: string;
  /** Milliseconds left before the Lambda deadline. */
  remainingTimeMs: () => number;
}

export type RegisterOutcome =
  | { ok: true; record: RuntimeRecord }
  | { ok: false; code: RegisterErrorCode; message: string };

/** The answer when a commit was sent and its fate could not be learnt (spec, Failure handling). */
export const OUTCOME_UNKNOWN_MESSAGE = 'register runtime: commit outcome unknown; GET /internal/v1/runtimes/{game_id} tells';

export interface RegisterRuntimeDeps {
  records: RuntimeRecordStore;
  reads: RegistrationReads;
  committer: RegistrationCommitter;
  operationLog: OperationLogStore;
  engine: EngineClient;
  telemetry: Telemetry;
  log: Log;
  settings: { allowedHosts: readonly string[]; engineTimeoutMs: number; outboxTtlS: number };
  clock?: () => Date;
}

/** Bounds of the clean-up budget (fence, rollback, failure audit). */
const CLEANUP_MIN_MS = 500;
const CLEANUP_MAX_MS = 5000;
/** What the deadline guard keeps of its own time for answering, after waiting for a settlement or an audit. */
const GUARD_ANSWER_MS = 200;

/** A step failed with a stable code: the operation stops and rolls back. */
class StepFailure extends Error {
  constructor(
    readonly code: RegisterErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Where an attempted commit stands: `landed` (it stands), `fenced` (it did
 * not land and never will), `unknown` (the fence went unanswered).
 */
type Settlement = 'landed' | 'fenced' | 'unknown';

/** The answer of an operation, once decided: a 201, a failure, or "commit outcome unknown". */
type Answer = { kind: 'landed' } | { kind: 'failed'; code: RegisterErrorCode; message: string } | { kind: 'unknown' };

/** The state of one operation, threaded through the steps. */
interface Operation {
  call: RegisterCall;
  opId: string;
  startedAt: Date;
  /** The game to audit under, once known to be usable. */
  gameId: string | undefined;
  /** The raw target_engine_version, for log lines of invalid requests. */
  engineVersion: string;
  /** The body, decoded and parsed once. */
  parsed: ReturnType<typeof parseBody>;
  /** Aborts the operation's store calls when only the rollback reserve is left, or when it is abandoned. */
  signal: AbortSignal;
  /** Aborted by `abandon`: an outer layer is answering for this operation; it sends no new write but its rollback. */
  abandoned: AbortController;
  /** The answer, once decided (by the operation or by `abandon`): never changes after. */
  answer: Answer | undefined;
  /** The failure entry being written (once per operation). */
  audit: Promise<void> | undefined;
  /** The fence's verdict on the commit, once asked (asked once per operation). */
  settlement: Promise<Settlement> | undefined;
  /** The record and roster the commit writes, once it is attempted (what a standing registration answers). */
  commit: { record: RuntimeRecord; members: number } | undefined;
  /** This operation may have inserted the runtime record (so it rolls it back). */
  inserted: boolean;
  /**
   * A commit transaction (a mapping chunk or the final one) was sent: its
   * fate must be settled by the fence before anything is undone.
   */
  commitSent: boolean;
}

export class RegisterRuntime {
  private readonly clock: () => Date;
  /** Each call's operation (kept after it ends, with its state): what `abandon` finds. */
  private readonly operations = new WeakMap<RegisterCall, Operation>();

  constructor(private readonly deps: RegisterRuntimeDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async register(call: RegisterCall): Promise<RegisterOutcome> {
    // Answered before it started (an outer layer answered and audited it,
    // e.g. while the key was being taken): it never runs.
    const earlier = this.operations.get(call);
    if (earlier?.answer !== undefined) return this.outcomeOf(earlier);
    const op = this.begin(call);
    try {
      const request = this.validateInput(op);
      const read = await this.readRecordAndVersion(op, request);
      this.rejectExisting(read);
      const imageRef = this.resolveImageRef(request, read);
      const starting = await this.insertStartingRecord(op, request, imageRef);
      const players = await this.callEngineInit(op, request);
      this.validateRoster(request, players);
      const mappings = this.buildPlayerMappings(op, request, players);
      const nextGenerationAt = this.computeNextGeneration(op, request);
      const running = this.runningRecord(starting, nextGenerationAt);
      const event = this.buildSnapshotEvent(op, running, mappings, players);
      await this.commitRunning(op, running, mappings, event);
      // Committed: from here on nothing fails or rolls back the registration.
      this.decide(op, { kind: 'landed' });
      return this.outcomeOf(op);
    } catch (err) {
      if (err instanceof StepFailure) return this.recordFailure(op, err.code, err.message);
      // A defect: still leave nothing behind, then answer 500.
      this.deps.log.error('register runtime defect', { game_id: op.gameId, op_id: op.opId, error: err });
      return this.recordFailure(op, 'internal_error', 'internal error');
    }
  }

  /**
   * An outer layer must answer for this call now, without the operation's
   * own outcome: the handler's deadline guard (Middy, just before the Lambda
   * deadline) or a defect that escaped. It answers only what is settled:
   * - the operation never started: a failure, audited as a new operation;
   * - it already decided its answer: that answer (its failure entry written
   *   first, within this layer's budget);
   * - no commit was sent yet: the failure (code and message given here); the
   *   operation stops sending writes and rolls back what it wrote;
   * - a commit was sent: the fence settles it (shared with the operation's
   *   own settlement): landed -> 201; fenced -> the failure; no verdict
   *   within this layer's budget -> 503 "commit outcome unknown".
   * The operation keeps running while the Lambda does (after Middy's
   * answer the environment may be frozen) and never contradicts the answer.
   */
  async abandon(call: RegisterCall, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
    const op = this.operations.get(call);
    if (op === undefined) return this.reject(call, code, message);
    const budget = AbortSignal.timeout(Math.max(1, call.remainingTimeMs() - GUARD_ANSWER_MS));
    op.abandoned.abort();
    if (op.answer === undefined && op.commitSent) {
      const settled = await Promise.race([this.settle(op), aborted(budget)]);
      // The operation's own commit answer may have decided meanwhile.
      if (op.answer === undefined) {
        if (settled === 'landed') this.decide(op, { kind: 'landed' });
        else if (settled === 'fenced') this.decide(op, { kind: 'failed', code, message });
        else this.decide(op, { kind: 'unknown' });
      }
    }
    const answer = this.decide(op, { kind: 'failed', code, message });
    if (answer.kind === 'failed') await Promise.race([this.auditOnce(op, budget), aborted(budget)]);
    return this.outcomeOf(op);
  }

  /**
   * Records a failure decided outside the lifecycle (an invalid
   * Idempotency-Key, a key that could not be taken): audited, counted and
   * logged like any other failure; nothing ran, so nothing rolls back.
   */
  async reject(call: RegisterCall, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
    // Already answered for (the deadline guard fired while the key was being
    // taken): one operation, one answer, one audit.
    const earlier = this.operations.get(call);
    if (earlier?.answer !== undefined) return this.outcomeOf(earlier);
    return this.recordFailure(this.begin(call), code, message);
  }

  private begin(call: RegisterCall): Operation {
    const startedAt = this.clock();
    const abandoned = new AbortController();
    const parsed = parseBody(call.body, call.isBase64Encoded);
    const raw = parsed.ok ? parsed.value : undefined;
    const version = raw !== null && typeof raw === 'object' ? Object.getOwnPropertyDescriptor(raw, 'target_engine_version')?.value : undefined;
    const op: Operation = {
      call,
      opId: newOpId(startedAt),
      startedAt,
      gameId: usableGameId(raw),
      engineVersion: typeof version === 'string' ? version.slice(0, 128) : '',
      parsed,
      signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, call.remainingTimeMs() - ROLLBACK_RESERVE_MS)), abandoned.signal]),
      abandoned,
      answer: undefined,
      audit: undefined,
      settlement: undefined,
      commit: undefined,
      inserted: false,
      commitSent: false,
    };
    this.operations.set(call, op);
    return op;
  }

  /** 0. Shape, the seed's eight checks in order, then limits, cron, endpoint and host allowlist. */
  private validateInput(op: Operation): RegisterRequest {
    if (!op.parsed.ok) throw new StepFailure('invalid_request', op.parsed.message);
    const result = validateRegisterRequest(op.parsed.value, {
      opSource: op.call.opSource,
      allowedHosts: this.deps.settings.allowedHosts,
    });
    if (!result.ok) throw new StepFailure('invalid_request', result.message);
    op.gameId = result.value.game_id;
    op.engineVersion = result.value.target_engine_version;
    return result.value;
  }

  /**
   * What steps 1 and 2 decide on, read together (spec, Telemetry -> Cost):
   * one request in a fresh environment; none when the version is already
   * known, and then step 1 is answered by step 3's conditional insert.
   */
  private async readRecordAndVersion(op: Operation, request: RegisterRequest): Promise<RecordAndVersion> {
    return this.store(() => this.deps.reads.read(request.game_id, request.target_engine_version, op.signal));
  }

  /** 1. A runtime record for the game exists -> conflict (checked before the version: conflict wins). */
  private rejectExisting(read: RecordAndVersion): void {
    if (read.recordExists === true) throw new StepFailure('conflict', 'runtime record already exists');
  }

  /** 2. Resolve target_engine_version -> image_ref. */
  private resolveImageRef(request: RegisterRequest, read: RecordAndVersion): string {
    const imageRef = read.imageRef;
    if (imageRef === undefined) {
      throw new StepFailure('engine_version_not_found', `engine version "${request.target_engine_version}" not found`);
    }
    return imageRef;
  }

  /** 3. Insert the `starting` record; losing the race is conflict and touches nothing. */
  private async insertStartingRecord(op: Operation, request: RegisterRequest, imageRef: string): Promise<RuntimeRecord> {
    const now = op.startedAt.toISOString();
    const record: RuntimeRecord = {
      game_id: request.game_id,
      status: 'starting',
      engine_endpoint: request.engine_endpoint,
      current_image_ref: imageRef,
      current_engine_version: request.target_engine_version,
      turn_schedule: request.turn_schedule,
      current_turn: 0,
      next_generation_at: null,
      skip_next_tick: false,
      engine_health: '',
      created_at: now,
      updated_at: now,
    };
    this.stillOwned(op);
    try {
      await this.store(() => this.deps.records.insertStarting(record, op.opId, op.signal));
    } catch (err) {
      // Anything but a refused condition may have landed (a timeout after
      // the write): roll it back too; the delete proves the row is ours.
      if (err instanceof StepFailure && err.code === 'service_unavailable') op.inserted = true;
      throw err;
    }
    op.inserted = true;
    return record;
  }

  /** 4. POST /admin/init, bounded so that a hung engine leaves time to roll back. */
  private async callEngineInit(op: Operation, request: RegisterRequest): Promise<EngineInitPlayer[]> {
    // No time left (<= 0) is answered by the engine client without a call.
    const timeoutMs = Math.min(this.deps.settings.engineTimeoutMs, op.call.remainingTimeMs() - ROLLBACK_RESERVE_MS);
    try {
      return await this.deps.engine.init(
        request.engine_endpoint,
        request.members.map((m) => m.race_name),
        { timeoutMs },
      );
    } catch (err) {
      if (err instanceof EngineCallError) {
        throw new StepFailure(err.code === 'engine_address_refused' ? 'invalid_request' : err.code, err.message);
      }
      throw new StepFailure('engine_unreachable', 'engine init: call failed');
    }
  }

  /** 5. Same size, every race in the roster, no race twice. */
  private validateRoster(request: RegisterRequest, players: readonly EngineInitPlayer[]): void {
    if (players.length !== request.members.length) {
      throw new StepFailure(
        'engine_protocol_violation',
        `engine player count ${players.length} does not match roster size ${request.members.length}`,
      );
    }
    const roster = new Set(request.members.map((m) => m.race_name));
    const seen = new Set<string>();
    for (const player of players) {
      if (!roster.has(player.race_name)) {
        throw new StepFailure('engine_protocol_violation', `engine returned race ${quote(player.race_name)} not present in roster`);
      }
      if (seen.has(player.race_name)) {
        throw new StepFailure('engine_protocol_violation', `engine returned race ${quote(player.race_name)} twice`);
      }
      seen.add(player.race_name);
    }
  }

  /** 6. One mapping per member, in roster order. */
  private buildPlayerMappings(op: Operation, request: RegisterRequest, players: readonly EngineInitPlayer[]): PlayerMapping[] {
    const uuidByRace = new Map(players.map((p) => [p.race_name, p.engine_player_uuid]));
    const createdAt = op.startedAt.toISOString();
    return request.members.map((m) => ({
      game_id: request.game_id,
      user_id: m.user_id,
      race_name: m.race_name,
      engine_player_uuid: uuidByRace.get(m.race_name) as string,
      created_at: createdAt,
    }));
  }

  /** 7. First cron fire strictly after the operation's start, UTC (the schedule was validated). */
  private computeNextGeneration(op: Operation, request: RegisterRequest): string {
    return nextFireAfter(request.turn_schedule, op.startedAt).toISOString();
  }

  /** The record as the compare-and-set of step 8 leaves it. */
  private runningRecord(starting: RuntimeRecord, nextGenerationAt: string): RuntimeRecord {
    return {
      ...starting,
      status: 'running',
      next_generation_at: nextGenerationAt,
      skip_next_tick: false,
      current_turn: 0,
      updated_at: this.clock().toISOString(),
    };
  }

  /**
   * 10. The runtime_snapshot_update event as the outbox item the commit puts:
   * its Detail is the exact string the relay will send (event_id = op_id).
   */
  private buildSnapshotEvent(
    op: Operation,
    record: RuntimeRecord,
    mappings: readonly PlayerMapping[],
    players: readonly EngineInitPlayer[],
  ): OutboxEvent {
    const update = buildSnapshotUpdate({ record, mappings, players, occurredAt: op.startedAt.toISOString() });
    return outboxEvent(op.opId, update, this.clock(), this.deps.settings.outboxTtlS);
  }

  /**
   * 8+9+10. Mappings, the starting -> running compare-and-set with the
   * initial scheduling, the success entry and the outbox item. A failed or
   * missing answer is settled by the fence (in recordFailure) before
   * anything is undone: a commit that landed unseen stands.
   */
  private async commitRunning(op: Operation, record: RuntimeRecord, mappings: PlayerMapping[], event: OutboxEvent): Promise<void> {
    this.stillOwned(op);
    op.commitSent = true;
    op.commit = { record, members: mappings.length };
    await this.store(() =>
      this.deps.committer.commit(
        {
          opId: op.opId,
          gameId: record.game_id,
          mappings,
          running: { next_generation_at: record.next_generation_at, updated_at: record.updated_at },
          successEntry: this.entry(op, 'success', '', '', record.updated_at),
          outbox: event,
        },
        op.signal,
      ),
    );
  }

  /**
   * Where a sent commit stands, asked once per operation (the operation's
   * failure path and `abandon` share the answer): the fence's verdict, or
   * `unknown` when the fence went unanswered within the clean-up budget.
   */
  private settle(op: Operation): Promise<Settlement> {
    op.settlement ??= this.deps.committer.fence(op.gameId as string, op.opId, this.clock().toISOString(), this.cleanupSignal(op)).catch(
      (err: unknown) => {
        this.deps.log.error('fence of a commit went unanswered', { game_id: op.gameId, op_id: op.opId, error: err });
        return 'unknown' as const;
      },
    );
    return op.settlement;
  }

  /**
   * Fixes the operation's answer, once: the first decision stands and is
   * returned to every later caller. Counting and logging happen here, once
   * per operation (a failure's entry, metric and line in auditOnce).
   */
  private decide(op: Operation, answer: Answer): Answer {
    if (op.answer !== undefined) return op.answer;
    op.answer = answer;
    if (answer.kind === 'landed') this.reportSuccess(op);
    else if (answer.kind === 'unknown') this.reportUnknown(op);
    return answer;
  }

  private outcomeOf(op: Operation): RegisterOutcome {
    const answer = op.answer as Answer;
    if (answer.kind === 'landed') return { ok: true, record: (op.commit as NonNullable<Operation['commit']>).record };
    if (answer.kind === 'unknown') return { ok: false, code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE };
    return { ok: false, code: answer.code, message: answer.message };
  }

  private reportSuccess(op: Operation): void {
    const commit = op.commit as NonNullable<Operation['commit']>;
    try {
      this.deps.telemetry.registerOutcome('success', '');
      this.deps.log.info('runtime registered', {
        game_id: commit.record.game_id,
        engine_version: commit.record.current_engine_version,
        members: commit.members,
        op_source: op.call.opSource,
        op_id: op.opId,
      });
    } catch (err) {
      this.deps.log.error('reporting a registration failed', { game_id: commit.record.game_id, op_id: op.opId, error: err });
    }
  }

  /** The commit's fate is unknown: one metric and one warning line; no failure entry (the reconciler settles it). */
  private reportUnknown(op: Operation): void {
    this.deps.telemetry.registerOutcome('failure', 'service_unavailable');
    this.deps.log.warn('commit outcome unknown', {
      game_id: op.gameId ?? UNIDENTIFIED_GAME,
      engine_version: op.engineVersion,
      op_source: op.call.opSource,
      op_id: op.opId,
      error_code: 'service_unavailable',
      error_message: OUTCOME_UNKNOWN_MESSAGE,
    });
  }

  /** Before a write: an abandoned operation sends nothing new (its rollback aside). */
  private stillOwned(op: Operation): void {
    if (op.abandoned.signal.aborted) throw new StepFailure('service_unavailable', 'register runtime: abandoned');
  }

  /** Runs a store call; a refused condition is `conflict`, anything else `service_unavailable` naming the step. */
  private async store<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreConflictError) throw new StepFailure('conflict', err.message);
      if (err instanceof StoreUnavailableError) throw new StepFailure('service_unavailable', err.message);
      throw err;
    }
  }

  private entry(op: Operation, outcome: 'success' | 'failure', code: string, message: string, finishedAt: string): OperationEntry {
    return {
      game_id: op.gameId ?? UNIDENTIFIED_GAME,
      op_id: op.opId,
      op_kind: 'register_runtime',
      op_source: fallbackOpSource(op.call.opSource),
      source_ref: op.call.sourceRef,
      outcome,
      error_code: code,
      error_message: message,
      started_at: op.startedAt.toISOString(),
      finished_at: finishedAt,
    };
  }

  /**
   * The clean-up budget: its own time, so a cancelled or nearly timed-out
   * operation still settles and cleans up, ending before the handler's
   * deadline guard.
   */
  private cleanupSignal(op: Operation): AbortSignal {
    return AbortSignal.timeout(Math.min(CLEANUP_MAX_MS, Math.max(CLEANUP_MIN_MS, op.call.remainingTimeMs() - DEADLINE_GUARD_MS - 250)));
  }

  /**
   * The one failure path. A sent commit is settled first: landed -> the
   * registration stands (201); unknown -> 503 "commit outcome unknown" and
   * nothing more is written; fenced (or no commit sent) -> the failure is
   * decided, then rolled back (mappings, then the record this operation
   * inserted) and audited (entry, metric, warning line). Rollback and audit
   * get their own budget, ending before the handler's deadline guard; their
   * failures are logged and never replace the code. An answer an outer layer
   * gave first is kept: the operation only rolls back when that answer is a
   * failure.
   */
  private async recordFailure(op: Operation, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
    const settled = op.commitSent ? await this.settle(op) : 'fenced';
    const answeredOutside = op.answer !== undefined;
    if (op.answer === undefined) {
      if (settled === 'landed') {
        this.deps.log.info('commit answer lost, but the commit landed: registration stands', { game_id: op.gameId, op_id: op.opId });
        this.decide(op, { kind: 'landed' });
      } else if (settled === 'unknown') {
        this.decide(op, { kind: 'unknown' });
      } else {
        this.decide(op, { kind: 'failed', code, message });
      }
    }
    // A failure answered by this operation or by an outer layer is settled:
    // the commit never landed and never will, so what was written goes.
    if (op.answer?.kind === 'failed' && settled === 'fenced') {
      const signal = this.cleanupSignal(op);
      if (op.inserted) await this.rollback(op, signal);
      await this.auditOnce(op, signal);
      if (answeredOutside) {
        this.deps.log.info('register runtime rolled back after an outer layer answered for it', {
          game_id: op.gameId ?? UNIDENTIFIED_GAME,
          op_id: op.opId,
          error_code: op.answer.code,
        });
      }
    }
    return this.outcomeOf(op);
  }

  /** The failure entry, the outcome metric and the warning line: once per operation, whoever asks first. */
  private auditOnce(op: Operation, signal: AbortSignal): Promise<void> {
    op.audit ??= this.audit(op, signal);
    return op.audit;
  }

  private async audit(op: Operation, signal: AbortSignal): Promise<void> {
    const { code, message } = op.answer as Extract<Answer, { kind: 'failed' }>;
    try {
      await this.deps.operationLog.append(this.entry(op, 'failure', code, message, this.clock().toISOString()), signal);
    } catch (err) {
      this.deps.log.error('append operation log failed', {
        game_id: op.gameId ?? UNIDENTIFIED_GAME,
        op_id: op.opId,
        error_code: code,
        error: err,
      });
    }
    this.deps.telemetry.registerOutcome('failure', code);
    this.deps.log.warn('register runtime failed', {
      game_id: op.gameId ?? UNIDENTIFIED_GAME,
      engine_version: op.engineVersion,
      op_source: op.call.opSource,
      op_id: op.opId,
      error_code: code,
      error_message: message,
    });
  }

  /**
   * Undoes what the operation wrote, once the commit is known not to have
   * landed: its mappings (by op_id), then its record (only if it still
   * carries op_id). A failure leaves the `starting` record (fenced, so
   * marked for reclaim) for the reconciler, which finds its mappings by op_id
   * and finishes; deleting the record first would orphan them.
   */
  private async rollback(op: Operation, signal: AbortSignal): Promise<void> {
    const gameId = op.gameId as string;
    if (op.commitSent) {
      try {
        await this.deps.committer.deleteOwnedMappings(gameId, op.opId, signal);
      } catch (err) {
        this.deps.log.error('rollback player mappings failed; left for the reconciler', { game_id: gameId, op_id: op.opId, error: err });
        return;
      }
    }
    try {
      await this.deps.records.deleteOwned(gameId, op.opId, signal);
    } catch (err) {
      this.deps.log.error('rollback runtime record failed', { game_id: gameId, op_id: op.opId, error: err });
    }
  }
}

/** Resolves (with undefined) when the signal aborts: a bound on how long a layer waits. */
function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
