/**
 * A loopback stand-in for EventBridge at the network boundary: an HTTP
 * server answering `AWSEvents.PutEvents` in the AWS JSON 1.1 protocol the
 * SDK speaks, recording every entry it receives. There is no local
 * EventBridge; point the SDK at `url` through `AWS_ENDPOINT_URL_EVENTBRIDGE`
 * or the client's `endpoint`. Request signatures are not checked.
 *
 * Modes, switchable at any time through `mode`:
 * - `ok`: every entry accepted (`FailedEntryCount` 0, an `EventId` each);
 * - `failed-entry`: HTTP 200 with `FailedEntryCount` = number of entries,
 *   each carrying `ErrorCode`/`ErrorMessage` (what EventBridge does when it
 *   refuses an entry);
 * - `http-500`: `InternalException` with status 500 (the SDK retries it);
 * - `hang`: the request is read and never answered until `close()`.
 *
 * In `ok` mode, `refuse` (when set) picks entries to refuse one by one: the
 * answer is HTTP 200 with `FailedEntryCount` = the refused ones, each
 * carrying `ErrorCode`, the others an `EventId` (a partly failed request).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordViolation, snapshotDetailProblems } from './contract.ts';

export type EventBridgeMode = 'ok' | 'failed-entry' | 'http-500' | 'hang';

export interface ReceivedEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  /** The Detail string as sent. */
  Detail?: string;
  /** Detail parsed as JSON (undefined when it is absent or not JSON). */
  detail: unknown;
  /** The mode the double was in when the entry arrived. */
  mode: EventBridgeMode;
  /** True when the double answered this entry with an EventId (it was published). */
  accepted: boolean;
  /** The whole entry as sent (Time, Resources, TraceHeader, ...). */
  raw: Record<string, unknown>;
}

export interface EventBridgeDouble {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  mode: EventBridgeMode;
  /** Per request: a mode for this request instead of `mode` (undefined: `mode`), chosen from its entries. */
  modeFor: ((entries: ReceivedEntry[]) => EventBridgeMode | undefined) | undefined;
  /** In `ok` mode: entries for which this returns true are refused (ErrorCode), the others accepted. */
  refuse: ((entry: ReceivedEntry) => boolean) | undefined;
  /** Every entry received, in arrival order, whatever the mode answered. */
  readonly entries: ReceivedEntry[];
  /** Entries answered with an EventId: the events that were actually published. */
  accepted(): ReceivedEntry[];
  /** Number of PutEvents requests received (retries included). */
  readonly requests: number;
  /** Forgets the entries and request count and returns to `ok`. */
  reset(): void;
  /** Stops the server, dropping hanging requests. */
  close(): Promise<void>;
}

export interface EventBridgeServerOptions {
  /** Fixed port; default: any free port. */
  port?: number;
  mode?: EventBridgeMode;
}

const JSON_11 = 'application/x-amz-json-1.1';
/** The published event whose Detail the contract describes. */
const SNAPSHOT_DETAIL_TYPE = 'runtime_snapshot_update';

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_11,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toReceived(raw: Record<string, unknown>, mode: EventBridgeMode): ReceivedEntry {
  const str = (key: string) => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const Detail = str('Detail');
  return {
    EventBusName: str('EventBusName'),
    Source: str('Source'),
    DetailType: str('DetailType'),
    Detail,
    detail: Detail === undefined ? undefined : parseJson(Detail),
    mode,
    accepted: false,
    raw,
  };
}

/**
 * Every runtime_snapshot_update Detail received is checked against the
 * published event schema; a violation is recorded for the test that caused
 * it (test/support/contract-setup.ts fails it), whatever the double answers.
 */
function checkPublishedDetail(entry: ReceivedEntry): void {
  if (entry.DetailType !== SNAPSHOT_DETAIL_TYPE) return;
  const problems = snapshotDetailProblems(entry.detail);
  if (problems.length > 0) {
    recordViolation(`published Detail does not match docs/events/runtime_snapshot_update.schema.json:\n  ${problems.join('\n  ')}\n  Detail: ${entry.Detail}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEventBridgeServer(options: EventBridgeServerOptions = {}): Promise<EventBridgeDouble> {
  const entries: ReceivedEntry[] = [];
  let requests = 0;
  let mode: EventBridgeMode = options.mode ?? 'ok';
  let refuse: ((entry: ReceivedEntry) => boolean) | undefined;
  let modeFor: ((entries: ReceivedEntry[]) => EventBridgeMode | undefined) | undefined;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { __type: 'InternalException', message: 'double failed' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      send(res, 400, { __type: 'UnknownOperationException', message: `unsupported target ${String(target)}` });
      return;
    }
    const input = parseJson(body) as { Entries?: unknown } | undefined;
    if (!input || !Array.isArray(input.Entries) || input.Entries.length === 0) {
      send(res, 400, { __type: 'ValidationException', message: 'Entries must hold at least one entry' });
      return;
    }
    requests += 1;
    const received = (input.Entries as Record<string, unknown>[]).map((raw) => toReceived(raw, mode));
    const current = modeFor?.(received) ?? mode;
    for (const entry of received) entry.mode = current;
    entries.push(...received);
    for (const entry of received) checkPublishedDetail(entry);

    switch (current) {
      case 'ok': {
        for (const entry of received) entry.accepted = !refuse?.(entry);
        send(res, 200, {
          FailedEntryCount: received.filter((e) => !e.accepted).length,
          Entries: received.map((e) =>
            e.accepted ? { EventId: randomUUID() } : { ErrorCode: 'ThrottlingException', ErrorMessage: 'double refused the entry' },
          ),
        });
        return;
      }
      case 'failed-entry':
        send(res, 200, {
          FailedEntryCount: received.length,
          Entries: received.map(() => ({ ErrorCode: 'InternalFailure', ErrorMessage: 'double refused the entry' })),
        });
        return;
      case 'http-500':
        send(res, 500, { __type: 'InternalException', message: 'double answers 500' });
        return;
      case 'hang':
        // Never answered; close() drops the socket.
        return;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set mode(next: EventBridgeMode) {
      mode = next;
    },
    get modeFor() {
      return modeFor;
    },
    set modeFor(next: ((entries: ReceivedEntry[]) => EventBridgeMode | undefined) | undefined) {
      modeFor = next;
    },
    get refuse() {
      return refuse;
    },
    set refuse(next: ((entry: ReceivedEntry) => boolean) | undefined) {
      refuse = next;
    },
    entries,
    accepted: () => entries.filter((e) => e.accepted),
    get requests() {
      return requests;
    },
    reset() {
      entries.length = 0;
      requests = 0;
      mode = 'ok';
      refuse = undefined;
      modeFor = undefined;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
