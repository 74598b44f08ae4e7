/**
 * A loopback HTTP proxy in front of DynamoDB Local, for putting the store
 * at fault at a precise request:
 *
 * - holdIf: hold matching requests forever (until closed), so a test can
 *   kill a registration at a precise point: after some writes landed,
 *   before the next one;
 * - fault: answer matching requests with a fault instead of (or after)
 *   forwarding them: a DynamoDB-style 500 or throttling error, a dropped
 *   connection, a request forwarded and committed upstream whose answer is
 *   then dropped (the ambiguous case), or no answer at all.
 *
 * Requests are matched on their operation (X-Amz-Target) and body; see
 * `requestIs` for the usual predicates (operation, table, the commit
 * transaction carrying an `Update`).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface HeldRequest {
  target: string;
  body: string;
}

/** A request as the proxy saw it. */
export interface ProxiedRequest extends HeldRequest {
  /** The operation: the X-Amz-Target suffix (`PutItem`, `TransactWriteItems`, ...). */
  op: string;
  /** Every `TableName` in the body (one per member for a transaction). */
  tables: string[];
}

/**
 * - `internal-error`: HTTP 500, `InternalServerError` (the SDK retries it);
 * - `throttle`: HTTP 400, `ThrottlingException` (retried, with the throttling back-off);
 * - `provisioned-throughput`: HTTP 400, `ProvisionedThroughputExceededException` (idem);
 * - `transaction-conflict`: HTTP 400, `TransactionConflictException` (a single-item write that met a
 *   transaction in progress on its item: not applied, and not retried by the SDK);
 * - `drop`: the connection is destroyed, nothing forwarded, nothing answered;
 * - `commit-then-drop`: forwarded and answered upstream (the write lands), then
 *   the connection is destroyed before the caller sees the answer;
 * - `hang`: never forwarded, never answered (until the proxy closes);
 * - `delay`: forwarded and answered as usual, only late (`delayMs`): a slow store.
 *
 * With `delayMs`, every mode waits that long before acting (a slow 500, a
 * commit that lands late and whose answer is then lost, ...).
 */
export type FaultMode = 'internal-error' | 'throttle' | 'provisioned-throughput' | 'transaction-conflict' | 'drop' | 'commit-then-drop' | 'hang' | 'delay';

export interface FaultRule {
  match: (req: ProxiedRequest) => boolean;
  mode: FaultMode;
  /** Matching requests to let through untouched before faulting (default 0). */
  after?: number;
  /** How many matching requests to fault, after those (default: every one). */
  times?: number;
  /** Wait this long before applying the mode (default 0; `delay` without it is no delay). */
  delayMs?: number;
}

export interface Fault {
  /** Matching requests faulted so far. */
  readonly faulted: number;
  /** Matching requests seen so far (passed through or faulted). */
  readonly seen: number;
  /** Stops applying this rule. */
  remove(): void;
}

/** What happened to one request, in arrival order. */
export interface ProxyLogEntry extends ProxiedRequest {
  /** The fault applied, if any. */
  fault?: FaultMode;
  /** The status DynamoDB Local answered, when the request was forwarded and answered upstream. */
  upstreamStatus?: number;
  /**
   * The caller closed the connection before a request with no fault had its
   * answer (its request timeout on a slow DynamoDB Local, or an abort): an
   * answer lost that nobody planned.
   */
  callerGaveUp?: boolean;
}

export interface DynamoProxy {
  url: string;
  /** Requests matching this are never forwarded nor answered. */
  holdIf(predicate: ((req: HeldRequest) => boolean) | undefined): void;
  /** Resolves with the first request held after this call. */
  nextHeld(): Promise<HeldRequest>;
  /** Operations (X-Amz-Target suffix) forwarded so far, in order. */
  forwarded: string[];
  /** Adds a fault rule; the first active rule that matches a request applies. */
  fault(rule: FaultRule): Fault;
  /** Removes every fault rule. */
  clearFaults(): void;
  /** Every request not held, in arrival order, with its fault and upstream status. */
  requests: ProxyLogEntry[];
  /** Requests received and not yet answered, dropped or hung up on (held and hanging ones count until closed). */
  readonly inFlight: number;
  /** When the last request arrived (epoch ms; 0 before the first). */
  readonly lastArrivalAt: number;
  close(): Promise<void>;
}

const ERROR_TYPES = {
  'internal-error': { status: 500, type: 'InternalServerError' },
  throttle: { status: 400, type: 'ThrottlingException' },
  'provisioned-throughput': { status: 400, type: 'ProvisionedThroughputExceededException' },
  'transaction-conflict': { status: 400, type: 'TransactionConflictException' },
} as const;

/** Every `TableName` value in a JSON request body. */
function tablesIn(body: string): string[] {
  const names: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'TableName' && typeof v === 'string') names.push(v);
        else walk(v);
      }
    }
  };
  try {
    walk(JSON.parse(body));
  } catch {
    // not JSON: no tables
  }
  return names;
}

/** Predicate builder: every given condition must hold. */
export function requestIs(filter: {
  /** X-Amz-Target suffix, e.g. `PutItem`. */
  op?: string;
  /** A table the request touches. */
  table?: string;
  /** For TransactWriteItems: true for a transaction carrying an `Update` (the commit's compare-and-set), false for one without. */
  withUpdate?: boolean;
  /** A substring of the raw body. */
  bodyIncludes?: string;
}): (req: ProxiedRequest) => boolean {
  return (req) =>
    (filter.op === undefined || req.op === filter.op) &&
    (filter.table === undefined || req.tables.includes(filter.table)) &&
    (filter.withUpdate === undefined || req.body.includes('"Update"') === filter.withUpdate) &&
    (filter.bodyIncludes === undefined || req.body.includes(filter.bodyIncludes));
}

interface ActiveRule extends FaultRule {
  seen: number;
  faulted: number;
  removed: boolean;
}

export async function startDynamoProxy(upstream: string): Promise<DynamoProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let hold: ((req: HeldRequest) => boolean) | undefined;
  let waiters: ((req: HeldRequest) => void)[] = [];
  const forwarded: string[] = [];
  const requests: ProxyLogEntry[] = [];
  let rules: ActiveRule[] = [];
  let inFlight = 0;
  let lastArrivalAt = 0;

  /** The rule that faults this request, counting it against every rule it matches up to that one. */
  const ruleFor = (req: ProxiedRequest): ActiveRule | undefined => {
    for (const rule of rules) {
      if (rule.removed || !rule.match(req)) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.after ?? 0)) continue;
      if (rule.faulted >= (rule.times ?? Number.POSITIVE_INFINITY)) continue;
      rule.faulted += 1;
      return rule;
    }
    return undefined;
  };

  const forward = (req: IncomingMessage, body: Buffer, entry: ProxyLogEntry, onAnswer: (up: IncomingMessage) => void) => {
    forwarded.push(entry.op);
    const upstreamReq = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        entry.upstreamStatus = up.statusCode;
        onAnswer(up);
      },
    );
    upstreamReq.on('error', () => req.socket.destroy());
    upstreamReq.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    lastArrivalAt = Date.now();
    let counted = true;
    const settle = () => {
      if (counted) inFlight -= 1;
      counted = false;
    };
    res.on('close', settle);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const held: HeldRequest = { target: String(req.headers['x-amz-target'] ?? ''), body: body.toString('utf8') };
      if (hold?.(held)) {
        const w = waiters;
        waiters = [];
        for (const resolve of w) resolve(held);
        return; // never answered
      }
      const seen: ProxiedRequest = { ...held, op: held.target.split('.').pop() ?? '', tables: tablesIn(held.body) };
      const entry: ProxyLogEntry = { ...seen };
      requests.push(entry);
      const rule = ruleFor(seen);
      if (rule === undefined) {
        res.on('close', () => {
          if (!res.writableFinished) entry.callerGaveUp = true;
        });
        forward(req, body, entry, (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        });
        return;
      }
      entry.fault = rule.mode;
      const apply = () => {
        switch (rule.mode) {
          case 'internal-error':
          case 'throttle':
          case 'provisioned-throughput':
          case 'transaction-conflict': {
            const { status, type } = ERROR_TYPES[rule.mode];
            const payload = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'injected' });
            res.writeHead(status, {
              'content-type': 'application/x-amz-json-1.0',
              'content-length': Buffer.byteLength(payload),
              'x-amzn-requestid': `injected-${requests.length}`,
            });
            res.end(payload);
            return;
          }
          case 'drop':
            req.socket.destroy();
            return;
          case 'commit-then-drop':
            // Let DynamoDB Local apply the request and answer in full, then
            // drop the connection: the caller never learns that it landed.
            forward(req, body, entry, (up) => {
              up.resume();
              up.on('end', () => req.socket.destroy());
            });
            return;
          case 'delay':
            forward(req, body, entry, (up) => {
              res.writeHead(up.statusCode ?? 500, up.headers);
              up.pipe(res);
            });
            return;
          case 'hang':
            return; // never answered
        }
      };
      const delayMs = rule.delayMs ?? 0;
      if (delayMs > 0) {
        // A caller that gives up (request timeout) closes the connection: nothing is forwarded then.
        const timer = setTimeout(() => {
          if (!res.destroyed) apply();
        }, delayMs);
        res.on('close', () => clearTimeout(timer));
      } else {
        apply();
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    requests,
    get inFlight() {
      return inFlight;
    },
    get lastArrivalAt() {
      return lastArrivalAt;
    },
    holdIf(predicate) {
      hold = predicate;
    },
    nextHeld() {
      return new Promise((resolve) => waiters.push(resolve));
    },
    fault(rule) {
      const active: ActiveRule = { ...rule, seen: 0, faulted: 0, removed: false };
      rules.push(active);
      return {
        get faulted() {
          return active.faulted;
        },
        get seen() {
          return active.seen;
        },
        remove() {
          active.removed = true;
          rules = rules.filter((r) => r !== active);
        },
      };
    },
    clearFaults() {
      for (const r of rules) r.removed = true;
      rules = [];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
