/**
 * Runtime reads: what Game Master holds for a game (its record and
 * players) and its operation log, for Lobby and operators.
 *
 * getRuntime
 *   Input: the `game_id` path parameter (as API Gateway hands it over, maybe missing).
 *   Output: the record exactly as the register route shows it, plus
 *   `players`; or invalid_request / runtime_not_found / service_unavailable.
 *   Steps: validateGameId -> readRecord (404 when none) -> readPlayers
 *   (only for a `running` record: a `starting` record's rows are not the
 *   game's yet) -> the answer.
 *
 * listOperations
 *   Input: `game_id` (or exactly `_unidentified`), the `limit` and `cursor`
 *   query parameters.
 *   Output: `{operations, next_cursor}`, newest first; or invalid_request /
 *   service_unavailable.
 *   Steps: validateGameId -> parseLimit -> decodeCursor (before any store
 *   request: a cursor not issued for this game never reaches the store) ->
 *   readPage -> encode the next cursor (null on the last page).
 *
 * listStarting (registrations by state)
 *   Input: the `status`, `older_than_s`, `limit` and `cursor` query parameters.
 *   Output: `{runtimes, next_cursor}`, oldest created_at first (ties by
 *   game_id), each entry the record plus `age_s` and `reclaim_started_at`;
 *   or invalid_request / service_unavailable.
 *   Steps: parseStatus -> parseOlderThan -> parseLimit -> decodeCursor
 *   (bound to the route, status and older_than_s) -> one page of the
 *   reconciler's sparse index, each record confirmed by a consistent read
 *   -> ages from one clock reading -> the next cursor.
 *
 * No record is needed to list operations: a failed registration leaves
 * entries but no record.
 */
import { decodeCursor, encodeCursor } from '../domain/cursor.ts';
import { type OperationEntry, UNIDENTIFIED_GAME } from '../domain/operation.ts';
import { failed, type Outcome } from '../domain/outcome.ts';
import { limitProblem, parseLimit } from '../domain/paging.ts';
import type { RuntimePlayer, RuntimeRecord } from '../domain/runtime-record.ts';
import { type OperationLogReader, type RuntimeReader, type StartingKey, type StartingRecordView, storeOutcome } from '../ports.ts';
import { goQuote, ID_RULE, isValidId } from '../register-runtime/validation.ts';

export type RuntimeView = RuntimeRecord & { players: RuntimePlayer[] };

export interface OperationsPage {
  operations: OperationEntry[];
  next_cursor: string | null;
}

export interface ListOperationsInput {
  gameId: string | undefined;
  limit: string | undefined;
  cursor: string | undefined;
}

/** The route a cursor of this listing is bound to. */
export const OPERATIONS_ROUTE = 'GET /internal/v1/runtimes/{game_id}/operations';
export const OPERATIONS_LIMIT = { min: 1, max: 100, default: 20 } as const;
/** The shape of an op_id a cursor may carry: printable ASCII, never empty, well under DynamoDB's key size. */
const OP_ID_KEY = /^[!-~]{1,256}$/;

/** The listing of registrations by state (served for `starting` only). */
export const STARTING_ROUTE = 'GET /internal/v1/runtimes';
export const STARTING_LIMIT = { min: 1, max: 100, default: 50 } as const;
/** `older_than_s`: whole seconds, 0 to one year. */
export const OLDER_THAN_MAX_S = 31_536_000;
/** A listing cursor's key: `<created_at>|<game_id>`, created_at as the store writes it (ISO 8601, milliseconds, UTC). */
const STARTING_KEY = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(.+)$/;

export type StartingEntry = RuntimeRecord & { age_s: number; reclaim_started_at: string | null };

export interface StartingPage {
  runtimes: StartingEntry[];
  next_cursor: string | null;
}

export interface ListStartingInput {
  status: string | undefined;
  olderThanS: string | undefined;
  limit: string | undefined;
  cursor: string | undefined;
}

export class ReadRuntime {
  private readonly clock: () => Date;

  constructor(private readonly deps: { records: RuntimeReader; operations: OperationLogReader; clock?: () => Date }) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async getRuntime(gameIdParam: string | undefined): Promise<Outcome<RuntimeView>> {
    const gameId = this.validateGameId(gameIdParam, false);
    if (!gameId.ok) return gameId;
    return storeOutcome(async () => {
      const record = await this.deps.records.record(gameId.value);
      if (record === undefined) return failed('runtime_not_found', `runtime record for ${goQuote(gameId.value)} not found`);
      const players = record.status === 'running' ? await this.readPlayers(gameId.value) : [];
      return { ok: true, value: { ...record, players } };
    });
  }

  async listOperations(input: ListOperationsInput): Promise<Outcome<OperationsPage>> {
    const gameId = this.validateGameId(input.gameId, true);
    if (!gameId.ok) return gameId;
    const limit = parseLimit(input.limit, OPERATIONS_LIMIT);
    if (limit === undefined) return failed('invalid_request', limitProblem(OPERATIONS_LIMIT));
    const scope = { route: OPERATIONS_ROUTE, gameId: gameId.value };
    let after: string | undefined;
    if (input.cursor !== undefined) {
      after = decodeCursor(scope, input.cursor, (key) => OP_ID_KEY.test(key));
      if (after === undefined) return failed('invalid_request', `cursor is not one this route issued for game ${goQuote(gameId.value)}`);
    }
    return storeOutcome(async () => {
      const page = await this.deps.operations.newestFirst(gameId.value, limit, after);
      return {
        ok: true,
        value: { operations: page.items, next_cursor: page.after === undefined ? null : encodeCursor(scope, page.after) },
      };
    });
  }

  async listStarting(input: ListStartingInput): Promise<Outcome<StartingPage>> {
    if (input.status !== 'starting') return failed('invalid_request', 'status must be "starting" (the only state this route lists)');
    const olderThanS = parseOlderThan(input.olderThanS);
    if (olderThanS === undefined) return failed('invalid_request', `older_than_s must be an integer from 0 to ${OLDER_THAN_MAX_S}`);
    const limit = parseLimit(input.limit, STARTING_LIMIT);
    if (limit === undefined) return failed('invalid_request', limitProblem(STARTING_LIMIT));
    const scope = { route: STARTING_ROUTE, filter: `status=starting&older_than_s=${olderThanS}` };
    let after: StartingKey | undefined;
    if (input.cursor !== undefined) {
      const key = decodeCursor(scope, input.cursor, (k) => parseStartingKey(k) !== undefined);
      after = key === undefined ? undefined : parseStartingKey(key);
      if (after === undefined) return failed('invalid_request', `cursor is not one this route issued for status "starting" and older_than_s ${olderThanS}`);
    }
    // One clock reading for the filter and every age of the answer.
    const now = this.clock();
    const createdAtUpTo = new Date(now.getTime() - olderThanS * 1000).toISOString();
    return storeOutcome(async () => {
      const page = await this.deps.records.startingRecords({ createdAtUpTo, after, limit });
      return {
        ok: true,
        value: {
          runtimes: page.items.map((view) => startingEntry(view, now)),
          next_cursor: page.after === undefined ? null : encodeCursor(scope, `${page.after.created_at}|${page.after.game_id}`),
        },
      };
    });
  }

  /** The path's game_id under the body's rule (and `_unidentified` where the log keeps requests without one). */
  private validateGameId(raw: string | undefined, allowUnidentified: boolean): { ok: true; value: string } | ReturnType<typeof failed> {
    if (typeof raw === 'string' && (isValidId(raw) || (allowUnidentified && raw === UNIDENTIFIED_GAME))) return { ok: true, value: raw };
    const rule = allowUnidentified ? `${ID_RULE}, or be exactly "${UNIDENTIFIED_GAME}"` : ID_RULE;
    return failed('invalid_request', `game_id ${rule}`);
  }

  /** Sorted by user_id (code-unit order; user ids are ASCII, so byte order too). */
  private async readPlayers(gameId: string): Promise<RuntimePlayer[]> {
    const players = await this.deps.records.players(gameId);
    return players.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  }
}

/** Absent -> 0; else a plain decimal integer from 0 to OLDER_THAN_MAX_S. */
function parseOlderThan(raw: string | undefined): number | undefined {
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^(0|[1-9][0-9]{0,7})$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= OLDER_THAN_MAX_S ? n : undefined;
}

function parseStartingKey(key: string): StartingKey | undefined {
  const match = STARTING_KEY.exec(key);
  if (match === null || !isValidId(match[2] as string) || Number.isNaN(Date.parse(match[1] as string))) return undefined;
  return { created_at: match[1] as string, game_id: match[2] as string };
}

/** The record in the register route's field order, then age_s and reclaim_started_at. */
function startingEntry(view: StartingRecordView, now: Date): StartingEntry {
  const { reclaim_started_at, ...record } = view;
  const created = Date.parse(record.created_at);
  const age = Number.isFinite(created) ? Math.max(0, Math.floor((now.getTime() - created) / 1000)) : 0;
  return { ...record, age_s: age, reclaim_started_at };
}
