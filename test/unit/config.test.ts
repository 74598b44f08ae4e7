import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.ts';

const REQUIRED = {
  RUNTIME_RECORDS_TABLE: 'records',
  ENGINE_VERSIONS_TABLE: 'versions',
  PLAYER_MAPPINGS_TABLE: 'mappings',
  OPERATION_LOG_TABLE: 'oplog',
  IDEMPOTENCY_TABLE: 'keys',
  OUTBOX_TABLE: 'outbox',
  EVENT_BUS_NAME: 'bus',
};

describe('Function: loadConfig', () => {
  it('applies the spec defaults', () => {
    const config = loadConfig(REQUIRED);
    expect(config).toMatchObject({
      engineAllowedHosts: ['galaxy-game-*'],
      engineTimeoutMs: 10_000,
      engineAllowLoopback: false,
      idempotencyTtlS: 86_400,
      startingTimeoutS: 120,
      outboxTtlS: 604_800,
      eventBusName: 'bus',
    });
    expect(config.tables).toEqual({ runtimeRecords: 'records', engineVersions: 'versions', playerMappings: 'mappings', operationLog: 'oplog', idempotency: 'keys', outbox: 'outbox' });
  });

  it.each(Object.keys(REQUIRED))('fails naming %s when it is missing', (name) => {
    const env: Record<string, string> = { ...REQUIRED };
    delete env[name];
    expect(() => loadConfig(env)).toThrow(new ConfigError(`environment variable ${name} is required`));
  });

  it.each([
    ['ENGINE_TIMEOUT_MS', 'ten'],
    ['ENGINE_TIMEOUT_MS', '-5'],
    ['IDEMPOTENCY_TTL_S', '0'],
    ['STARTING_TIMEOUT_S', '1.5'],
    ['OUTBOX_TTL_S', '0'],
    ['ENGINE_ALLOW_LOOPBACK', 'yes'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => loadConfig({ ...REQUIRED, [name]: value })).toThrow(name);
  });

  it('splits ENGINE_ALLOWED_HOSTS and reads the booleans and numbers', () => {
    const config = loadConfig({ ...REQUIRED, ENGINE_ALLOWED_HOSTS: ' galaxy-game-* , 127.0.0.1,[::1],localhost', ENGINE_ALLOW_LOOPBACK: 'TRUE', ENGINE_TIMEOUT_MS: '2500' });
    expect(config.engineAllowedHosts).toEqual(['galaxy-game-*', '127.0.0.1', '[::1]', 'localhost']);
    expect(config.engineAllowLoopback).toBe(true);
    expect(config.engineTimeoutMs).toBe(2500);
  });

  it.each(['galaxy-game-*:8080', 'http://galaxy-game-*', 'galaxy/game', 'a b', ' , '])('refuses the host glob list %j', (hosts) => {
    expect(() => loadConfig({ ...REQUIRED, ENGINE_ALLOWED_HOSTS: hosts })).toThrow('ENGINE_ALLOWED_HOSTS');
  });
});
