/**
 * What a registration costs, per million registrations, by service:
 * computed from what the bench measured (the DynamoDB requests each
 * function sent, as their wire bodies; Lambda durations; the events put).
 * Pure: no I/O, no clock. `npm run bench` prints the table; the unit test
 * is test/unit/registration-cost.test.ts.
 *
 * Units, as DynamoDB on-demand bills them:
 * - a write: one write request unit (WRU) per started KB of the item;
 *   UpdateItem, DeleteItem and a transaction's ConditionCheck are counted
 *   as one unit (every item they touch here is under 1 KB: a runtime
 *   record, a key's item);
 * - a transactional write (TransactWriteItems): twice that;
 * - a read: one read request unit (RRU) per started 4 KB of a strongly
 *   consistent read, half of one eventually consistent (every item read
 *   here is under 4 KB);
 * - stream reads: GetRecords calls made by a Lambda trigger are not billed;
 *   they are counted (one per relay invocation) and priced at 0.
 * EventBridge bills a custom event per started 64 KB of its entry.
 */

/**
 * Unit prices: AWS's published on-demand list prices for us-east-1, as
 * known on `takenOn` (DynamoDB's are those in force since its on-demand
 * price cut of 2024-11-01). List prices, without free tier, savings plans
 * or discounts: re-check them before quoting a figure.
 */
export const US_EAST_1_LIST_PRICES = {
  takenOn: '2026-12-05',
  region: 'us-east-1',
  /** Lambda, arm64: USD per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** Lambda: USD per request (0.20 per million). */
  lambdaRequest: 0.2 / 1e6,
  /** DynamoDB on-demand (Standard table class): USD per write request unit (0.625 per million). */
  dynamoWriteUnit: 0.625 / 1e6,
  /** DynamoDB on-demand: USD per read request unit (0.125 per million). */
  dynamoReadUnit: 0.125 / 1e6,
  /** DynamoDB Streams read requests made by a Lambda trigger: free. */
  streamReadRequest: 0,
  /** EventBridge custom events: USD per event of up to 64 KB (1.00 per million). */
  eventBridgeEvent: 1 / 1e6,
  /** API Gateway HTTP API: USD per request of up to 512 KB (1.00 per million, first 300 million a month). */
  httpApiRequest: 1 / 1e6,
} as const;

export type Prices = typeof US_EAST_1_LIST_PRICES;

/** One DynamoDB request as the proxy saw it: the operation and its JSON body. */
export interface DynamoRequest {
  op: string;
  body: string;
}

export interface TableUnits {
  write: number;
  read: number;
}

type AttributeValue = Record<string, unknown>;

/** DynamoDB's size of an attribute value, in bytes (its published sizing rules). */
export function valueSize(value: AttributeValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(v), 'utf8');
    case 'N': {
      const digits = String(v).replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
      return Math.ceil(Math.max(1, digits.length) / 2) + 1;
    }
    case 'B':
      return Buffer.from(String(v), 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (v as string[]).reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
    case 'NS':
      return (v as string[]).reduce((n, s) => n + valueSize({ N: s }), 0);
    case 'L':
      return 3 + (v as AttributeValue[]).reduce((n, e) => n + 1 + valueSize(e), 0);
    case 'M':
      return 3 + itemSize(v as Record<string, AttributeValue>) + Object.keys(v as object).length;
    default:
      return 0;
  }
}

/** DynamoDB's size of an item: its attribute names and values. */
export function itemSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((n, [name, value]) => n + Buffer.byteLength(name, 'utf8') + valueSize(value), 0);
}

const writeUnitsOf = (item: Record<string, AttributeValue> | undefined) => (item ? Math.max(1, Math.ceil(itemSize(item) / 1024)) : 1);

/** Request units one request consumes, per table. */
export function requestUnits(request: DynamoRequest): Map<string, TableUnits> {
  const units = new Map<string, TableUnits>();
  const add = (table: string, write: number, read: number) => {
    const u = units.get(table) ?? { write: 0, read: 0 };
    units.set(table, { write: u.write + write, read: u.read + read });
  };
  const body = JSON.parse(request.body) as Record<string, unknown>;
  const readUnit = (consistent: unknown) => (consistent === true ? 1 : 0.5);
  switch (request.op) {
    case 'PutItem':
      add(String(body.TableName), writeUnitsOf(body.Item as Record<string, AttributeValue>), 0);
      break;
    case 'UpdateItem':
    case 'DeleteItem':
      add(String(body.TableName), 1, 0);
      break;
    case 'GetItem':
      add(String(body.TableName), 0, readUnit(body.ConsistentRead));
      break;
    case 'BatchGetItem':
      for (const [table, spec] of Object.entries(body.RequestItems as Record<string, { Keys: unknown[]; ConsistentRead?: boolean }>)) {
        add(table, 0, spec.Keys.length * readUnit(spec.ConsistentRead));
      }
      break;
    case 'TransactWriteItems':
      for (const member of body.TransactItems as Record<string, { TableName: string; Item?: Record<string, AttributeValue> }>[]) {
        const [kind, spec] = Object.entries(member)[0] as [string, { TableName: string; Item?: Record<string, AttributeValue> }];
        add(spec.TableName, 2 * (kind === 'Put' ? writeUnitsOf(spec.Item) : 1), 0);
      }
      break;
    default:
      throw new Error(`registration-cost: no unit rule for ${request.op}`);
  }
  return units;
}

/** What the bench measured for one kind of registration (per registration). */
export interface RegistrationProfile {
  label: string;
  /** registerRuntime's DynamoDB requests. */
  registerRequests: DynamoRequest[];
  /** registerRuntime's measured duration (ms) and configured memory (MB). */
  registerMs: number;
  registerMemoryMb: number;
  /** publishSnapshots: its DynamoDB requests, duration, memory and invocations for this registration's event. */
  relayRequests: DynamoRequest[];
  relayMs: number;
  relayMemoryMb: number;
  relayInvocations: number;
  /** The event's entry size in bytes, as EventBridge counts it (Detail, Source, DetailType, 14 for Time). */
  eventEntryBytes: number;
}

export interface CostLine {
  service: string;
  /** Per million registrations. */
  quantity: number;
  unit: string;
  usd: number;
}

/** Table names end in their role (`game-master-<stage>-runtime-records`): the role is what the table shows. */
const tableRole = (table: string) => table.replace(/^.*?-(runtime-records|engine-versions|player-mappings|operation-log|idempotency|outbox)$/, '$1');

/** The cost of a million registrations of one profile, line by line. */
export function costPerMillion(profile: RegistrationProfile, prices: Prices = US_EAST_1_LIST_PRICES): CostLine[] {
  const M = 1e6;
  const gbSeconds = (ms: number, mb: number) => (Math.ceil(ms) / 1000) * (mb / 1024);
  const lines: CostLine[] = [];
  const line = (service: string, quantity: number, unit: string, price: number) => lines.push({ service, quantity, unit, usd: quantity * price });
  line('API Gateway HTTP API requests', M, 'requests', prices.httpApiRequest);
  line('Lambda requests (registerRuntime + publishSnapshots)', M * (1 + profile.relayInvocations), 'requests', prices.lambdaRequest);
  line(`Lambda registerRuntime (${profile.registerMemoryMb} MB, ${Math.ceil(profile.registerMs)} ms)`, M * gbSeconds(profile.registerMs, profile.registerMemoryMb), 'GB-s', prices.lambdaGbSecond);
  line(
    `Lambda publishSnapshots (${profile.relayMemoryMb} MB, ${Math.ceil(profile.relayMs)} ms)`,
    M * profile.relayInvocations * gbSeconds(profile.relayMs, profile.relayMemoryMb),
    'GB-s',
    prices.lambdaGbSecond,
  );
  const perTable = new Map<string, TableUnits>();
  for (const request of [...profile.registerRequests, ...profile.relayRequests]) {
    for (const [table, u] of requestUnits(request)) {
      const role = tableRole(table);
      const t = perTable.get(role) ?? { write: 0, read: 0 };
      perTable.set(role, { write: t.write + u.write, read: t.read + u.read });
    }
  }
  for (const [role, u] of [...perTable].sort(([a], [b]) => a.localeCompare(b))) {
    if (u.write > 0) line(`DynamoDB ${role} writes`, M * u.write, 'WRU', prices.dynamoWriteUnit);
    if (u.read > 0) line(`DynamoDB ${role} reads`, M * u.read, 'RRU', prices.dynamoReadUnit);
  }
  line('DynamoDB Streams reads (Lambda trigger: free)', M * profile.relayInvocations, 'GetRecords', prices.streamReadRequest);
  line('EventBridge events', M * Math.max(1, Math.ceil(profile.eventEntryBytes / 65536)), 'events', prices.eventBridgeEvent);
  return lines;
}

export const totalUsd = (lines: CostLine[]) => lines.reduce((n, l) => n + l.usd, 0);

const compact = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(n % 1e6 === 0 ? 0 : 2)} M` : n.toFixed(0));

/** The cost table, one column per profile, as Markdown. */
export function formatCostTable(profiles: RegistrationProfile[], prices: Prices = US_EAST_1_LIST_PRICES): string {
  const costs = profiles.map((p) => costPerMillion(p, prices));
  const services = [...new Set(costs.flatMap((ls) => ls.map((l) => l.service.replace(/ \(\d+ MB, \d+ ms\)$/, ''))))];
  const cell = (ls: CostLine[], service: string) => {
    const l = ls.find((x) => x.service.replace(/ \(\d+ MB, \d+ ms\)$/, '') === service);
    return l ? `${compact(l.quantity)} ${l.unit}: $${l.usd.toFixed(2)}` : '-';
  };
  const header = ['per million registrations', ...profiles.map((p) => p.label)];
  const out = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const s of services) out.push(`| ${s} | ${costs.map((ls) => cell(ls, s)).join(' | ')} |`);
  out.push(`| **total** | ${costs.map((ls) => `**$${totalUsd(ls).toFixed(2)}**`).join(' | ')} |`);
  out.push(
    '',
    `Durations: ${profiles.map((p) => `${p.label} register ${Math.ceil(p.registerMs)} ms, relay ${Math.ceil(p.relayMs)} ms`).join('; ')}.`,
    `Prices: ${prices.region} on-demand list prices as of ${prices.takenOn} (scripts/bench/registration-cost.ts); re-check before quoting.`,
  );
  return out.join('\n');
}
