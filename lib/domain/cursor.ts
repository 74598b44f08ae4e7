/**
 * Page cursors of the listing routes: opaque to the caller, and usable only
 * for the listing (route, game where there is one, and the query's filter
 * where there is one) they were issued for.
 *
 * A cursor is `base64url(JSON {v, r, g, k[, f]})` `.` `base64url(SHA-256(domain
 * string))`, where the domain string separates this use (a fixed prefix)
 * from the scope and the payload. Decoding refuses, without any store
 * request:
 * - anything that is not two base64url parts of sane length (garbage,
 *   truncated),
 * - a digest that does not match (altered),
 * - a payload whose route, game or filter differs from the request's (foreign),
 * - a continuation key (`k`) the caller's shape rule rejects.
 *
 * Why a digest and not a keyed signature: every caller of these routes may
 * read every game, so a forged cursor could only start a listing of the
 * same game at another key of the same shape, which reveals nothing the
 * caller could not read anyway. The digest catches accidents (a cursor cut
 * or edited in transit); the binding and the shape rule are what keep a
 * cursor from reading another game's entries or handing the store a key it
 * never issued.
 */
import { createHash } from 'node:crypto';

/** What a cursor is bound to: the route, the game for per-game listings, the filter for filtered ones. */
export interface CursorScope {
  route: string;
  gameId?: string;
  /**
   * The listing's filter as one string (e.g. `status=starting&older_than_s=0`):
   * a cursor issued under another filter would skip or repeat entries.
   */
  filter?: string;
}

const VERSION = 1;
const DOMAIN = 'gamemaster.page-cursor.v1';
/** Longer than any cursor this module issues (a key is at most a few hundred characters). */
const MAX_CURSOR_LENGTH = 2048;
const SHAPE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;

function digest(scope: CursorScope, payload: string): string {
  // NUL separators: no route, game id or JSON text contains one, so two
  // different (scope, payload) pairs never hash the same string.
  // A filter adds a field; without one the string is what it always was,
  // so cursors issued before filters existed still decode.
  const filter = scope.filter === undefined ? '' : `\u0000f:${scope.filter}`;
  return createHash('sha256')
    .update(`${DOMAIN}\u0000${scope.route}\u0000${scope.gameId ?? ''}${filter}\u0000${payload}`)
    .digest('base64url');
}

/** A cursor continuing after `after` (a store key) in this scope. */
export function encodeCursor(scope: CursorScope, after: string): string {
  const payload = JSON.stringify({ v: VERSION, r: scope.route, g: scope.gameId ?? null, k: after, ...(scope.filter === undefined ? {} : { f: scope.filter }) });
  return `${Buffer.from(payload, 'utf8').toString('base64url')}.${digest(scope, payload)}`;
}

/**
 * The continuation key of a cursor issued for this scope, or undefined when
 * the cursor was not (altered, truncated, foreign, garbage, or a key that
 * fails `keyIsValid`). Never throws.
 */
export function decodeCursor(scope: CursorScope, cursor: string, keyIsValid: (key: string) => boolean): string | undefined {
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) return undefined;
  const match = SHAPE.exec(cursor);
  if (match === null) return undefined;
  const payload = Buffer.from(match[1] as string, 'base64url').toString('utf8');
  // Re-encoding must give back the same text: no ignored padding bits, no
  // replacement characters from invalid UTF-8.
  if (Buffer.from(payload, 'utf8').toString('base64url') !== match[1]) return undefined;
  if (digest(scope, payload) !== match[2]) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { v, r, g, k, f } = parsed as Record<string, unknown>;
  if (v !== VERSION || r !== scope.route || g !== (scope.gameId ?? null) || f !== scope.filter) return undefined;
  if (typeof k !== 'string' || !keyIsValid(k)) return undefined;
  return k;
}
