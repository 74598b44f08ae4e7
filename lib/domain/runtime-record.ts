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
