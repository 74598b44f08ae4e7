/**
 * The interfaces the use cases need. Adapters in lib/adapters implement
 * them; the use cases never import an adapter or an SDK.
 */
import type { EngineInitPlayer } from './domain/engine-player.ts';
import type { EngineErrorCode } from './domain/errors.ts';
import type { OperationEntry } from './domain/operation.ts';
import { failed, type Outcome } from './domain/outcome.ts';
import type { EngineVersion } from './domain/engine-version.ts';
import type { PlayerMapping, RuntimePlayer, RuntimeRecord } from './domain/runtime-record.ts';
import type { StoredOutboxItem } from './domain/outbox-item.ts';
import type { OutboxEvent, SnapshotEventType } from './domain/snapshot-event.ts';

/** A store request failed for a reason other than a refused condition. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/**
 * A read or admin use case's store work: a store request that failed is
 * `service_unavailable` (its message names the step, never SDK text);
 * anything else is a defect and is thrown on.
 */
export async function storeOutcome<T>(run: () => Promise<Outcome<T>>): Promise<Outcome<T>> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof StoreUnavailableError) return failed('service_unavailable', err.message);
    throw err;
  }
}

/** A conditional write was refused: the row exists, or is not the one we expected. */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
}

export interface RuntimeRecordStore {
  /** Inserts the `starting` record; StoreConflictError when one exists. */
  insertStarting(record: RuntimeRecord, opId: string, signal?: AbortSignal): Promise<void>;
  /** Deletes the record only if it still carries opId (proof it is ours). */
  deleteOwned(gameId: string, opId: string, signal?: AbortSignal): Promise<void>;
}


/** One page of a listing; `after` continues it, undefined on the last page. */
export interface Page<T> {
  items: T[];
  after: string | undefined;
}

/** What the runtime read route needs; strongly consistent reads only. */
export interface RuntimeReader {
  /** The record as the contract shows it (internal attributes dropped), or undefined. */
  record(gameId: string): Promise<RuntimeRecord | undefined>;
  /** Every player mapping of the game (all pages), ordered by user_id. */
  players(gameId: string): Promise<RuntimePlayer[]>;
  /**
   * Records still `starting` whose created_at is at most `createdAtUpTo`,
   * oldest first (ties by game_id), strictly after `after`; at most
   * `limit` of them. Found through the sparse index of `starting` records
   * (never a scan), each confirmed by a strongly consistent read of the
   * record (the index lags). `after` of the answer continues the listing,
   * undefined when nothing is left; a page may be shorter than `limit`.
   */
  startingRecords(query: { createdAtUpTo: string; after: StartingKey | undefined; limit: number }): Promise<{
    items: StartingRecordView[];
    after: StartingKey | undefined;
  }>;
}

/** A position in the listing of `starting` records: its order is (created_at, game_id). */
export interface StartingKey {
  created_at: string;
  game_id: string;
}

/** A `starting` record as the listing shows it, before its age is computed. */
export type StartingRecordView = RuntimeRecord & { reclaim_started_at: string | null };

export interface OperationLogReader {
  /**
   * Up to `limit` entries of the game, newest first, starting after the
   * entry whose op_id is `after`; `after` of the page is the op_id to
   * continue from.
   */
  newestFirst(gameId: string, limit: number, after?: string): Promise<Page<OperationEntry>>;
}

/** The engine-version registry as its admin routes see it. */
export interface EngineVersionRegistry {
  get(version: string): Promise<EngineVersion | undefined>;
  /** Writes the version unless it exists; when it does, the stored item, unchanged. */
  create(item: EngineVersion): Promise<{ created: true } | { created: false; existing: EngineVersion }>;
  /** Up to `limit` versions, in the store's order, after the version `after`. */
  page(limit: number, after?: string): Promise<Page<EngineVersion>>;
}

/** What steps 1 and 2 of a registration read. */
export interface RecordAndVersion {
  /**
   * A runtime record for the game exists. Undefined when it was not read:
   * the version was already known, and the conditional insert answers for
   * the record (a refused insert is `conflict`: steps 1 and 3 are one
   * request then).
   */
  recordExists: boolean | undefined;
  /** The version's image_ref; undefined when the version is not registered. */
  imageRef: string | undefined;
}

/**
 * Steps 1 and 2 of a registration read together: the record's existence
 * and the version's image_ref in one request in a fresh environment; a
 * version already resolved is answered from memory (versions are
 * immutable), a version not found is never remembered.
 */
export interface RegistrationReads {
  read(gameId: string, version: string, signal?: AbortSignal): Promise<RecordAndVersion>;
}

export interface OperationLogStore {
  /** Appends the entry (never over another entry of the same operation). */
  append(entry: OperationEntry, signal?: AbortSignal): Promise<void>;
}

export interface CommitRegistration {
  opId: string;
  gameId: string;
  mappings: readonly PlayerMapping[];
  /** Fields written by the starting -> running compare-and-set. */
  running: { next_generation_at: string | null; updated_at: string };
  /** Success audit entry, written inside the commit transaction. */
  successEntry: OperationEntry;
  /** The snapshot event, put into the outbox inside the commit transaction. */
  outbox: OutboxEvent;
}

export interface RegistrationCommitter {
  /**
   * Writes the mappings, flips the record starting -> running (only if it is
   * still this operation's, unmarked record), appends the success entry and
   * puts the outbox item, all in one transaction when the roster fits, else mapping chunks first
   * (each conditional on the same unmarked record) and the rest in a final
   * transaction. On failure, chunks already written stay for the caller's
   * rollback (after the fence: deleteOwnedMappings) to remove.
   * StoreConflictError: a mapping exists or the compare-and-set was refused.
   * StoreUnavailableError: anything else.
   */
  commit(input: CommitRegistration, signal?: AbortSignal): Promise<void>;
  /**
   * Settles an attempted commit before anything of it is undone: one
   * conditional write on the record that DynamoDB orders against the
   * commit (it requires the record `starting` under opId and marks it, and
   * every commit transaction refuses a marked record). 'fenced': the
   * commit did not land and never will; 'landed': the record is `running`
   * under opId. Touches nothing else (the outbox table least of all).
   * StoreUnavailableError: no verdict (the outcome stays unknown).
   */
  fence(gameId: string, opId: string, now: string, signal?: AbortSignal): Promise<'fenced' | 'landed'>;
  /** Deletes the mappings of the game that carry opId (never another operation's). */
  deleteOwnedMappings(gameId: string, opId: string, signal?: AbortSignal): Promise<void>;
}

export interface StartingRecordRef {
  game_id: string;
  op_id: string;
  created_at: string;
}

/** What the reconciler needs: find, mark, and remove abandoned `starting` records. */
export interface StartingRecordReclaimer {
  /** `starting` records created before `cutoff` (ISO-8601), through the sparse index. */
  findStartingBefore(cutoff: string): Promise<StartingRecordRef[]>;
  /** The created_at of the oldest `starting` record (one index entry), undefined when there is none. */
  oldestStartingCreatedAt(): Promise<string | undefined>;
  /**
   * Marks the record as being reclaimed, only if it is still that same
   * `starting` record (same op_id). False when it completed or is gone.
   */
  markReclaiming(ref: StartingRecordRef, now: string): Promise<boolean>;
  /** Deletes the game's mappings that carry op_id. */
  deleteOwnedMappings(gameId: string, opId: string): Promise<void>;
  /**
   * Deletes the marked record (only if it still carries op_id and the mark)
   * and appends the audit entry, in one transaction. False when the record
   * was already gone (someone else finished it).
   */
  deleteMarkedWithEntry(ref: StartingRecordRef, entry: OperationEntry): Promise<boolean>;
}

/** The engine refused or failed the init call; the message never holds raw socket text. */
export class EngineCallError extends Error {
  override readonly name = 'EngineCallError';
  constructor(
    readonly code: EngineErrorCode | 'engine_address_refused',
    message: string,
  ) {
    super(message);
  }
}

export interface EngineClient {
  /**
   * POST {endpoint}/admin/init with the races in roster order. Resolves to the
   * engine's players (shape checked); rejects with EngineCallError.
   */
  init(endpoint: string, races: readonly string[], options: { timeoutMs: number }): Promise<EngineInitPlayer[]>;
}

/** What the relay reads: the outbox items that still exist. */
export interface OutboxReader {
  /**
   * Reads the items of `eventIds` (consistent reads). `found`: the items
   * that exist; `unread`: keys whose read did not complete (retry later).
   * A key in neither is gone (expired, or deleted by hand). An item
   * is handed over as stored: its shape is the caller's to check.
   * StoreUnavailableError when the read failed as a whole.
   */
  read(eventIds: readonly string[], signal?: AbortSignal): Promise<{ found: Map<string, StoredOutboxItem>; unread: Set<string> }>;
}

/** One entry refused by the event bus (the request itself succeeded). */
export interface RefusedEntry {
  errorCode: string;
  errorMessage: string;
}

export interface EventSender {
  /**
   * Sends the events in one request (at most 10 entries and 256 KiB as
   * EventBridge counts them: cut them with planPutEvents first). Resolves with one result per event,
   * in order: undefined when accepted, the refusal otherwise. Rejects
   * when the request failed (nothing may be taken as delivered).
   */
  send(events: readonly Pick<OutboxEvent, 'detail_type' | 'detail'>[], signal?: AbortSignal): Promise<(RefusedEntry | undefined)[]>;
}

export interface Telemetry {
  registerOutcome(outcome: 'success' | 'failure', errorCode: string): void;
  eventPublished(eventType: SnapshotEventType): void;
  /** Milliseconds from the outbox item's created_at to its successful delivery. */
  eventDeliveryLag(eventType: SnapshotEventType, lagMs: number): void;
  /** The reconciler's gauge: seconds since the oldest `starting` record was created (0 when none). */
  oldestStartingAge(seconds: number): void;
}

/** The structured logger the use cases write to (Powertools Logger fits it). */
export interface Log {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}
