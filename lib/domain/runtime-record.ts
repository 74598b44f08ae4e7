/** Runtime record as the contract shows it (response body and table item). */
export type RuntimeStatus = 'starting' | 'running';

export interface RuntimeRecord {
  game_id: string;
  status: RuntimeStatus;
  engine_endpoint: string;
  current_image_ref: string;
  current_engine_version: string;
  turn_schedule: string;
  current_turn: number;
  next_generation_at: string | null;
  skip_next_tick: boolean;
  engine_health: string;
  created_at: string;
  updated_at: string;
}

/** Keys of the public record, in contract order: what the response body holds. */
export const RUNTIME_RECORD_FIELDS = [
  'game_id',
  'status',
  'engine_endpoint',
  'current_image_ref',
  'current_engine_version',
  'turn_schedule',
  'current_turn',
  'next_generation_at',
  'skip_next_tick',
  'engine_health',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof RuntimeRecord)[];

/** Projects a stored item (which carries bookkeeping attributes) onto the public record. */
export function toPublicRecord(item: Record<string, unknown>): RuntimeRecord {
  const out: Record<string, unknown> = {};
  for (const field of RUNTIME_RECORD_FIELDS) out[field] = item[field] ?? null;
  return out as unknown as RuntimeRecord;
}

export interface PlayerMapping {
  game_id: string;
  user_id: string;
  race_name: string;
  engine_player_uuid: string;
  created_at: string;
}
