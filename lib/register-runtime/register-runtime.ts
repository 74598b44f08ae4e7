/**
 * Register-runtime: installs a freshly started game runtime whole, or
 * leaves nothing of it behind.
 *
 * Input: the raw request body and who sent it (RegisterCall).
 * Output: the runtime record as stored, or a stable error code and message.
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
 * 10.                        + the outbox item, in one transaction; a commit
 *                            whose answer was lost is read back
 *                            (resolveLostCommit): if it landed, it stands
 * 11. 201 with the record. Delivering the event is the relay's job
 *     (publishSnapshots), at least once; this function never calls EventBridge.
 *
 * Every failure goes through recordFailure, which rolls back what this
 * operation wrote, audits, counts and logs: exactly once per operation.
 * A failure caught by an outer layer (the handler's deadline guard, a
 * defect that escaped) comes back in through `abandon`, which audits it
 * under the same once-only rule.
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

/** Bounds of the clean-up budget (rollback + failure audit). */
const CLEANUP_MIN_MS = 500;
const CLEANUP_MAX_MS = 5000;

/** A step failed with a stable code: the operation stops and rolls back. */
class StepFailure extends Error {
  constructor(
    readonly code: RegisterErrorCode,
    message: string,
  ) {
    super(message);
  }
}

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
  /** Aborted by `abandon`: an outer layer has answered for this operation. */
  abandoned: AbortController;
  /** The failure this operation is rolling back and auditing, once decided. */
  failure: { code: RegisterErrorCode; message: string } | undefined;
  /** The failure entry, metric and warning line were written (or are being written): never twice. */
  audited: boolean;
  /** The commit landed: the registration stands, nothing audits a failure for it. */
  committed: boolean;
  /** The success outcome was counted and logged: never twice. */
  reported: boolean;
  /** The record and roster the commit writes, once it is attempted (what a standing registration answers). */
  commit: { record: RuntimeRecord; members: number } | undefined;
  /**
   * The rollback undid the commit's writes (outbox item deleted, record
   * marked): only then may the failure entry replace the operation's own
   * success entry, which exists when the commit landed unseen.
   */
  undone: boolean;
  /** This operation inserted the runtime record (so it may roll it back). */
  inserted: boolean;
  /** Mapping rows of this operation may exist (the commit was attempted). */
  mappingsWritten: boolean;
}

export class RegisterRuntime {
  private readonly clock: () => Date;
  /** Each call's operation (kept after it ends, with its state): what `abandon` finds. */
  private readonly operations = new WeakMap<RegisterCall, Operation>();

  constructor(private readonly deps: RegisterRuntimeDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async register(call: RegisterCall): Promise<RegisterOutcome> {
    // Abandoned before it started (an outer layer already answered and
    // audited it, e.g. while the key was being taken): it never runs.
    const abandoned = this.operations.get(call)?.failure;
    if (abandoned !== undefined) return { ok: false, ...abandoned };
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
      return this.standing(op);
    } catch (err) {
      if (err instanceof StepFailure) return this.recordFailure(op, err.code, err.message);
      // A defect: still leave nothing behind, then answer 500.
      this.deps.log.error('register runtime defect', { game_id: op.gameId, op_id: op.opId, error: err });
      return this.recordFailure(op, 'internal_error', 'internal error');
    }
  }

  /**
   * An outer layer answered for this call without the operation's own
   * outcome: the handler's deadline guard (Middy, just before the Lambda
   * deadline) or a defect that escaped. The failure is audited here, now,
   * exactly once:
   * - the operation never started (or already finished): audited as a new
   *   operation, like `reject`, unless it audited its own outcome;
   * - it is still running: its abort signal fires (its store calls stop and
   *   it writes nothing more but its rollback), and the entry is written
   *   under its own op_id. The operation itself keeps running while the
   *   Lambda does (after Middy's answer the environment may be frozen, so
   *   the entry cannot wait for it), rolls back what it wrote, and finds the
   *   failure audited: no second entry, metric or line. Its commit cannot
   *   land after this entry either: the commit's success entry is put only
   *   if no entry with its op_id exists;
   * - it already decided its own failure (rolling back): that failure is
   *   the one audited, with its own code.
   * A committed registration stands: nothing is audited as a failure, and
   * the answer is the registration's 201. That includes a commit that
   * landed unseen just before this entry: the entry is then refused by the
   * operation's own success entry, which proves the commit landed.
   * A failure is answered with the outer layer's code (a defect's 500, the
   * guard's 503); the entry carries the operation's own code when it had
   * already decided one.
   */
  async abandon(call: RegisterCall, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
    const op = this.operations.get(call);
    if (op === undefined) return this.reject(call, code, message);
    op.abandoned.abort();
    if (op.committed) return this.standing(op);
    op.failure ??= { code, message };
    if (op.audited) return { ok: false, code, message };
    if ((await this.audit(op, op.failure.code, op.failure.message)) === 'stands') return this.standing(op);
    return { ok: false, code, message };
  }

  /**
   * Records a failure decided outside the lifecycle (an invalid
   * Idempotency-Key, a key that could not be taken): audited, counted and
   * logged like any other failure; nothing ran, so nothing rolls back.
   */
  async reject(call: RegisterCall, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
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
      failure: undefined,
      audited: false,
      committed: false,
      reported: false,
      commit: undefined,
      undone: false,
      inserted: false,
      mappingsWritten: false,
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

  /** 8+9+10. Mappings, the starting -> running compare-and-set with the initial scheduling, the success entry and the outbox item. */
  private async commitRunning(op: Operation, record: RuntimeRecord, mappings: PlayerMapping[], event: OutboxEvent): Promise<RuntimeRecord> {
    this.stillOwned(op);
    op.mappingsWritten = true;
    op.commit = { record, members: mappings.length };
    try {
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
    } catch (err) {
      // A refused condition did not land. Anything else may have: the
      // stream announces an outbox item as soon as its commit lands, so a
      // commit read back as landed stands. One whose outcome cannot be read
      // is rolled back, outbox item first (the spec's rule; a relay that
      // read the item before its delete may still announce it).
      if (err instanceof StepFailure && err.code === 'service_unavailable' && (await this.resolveLostCommit(op, record.game_id))) {
        this.deps.log.info('commit answer lost, but the commit landed: registration stands', { game_id: record.game_id, op_id: op.opId });
        return record;
      }
      throw err;
    }
    return record;
  }

  /**
   * A commit whose answer was lost: read the record back (consistent read).
   * True when it is `running` with this operation's id. A read that fails
   * too leaves the outcome unknown: false, and the rollback undoes it.
   */
  private async resolveLostCommit(op: Operation, gameId: string): Promise<boolean> {
    try {
      return await this.deps.records.commitLanded(gameId, op.opId, this.cleanupSignal(op));
    } catch (err) {
      this.deps.log.error('read-back of a lost commit failed; rolling back', { game_id: gameId, op_id: op.opId, error: err });
      return false;
    }
  }

  /**
   * The commit landed: the registration stands and answers 201 with the
   * record, counted and logged once (the operation itself and `abandon`
   * may both learn it).
   */
  private standing(op: Operation): RegisterOutcome {
    const commit = op.commit as NonNullable<Operation['commit']>;
    op.committed = true;
    if (!op.reported) this.reportSuccess(op, commit.record, commit.members);
    return { ok: true, record: commit.record };
  }

  private reportSuccess(op: Operation, record: RuntimeRecord, members: number): void {
    op.reported = true;
    try {
      this.deps.telemetry.registerOutcome('success', '');
      this.deps.log.info('runtime registered', {
        game_id: record.game_id,
        engine_version: record.current_engine_version,
        members,
        op_source: op.call.opSource,
        op_id: op.opId,
      });
    } catch (err) {
      this.deps.log.error('reporting a registration failed', { game_id: record.game_id, op_id: op.opId, error: err });
    }
  }

  /** Before a write: an abandoned operation writes nothing more (its rollback aside). */
  private stillOwned(op: Operation): void {
    if (op.abandoned.signal.aborted) {
      // Its answer and audit were given by `abandon`: this only drives the rollback.
      throw new StepFailure(op.failure?.code ?? 'service_unavailable', op.failure?.message ?? 'register runtime: abandoned');
    }
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
   * operation still cleans up, ending before the handler's deadline guard.
   */
  private cleanupSignal(op: Operation): AbortSignal {
    return AbortSignal.timeout(Math.min(CLEANUP_MAX_MS, Math.max(CLEANUP_MIN_MS, op.call.remainingTimeMs() - DEADLINE_GUARD_MS - 250)));
  }

  /**
   * The one failure path: roll back what this operation wrote (outbox item,
   * mappings, then the record it inserted), append the failure entry, count, log.
   * Rollback and audit get their own time budget, ending before the
   * handler's deadline guard; their failures are logged at error level and
   * never replace the original code. An operation abandoned meanwhile was
   * audited by `abandon`: it only rolls back.
   */
  private async recordFailure(op: Operation, code: RegisterErrorCode, message: string): Promise<RegisterOutcome> {
    // `abandon` found the commit landed meanwhile: it stands, nothing rolls back.
    if (op.committed) return this.standing(op);
    op.failure ??= { code, message };
    const signal = this.cleanupSignal(op);
    if (op.inserted) await this.rollback(op, signal);
    if (op.audited) {
      this.deps.log.info('register runtime rolled back after an outer layer answered for it', {
        game_id: op.gameId ?? UNIDENTIFIED_GAME,
        op_id: op.opId,
        error_code: code,
      });
      return { ok: false, code, message };
    }
    // The entry is refused by the operation's own success entry when its
    // commit landed unseen and the rollback could not undo it: then the
    // registration stands, and its answer is the 201.
    if ((await this.audit(op, code, message, signal)) === 'stands') return this.standing(op);
    return { ok: false, code, message };
  }

  /**
   * The failure entry, the outcome metric and the warning line: once per
   * operation. 'stands' when the entry was refused by the operation's own
   * success entry (its commit landed, and no rollback undid it): then
   * nothing is audited as a failure.
   */
  private async audit(op: Operation, code: RegisterErrorCode, message: string, signal?: AbortSignal): Promise<'failed' | 'stands'> {
    op.audited = true;
    try {
      const appended = await this.deps.operationLog.append(
        this.entry(op, 'failure', code, message, this.clock().toISOString()),
        signal ?? AbortSignal.timeout(CLEANUP_MIN_MS),
        { replaceOwnSuccess: op.undone },
      );
      if (appended === 'success_stands' && op.commit !== undefined) {
        op.audited = false;
        this.deps.log.error('register runtime: its commit landed and was not undone; the registration stands', {
          game_id: op.gameId ?? UNIDENTIFIED_GAME,
          op_id: op.opId,
          error_code: code,
        });
        return 'stands';
      }
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
    return 'failed';
  }

  private async rollback(op: Operation, signal: AbortSignal): Promise<void> {
    const gameId = op.gameId as string;
    if (op.mappingsWritten) {
      try {
        // The commit's outcome may still be unknown (answer lost, read-back
        // failed), or it may land late: first, in one transaction, delete
        // the outbox item (so the relay skips the event) and make the record
        // a marked, reclaimable `starting` one (so a late commit is refused,
        // and a rollback stopped halfway is found and finished by the
        // reconciler, outbox item included).
        await this.deps.committer.abandon(gameId, op.opId, this.clock().toISOString(), signal);
        op.undone = true;
        await this.deps.committer.deleteOwnedMappings(gameId, op.opId, signal);
      } catch (err) {
        // Keep the `starting` record: it is what lets the reconciler find
        // this operation's mappings (by op_id) and remove both later.
        // Deleting it now would orphan the mappings for good.
        this.deps.log.error('rollback player mappings failed; left for the reconciler', {
          game_id: gameId,
          op_id: op.opId,
          error: err,
        });
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
