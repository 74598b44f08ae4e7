/**
 * The `runtime_snapshot_update` event: its name, source and detail schema in
 * one place, and the builder that turns a registered runtime into it.
 * Lobby consumes this event; change its shape only additively.
 */
import type { EngineInitPlayer } from './engine-player.ts';
import type { PlayerMapping, RuntimeRecord } from './runtime-record.ts';

export const SNAPSHOT_EVENT = {
  /** EventBridge `Source` of every event Game Master publishes. */
  source: 'galaxy.gamemaster',
  /** EventBridge `DetailType`; also the `event_type` metric dimension. */
  detailType: 'runtime_snapshot_update',
} as const;

/** The event's Detail (without event_id, which is the operation's id). */
export interface RuntimeSnapshotUpdate {
  game_id: string;
  current_turn: number;
  runtime_status: string;
  engine_health_summary: string;
  occurred_at: string;
  player_turn_stats: { user_id: string; planets: number; population: number }[];
}

export type SnapshotEventType = typeof SNAPSHOT_EVENT.detailType;

export type PlayerTurnStat = RuntimeSnapshotUpdate['player_turn_stats'][number];

/**
 * The detail of an update, with its keys (and each player entry's keys) in
 * contract order and nothing else, whatever order or extra properties the
 * input carries: the JSON sent is the contract, byte for byte.
 */
export function snapshotDetail(update: RuntimeSnapshotUpdate): RuntimeSnapshotUpdate {
  return {
    game_id: update.game_id,
    current_turn: update.current_turn,
    runtime_status: update.runtime_status,
    engine_health_summary: update.engine_health_summary,
    occurred_at: update.occurred_at,
    player_turn_stats: update.player_turn_stats.map((s) => ({
      user_id: s.user_id,
      planets: s.planets,
      population: s.population,
    })),
  };
}

export interface SnapshotSource {
  /** The record as stored after the commit. */
  record: Pick<RuntimeRecord, 'game_id' | 'current_turn' | 'status' | 'engine_health'>;
  /** The roster's mappings (user -> race). */
  mappings: readonly Pick<PlayerMapping, 'user_id' | 'race_name'>[];
  /** The engine's players, already checked against the roster. */
  players: readonly Pick<EngineInitPlayer, 'race_name' | 'planets' | 'population'>[];
  /** When the operation started (ISO 8601, UTC). */
  occurredAt: string;
}

/**
 * One player_turn_stats entry per member (engine players joined to the
 * roster by race name), sorted by user_id in code-unit order, like the Go
 * original's `sort.Slice(... UserID < ...)` and unlike localeCompare.
 */
export function buildSnapshotUpdate(source: SnapshotSource): RuntimeSnapshotUpdate {
  const userByRace = new Map(source.mappings.map((m) => [m.race_name, m.user_id]));
  const stats: PlayerTurnStat[] = [];
  for (const player of source.players) {
    const userId = userByRace.get(player.race_name);
    // The roster check ran before; a race outside it has no member to report.
    if (userId === undefined) continue;
    stats.push({ user_id: userId, planets: player.planets, population: player.population });
  }
  stats.sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  return {
    game_id: source.record.game_id,
    current_turn: source.record.current_turn,
    runtime_status: source.record.status,
    engine_health_summary: source.record.engine_health,
    occurred_at: source.occurredAt,
    player_turn_stats: stats,
  };
}

/**
 * The Detail as sent: `event_id` (the registration's op_id, the same for
 * every delivery, so a consumer can drop a duplicate) first, then the
 * update's fields in contract order. Built once, stored in the outbox as
 * this exact string, and sent byte for byte by the relay.
 */
export function snapshotDetailJson(eventId: string, update: RuntimeSnapshotUpdate): string {
  return JSON.stringify({ event_id: eventId, ...snapshotDetail(update) });
}

/** One outbox item: the event as it will be sent, written by the commit transaction. */
export interface OutboxEvent {
  /** The key: the registration's op_id. */
  event_id: string;
  game_id: string;
  detail_type: SnapshotEventType;
  /** The exact Detail string PutEvents will carry. */
  detail: string;
  /** ISO-8601 UTC: when the event was put (the start of its delivery lag). */
  created_at: string;
  /** TTL, epoch seconds. */
  expiration: number;
}

/** The outbox item of a registration's snapshot update, kept `ttlS` seconds after `createdAt`. */
export function outboxEvent(eventId: string, update: RuntimeSnapshotUpdate, createdAt: Date, ttlS: number): OutboxEvent {
  return {
    event_id: eventId,
    game_id: update.game_id,
    detail_type: SNAPSHOT_EVENT.detailType,
    detail: snapshotDetailJson(eventId, update),
    created_at: createdAt.toISOString(),
    expiration: Math.floor(createdAt.getTime() / 1000) + ttlS,
  };
}
