/**
 * Environment -> typed, validated configuration. Read once at cold start:
 * a missing or malformed variable fails the cold start with a message that
 * names it, not a request later.
 */
import { isIP } from 'node:net';

export interface Config {
  tables: Record<TableKey, string>;
  eventBusName: string;
  engineAllowedHosts: string[];
  engineTimeoutMs: number;
  engineAllowLoopback: boolean;
  idempotencyTtlS: number;
  startingTimeoutS: number;
  /** Life of an outbox item (its TTL), seconds: how long a dead-lettered event can still be re-sent. */
  outboxTtlS: number;
}

/** The environment variable that names each table. */
export const TABLE_ENV = {
  runtimeRecords: 'RUNTIME_RECORDS_TABLE',
  engineVersions: 'ENGINE_VERSIONS_TABLE',
  playerMappings: 'PLAYER_MAPPINGS_TABLE',
  operationLog: 'OPERATION_LOG_TABLE',
  idempotency: 'IDEMPOTENCY_TABLE',
  outbox: 'OUTBOX_TABLE',
} as const;

export type TableKey = keyof typeof TABLE_ENV;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Time kept back from the Lambda's remaining time for the rollback. */
export const ROLLBACK_RESERVE_MS = 2000;

/**
 * How long before the Lambda deadline the register handler's guard (Middy's
 * timeoutEarlyInMillis) answers 503 for a call still running: time for the
 * guard to write the failure entry. Less than the rollback reserve, so the
 * use case's own bounds answer first whenever they can.
 */
export const DEADLINE_GUARD_MS = 1000;

type Env = Record<string, string | undefined>;

/** A host name glob, or a bracketed IPv6 glob. */
const HOST_GLOB = /^(?:[A-Za-z0-9*._-]+|\[[0-9A-Fa-f:.*]+\])$/;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0 || !Number.isSafeInteger(Number(raw))) {
    throw new ConfigError(`environment variable ${name} must be a positive integer, got "${raw}"`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`environment variable ${name} must be "true" or "false", got "${env[name]}"`);
}

export function loadConfig(env: Env = process.env): Config {
  const hosts = (env.ENGINE_ALLOWED_HOSTS ?? 'galaxy-game-*')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  if (hosts.length === 0) throw new ConfigError('environment variable ENGINE_ALLOWED_HOSTS must name at least one host glob');
  for (const glob of hosts) {
    // A host glob only: a scheme, port or path would silently match nothing.
    if (!HOST_GLOB.test(glob) && isIP(glob) === 0) {
      throw new ConfigError(`environment variable ENGINE_ALLOWED_HOSTS: "${glob}" is not a host glob (letters, digits, . - _ and *, or an IP address; no scheme, port or path)`);
    }
  }
  return {
    tables: {
      runtimeRecords: required(env, TABLE_ENV.runtimeRecords),
      engineVersions: required(env, TABLE_ENV.engineVersions),
      playerMappings: required(env, TABLE_ENV.playerMappings),
      operationLog: required(env, TABLE_ENV.operationLog),
      idempotency: required(env, TABLE_ENV.idempotency),
      outbox: required(env, TABLE_ENV.outbox),
    },
    eventBusName: required(env, 'EVENT_BUS_NAME'),
    engineAllowedHosts: hosts,
    engineTimeoutMs: positiveInt(env, 'ENGINE_TIMEOUT_MS', 10_000),
    engineAllowLoopback: bool(env, 'ENGINE_ALLOW_LOOPBACK', false),
    idempotencyTtlS: positiveInt(env, 'IDEMPOTENCY_TTL_S', 86_400),
    startingTimeoutS: positiveInt(env, 'STARTING_TIMEOUT_S', 120),
    outboxTtlS: positiveInt(env, 'OUTBOX_TTL_S', 604_800),
  };
}
