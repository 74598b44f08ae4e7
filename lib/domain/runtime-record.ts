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

export interface PlayerMapping {
  game_id: string;
  user_id: string;
  race_name: string;
  engine_player_uuid: string;
  created_at: string;
}

/** A player as the read route shows it. */
export type RuntimePlayer = Pick<PlayerMapping, 'user_id' | 'race_name' | 'engine_player_uuid'>;

/**
 * The fields of a runtime record the contract shows, in the register
 * route's order: the table item also carries internal attributes (op_id,
 * starting_marker, reclaim_started_at) that no answer may show.
 */
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

// Every field of RuntimeRecord is listed (a new field without an entry does not compile).
type Missing = Exclude<keyof RuntimeRecord, (typeof RUNTIME_RECORD_FIELDS)[number]>;
const _allListed: [Missing] extends [never] ? true : Missing = true;
void _allListed;
