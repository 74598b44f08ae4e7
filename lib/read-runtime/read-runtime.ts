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
 * No record is needed to list operations: a failed registration leaves
 * entries but no record.
 */
import { decodeCursor, encodeCursor } from '../domain/cursor.ts';
import { type OperationEntry, UNIDENTIFIED_GAME } from '../domain/operation.ts';
import { failed, type Outcome } from '../domain/outcome.ts';
import { limitProblem, parseLimit } from '../domain/paging.ts';
import type { RuntimePlayer, RuntimeRecord } from '../domain/runtime-record.ts';
import { type OperationLogReader, type RuntimeReader, storeOutcome } from '../ports.ts';
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

export class ReadRuntime {
  constructor(private readonly deps: { records: RuntimeReader; operations: OperationLogReader }) {}

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
