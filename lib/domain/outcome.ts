import type { ErrorCode } from './errors.ts';

/**
 * What a read or admin use case answers: a value (`created` when the call
 * made it), or a stable error code and message. The HTTP edge
 * (lib/http/responses.ts) turns it into an answer.
 */
export type Outcome<T> = { ok: true; value: T; created?: boolean } | { ok: false; code: ErrorCode; message: string };

export function failed(code: ErrorCode, message: string): { ok: false; code: ErrorCode; message: string } {
  return { ok: false, code, message };
}
