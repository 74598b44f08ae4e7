import { randomBytes } from 'node:crypto';

export type OpSource = 'lobby_internal' | 'admin_rest' | 'reconciler';
export const KNOWN_OP_SOURCES: readonly string[] = ['lobby_internal', 'admin_rest', 'reconciler'];

/** Partition for requests that carry no usable game_id. */
export const UNIDENTIFIED_GAME = '_unidentified';

export interface OperationEntry {
  game_id: string;
  op_id: string;
  op_kind: 'register_runtime';
  op_source: OpSource;
  source_ref: string;
  outcome: 'success' | 'failure';
  error_code: string;
  error_message: string;
  started_at: string;
  finished_at: string;
}

export function fallbackOpSource(source: string): OpSource {
  return (KNOWN_OP_SOURCES.includes(source) ? source : 'admin_rest') as OpSource;
}

/**
 * An operation id: the start time (ISO-8601, so ids sort by time within a
 * game) followed by 80 random bits, so two operations started in the same
 * millisecond never share an id (and never overwrite each other's entry).
 */
export function newOpId(startedAt: Date): string {
  return `${startedAt.toISOString()}#${randomBytes(10).toString('hex')}`;
}
