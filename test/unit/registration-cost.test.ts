import { describe, expect, it } from 'vitest';
import {
  costPerMillion,
  formatCostTable,
  itemSize,
  type RegistrationProfile,
  requestUnits,
  totalUsd,
  US_EAST_1_LIST_PRICES,
} from '../../scripts/bench/registration-cost.ts';

const T = (role: string) => `game-master-bench-${role}`;
const mapping = (i: number) => ({ game_id: { S: 'g-1' }, user_id: { S: `u-${i}` }, race_name: { S: `Race ${i}` }, op_id: { S: 'op' } });

describe('registration cost', () => {
  it('sizes items by attribute names and values', () => {
    expect(itemSize({ a: { S: 'xyz' } })).toBe(4);
    expect(itemSize({ n: { N: '120.5' } })).toBe(1 + 3);
    expect(itemSize({ b: { BOOL: true } })).toBe(2);
  });

  it('counts a transactional write double, per started KB of a Put', () => {
    const big = { event_id: { S: 'e' }, detail: { S: 'x'.repeat(40 * 1024) } };
    const units = requestUnits({
      op: 'TransactWriteItems',
      body: JSON.stringify({
        TransactItems: [
          { Put: { TableName: T('player-mappings'), Item: mapping(1) } },
          { Put: { TableName: T('player-mappings'), Item: mapping(2) } },
          { Update: { TableName: T('runtime-records'), Key: {} } },
          { ConditionCheck: { TableName: T('runtime-records'), Key: {} } },
          { Put: { TableName: T('outbox'), Item: big } },
        ],
      }),
    });
    expect(units.get(T('player-mappings'))).toEqual({ write: 4, read: 0 });
    expect(units.get(T('runtime-records'))).toEqual({ write: 4, read: 0 });
    expect(units.get(T('outbox'))).toEqual({ write: 2 * 41, read: 0 });
  });

  it('counts reads by consistency and plain writes once', () => {
    const read = requestUnits({
      op: 'BatchGetItem',
      body: JSON.stringify({ RequestItems: { [T('runtime-records')]: { Keys: [{}], ConsistentRead: true }, [T('engine-versions')]: { Keys: [{}] } } }),
    });
    expect(read.get(T('runtime-records'))).toEqual({ write: 0, read: 1 });
    expect(read.get(T('engine-versions'))).toEqual({ write: 0, read: 0.5 });
    expect(requestUnits({ op: 'PutItem', body: JSON.stringify({ TableName: T('idempotency'), Item: { id: { S: 'k' } } }) }).get(T('idempotency'))).toEqual({ write: 1, read: 0 });
    expect(() => requestUnits({ op: 'Scan', body: '{}' })).toThrow(/no unit rule/);
  });

  it('prices a million registrations by service', () => {
    const profile: RegistrationProfile = {
      label: '2 members',
      registerRequests: [
        { op: 'PutItem', body: JSON.stringify({ TableName: T('runtime-records'), Item: { game_id: { S: 'g-1' } } }) },
        { op: 'TransactWriteItems', body: JSON.stringify({ TransactItems: [{ Update: { TableName: T('runtime-records') } }] }) },
      ],
      registerMs: 99.2,
      registerMemoryMb: 512,
      relayRequests: [{ op: 'BatchGetItem', body: JSON.stringify({ RequestItems: { [T('outbox')]: { Keys: [{}], ConsistentRead: true } } }) }],
      relayMs: 10,
      relayMemoryMb: 256,
      relayInvocations: 1,
      eventEntryBytes: 70_000,
    };
    const lines = costPerMillion(profile);
    const by = (s: string) => lines.find((l) => l.service.startsWith(s));
    expect(by('Lambda requests')?.quantity).toBe(2e6);
    // 100 ms (billed by the started ms) at 0.5 GB: 0.05 GB-s each.
    expect(by('Lambda registerRuntime')?.quantity).toBeCloseTo(0.05e6);
    expect(by('DynamoDB runtime-records writes')).toMatchObject({ quantity: 3e6, unit: 'WRU' });
    expect(by('DynamoDB runtime-records writes')?.usd).toBeCloseTo(3 * 0.625);
    expect(by('DynamoDB outbox reads')).toMatchObject({ quantity: 1e6, unit: 'RRU' });
    expect(by('EventBridge events')?.quantity).toBe(2e6);
    expect(by('DynamoDB Streams')?.usd).toBe(0);
    expect(totalUsd(lines)).toBeCloseTo(lines.reduce((n, l) => n + l.usd, 0));
    const table = formatCostTable([profile, { ...profile, label: '500 members' }]);
    expect(table).toContain('| per million registrations | 2 members | 500 members |');
    expect(table).toContain(US_EAST_1_LIST_PRICES.takenOn);
  });
});
