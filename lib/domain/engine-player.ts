/** A player as the engine's /admin/init answers it (shape checked by the engine client). */
export interface EngineInitPlayer {
  race_name: string;
  engine_player_uuid: string;
  planets: number;
  population: number;
}
