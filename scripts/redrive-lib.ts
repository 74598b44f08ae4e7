/**
 * `npm run redrive -- --stage <stage> [--dry-run] [--limit N]`: re-sends the
 * snapshot events whose stream records publishSnapshots gave up on (the
 * stage's dead-letter queue), from the outbox, and deletes each dead letter
 * once every event it stood for was accepted. scripts/redrive.ts builds the
 * clients (an operator's credentials); everything here takes them as
 * arguments so a test can hand mocked ones.
 *
 * For each dead letter (Lambda's on-failure record: `DDBStreamBatchInfo`
 * with the stream, shard and sequence-number range of the failed batch):
 *  1. findEventIds - the `event_id` keys of the batch's INSERT records,
 *     read from the stream while it still holds them (24 h); once it does
 *     not (trimmed, or the stream is gone), the outbox items created in the
 *     batch's time window (a minute either side of its arrival times: an
 *     item's created_at precedes its commit by at most the register
 *     function's timeout). The window may hold events that were delivered:
 *     they are sent again, and consumers drop them by `event_id`.
 *  2. readOutbox - one consistent read of those items; an item gone has
 *     expired (its TTL): skipped and reported, never invented. An item not
 *     shaped as the commit writes it is not sent (reported).
 *  3. send - each Detail byte for byte (same event_id), in PutEvents
 *     requests within EventBridge's limits (planPutEvents, as the relay).
 *  4. delete the dead letter only when every event it stood for was
 *     accepted; otherwise it stays, and the run exits non-zero.
 * With --dry-run nothing is sent and nothing deleted; dead letters are only
 * received (hidden from other readers for the visibility timeout).
 */
import { type DynamoDBStreamsClient, GetRecordsCommand, type GetRecordsCommandOutput, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DeleteMessageCommand, GetQueueUrlCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { MAX_BATCH_GET_KEYS } from '../lib/adapters/dynamodb-conditions.ts';
import { DynamoOutboxReader } from '../lib/adapters/outbox-reader.ts';
import { EventBridgeEventSender } from '../lib/adapters/eventbridge-publisher.ts';
import { parseOutboxItem, snapshotEntrySize } from '../lib/domain/outbox-item.ts';
import { planPutEvents } from '../lib/domain/put-events-batches.ts';
import type { OutboxEvent } from '../lib/domain/snapshot-event.ts';

const SERVICE = 'game-master';
/** How long a received dead letter stays hidden from other readers while this run works on it. */
export const VISIBILITY_TIMEOUT_S = 120;
/** The outbox window around a batch's arrival times, when the stream no longer holds it. */
export const WINDOW_MARGIN_MS = 60_000;
/** GetRecords rounds per dead letter (a batch is at most 10 records; a shard page can hold others). */
const MAX_STREAM_PAGES = 50;

export interface RedriveOptions {
  stage: string;
  dryRun: boolean;
  limit: number;
}

export interface RedriveDeps {
  sqs: SQSClient;
  streams: DynamoDBStreamsClient;
  doc: DynamoDBDocumentClient;
  eventBridge: EventBridgeClient;
  print: (line: string) => void;
}

/** Names the stack gives a stage's resources (serverless.yml, infra/outbox.yml). */
export function stageNames(stage: string) {
  return {
    queue: `${SERVICE}-${stage}-snapshot-dead-letters`,
    outbox: `${SERVICE}-${stage}-outbox`,
    bus: `${SERVICE}-${stage}-events`,
  };
}

export type EventResult = 'sent' | 'would send' | 'expired' | 'refused' | 'malformed' | 'too large' | 'request failed';

export interface EventRow {
  deadLetter: string;
  source: 'stream' | 'outbox window';
  eventId: string;
  gameId: string;
  result: EventResult;
  detail?: string;
}

export interface DeadLetterRow {
  id: string;
  source: 'stream' | 'outbox window' | 'unreadable';
  events: number;
  outcome: 'deleted' | 'would delete' | 'left';
  reason?: string;
}

export interface RedriveReport {
  deadLetters: DeadLetterRow[];
  events: EventRow[];
}

interface BatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  approximateArrivalOfFirstRecord: string;
  approximateArrivalOfLastRecord: string;
  streamArn: string;
}

const USAGE = 'usage: npm run redrive -- --stage <stage> [--dry-run] [--limit N]';

/** The command line; throws with the usage line on anything it does not know. */
export function parseRedriveArgs(argv: readonly string[]): RedriveOptions {
  let stage: string | undefined;
  let dryRun = false;
  let limit = 100;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--stage') stage = argv[++i];
    else if (arg === '--limit') {
      const raw = argv[++i] ?? '';
      if (!/^[1-9][0-9]{0,5}$/.test(raw)) throw new Error(`--limit must be a positive integer\n${USAGE}`);
      limit = Number(raw);
    } else throw new Error(`unknown argument "${arg}"\n${USAGE}`);
  }
  if (!stage || !/^[A-Za-z0-9-]{1,64}$/.test(stage)) throw new Error(`--stage is required (letters, digits, -)\n${USAGE}`);
  return { stage, dryRun, limit };
}

/** Runs the redrive; resolves with the exit status (0: nothing left, 1: something left, 2: usage or setup). */
export async function runRedrive(argv: readonly string[], deps: RedriveDeps): Promise<number> {
  let options: RedriveOptions;
  try {
    options = parseRedriveArgs(argv);
  } catch (err) {
    deps.print((err as Error).message);
    return 2;
  }
  const names = stageNames(options.stage);
  let queueUrl: string;
  try {
    const res = await deps.sqs.send(new GetQueueUrlCommand({ QueueName: names.queue }));
    if (!res.QueueUrl) throw new Error('no QueueUrl in the answer');
    queueUrl = res.QueueUrl;
  } catch (err) {
    deps.print(`[redrive] cannot find the dead-letter queue ${names.queue}: ${(err as Error).message}`);
    return 2;
  }
  deps.print(`[redrive] stage ${options.stage}${options.dryRun ? ' (dry run: nothing is sent or deleted)' : ''}: queue ${names.queue}, outbox ${names.outbox}, bus ${names.bus}`);
  let report: RedriveReport;
  try {
    report = await redrive(options, { ...deps, queueUrl, names });
  } catch (err) {
    // A request that failed outright (the queue, the outbox): nothing past it
    // was done; what was deleted before it was already accepted. Run again.
    deps.print(`[redrive] stopped: ${(err as Error).message}; run it again (done work is not repeated for deleted dead letters)`);
    return 2;
  }
  for (const line of formatReport(report, options.dryRun)) deps.print(line);
  return report.deadLetters.some((d) => d.outcome === 'left') ? 1 : 0;
}

interface RunContext extends RedriveDeps {
  queueUrl: string;
  names: ReturnType<typeof stageNames>;
}

async function redrive(options: RedriveOptions, ctx: RunContext): Promise<RedriveReport> {
  const report: RedriveReport = { deadLetters: [], events: [] };
  const sender = new EventBridgeEventSender(ctx.eventBridge, ctx.names.bus);
  const seen = new Set<string>();
  while (report.deadLetters.length < options.limit) {
    const want = Math.min(10, options.limit - report.deadLetters.length);
    const res = await ctx.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: ctx.queueUrl, MaxNumberOfMessages: want, VisibilityTimeout: VISIBILITY_TIMEOUT_S, WaitTimeSeconds: 0 }),
    );
    // Never more than asked for (the limit holds whatever the queue answers).
    const messages = (res.Messages ?? []).filter((m) => m.MessageId !== undefined && !seen.has(m.MessageId)).slice(0, want);
    if (messages.length === 0) break;
    for (const message of messages) {
      seen.add(message.MessageId as string);
      const n = report.deadLetters.length + 1;
      ctx.print(`[redrive] dead letter ${n} (${message.MessageId})`);
      await redriveOne(message, options, ctx, sender, report);
    }
  }
  return report;
}

async function redriveOne(message: Message, options: RedriveOptions, ctx: RunContext, sender: EventBridgeEventSender, report: RedriveReport): Promise<void> {
  const id = message.MessageId as string;
  const info = batchInfo(message.Body);
  if (info === undefined) {
    ctx.print('[redrive]   not a stream batch record (no DDBStreamBatchInfo): left in the queue');
    report.deadLetters.push({ id, source: 'unreadable', events: 0, outcome: 'left', reason: 'no DDBStreamBatchInfo' });
    return;
  }
  const found = await findEventIds(info, ctx);
  ctx.print(`[redrive]   ${found.eventIds.length} event(s) from the ${found.source}`);
  if (found.eventIds.length === 0) {
    report.deadLetters.push({ id, source: found.source, events: 0, outcome: 'left', reason: 'no event found for the batch' });
    return;
  }
  const rows = await resend(found.eventIds, id, found.source, options.dryRun, ctx, sender);
  report.events.push(...rows);
  const done = rows.every((r) => r.result === 'sent' || r.result === 'would send');
  if (!done) {
    report.deadLetters.push({ id, source: found.source, events: rows.length, outcome: 'left', reason: 'not every event was accepted' });
    return;
  }
  if (options.dryRun) {
    report.deadLetters.push({ id, source: found.source, events: rows.length, outcome: 'would delete' });
    return;
  }
  try {
    await ctx.sqs.send(new DeleteMessageCommand({ QueueUrl: ctx.queueUrl, ReceiptHandle: message.ReceiptHandle }));
    report.deadLetters.push({ id, source: found.source, events: rows.length, outcome: 'deleted' });
  } catch (err) {
    report.deadLetters.push({ id, source: found.source, events: rows.length, outcome: 'left', reason: `delete failed: ${(err as Error).message}` });
  }
}

function batchInfo(body: string | undefined): BatchInfo | undefined {
  try {
    const info = (JSON.parse(body ?? '') as { DDBStreamBatchInfo?: Record<string, unknown> }).DDBStreamBatchInfo;
    const fields = ['shardId', 'startSequenceNumber', 'endSequenceNumber', 'approximateArrivalOfFirstRecord', 'approximateArrivalOfLastRecord', 'streamArn'];
    if (info && fields.every((f) => typeof info[f] === 'string')) return info as unknown as BatchInfo;
  } catch {
    // not JSON: unreadable
  }
  return undefined;
}

/** 1. The batch's event ids: the stream while it holds the records, else the outbox window. */
async function findEventIds(info: BatchInfo, ctx: RunContext): Promise<{ source: 'stream' | 'outbox window'; eventIds: string[] }> {
  const fromStream = await streamEventIds(info, ctx);
  if (fromStream !== undefined) return { source: 'stream', eventIds: fromStream };
  return { source: 'outbox window', eventIds: await windowEventIds(info, ctx) };
}

/** undefined when the stream no longer holds the batch (trimmed, expired, or the stream is gone). */
async function streamEventIds(info: BatchInfo, ctx: RunContext): Promise<string[] | undefined> {
  const start = BigInt(info.startSequenceNumber);
  const end = BigInt(info.endSequenceNumber);
  let iterator: string | undefined;
  try {
    const res = await ctx.streams.send(
      new GetShardIteratorCommand({
        StreamArn: info.streamArn,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: info.startSequenceNumber,
      }),
    );
    iterator = res.ShardIterator;
  } catch (err) {
    ctx.print(`[redrive]   the stream no longer holds the batch (${(err as Error).name}): reading the outbox window instead`);
    return undefined;
  }
  const ids: string[] = [];
  for (let page = 0; iterator && page < MAX_STREAM_PAGES; page++) {
    let res: GetRecordsCommandOutput;
    try {
      res = await ctx.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
    } catch (err) {
      ctx.print(`[redrive]   the stream no longer holds the batch (${(err as Error).name}): reading the outbox window instead`);
      return undefined;
    }
    const records = res.Records ?? [];
    let past = false;
    for (const record of records) {
      const seq = BigInt(record.dynamodb?.SequenceNumber ?? '0');
      if (seq > end) {
        past = true;
        break;
      }
      const eventId = record.dynamodb?.Keys?.event_id?.S;
      if (seq >= start && record.eventName === 'INSERT' && eventId) ids.push(eventId);
      // The batch's last record read: nothing further is the dead letter's.
      if (seq === end) {
        past = true;
        break;
      }
    }
    if (past) break;
    // An empty page of an open shard: nothing newer yet, and the batch is behind us.
    if (records.length === 0 && ids.length > 0) break;
    iterator = res.NextShardIterator;
  }
  return [...new Set(ids)];
}

/** The outbox items created in the batch's time window (a Scan with a filter: the outbox has no time index). */
async function windowEventIds(info: BatchInfo, ctx: RunContext): Promise<string[]> {
  const from = new Date(Date.parse(info.approximateArrivalOfFirstRecord) - WINDOW_MARGIN_MS).toISOString();
  const to = new Date(Date.parse(info.approximateArrivalOfLastRecord) + WINDOW_MARGIN_MS).toISOString();
  const ids: string[] = [];
  for await (const page of paginateScan(
    { client: ctx.doc },
    {
      TableName: ctx.names.outbox,
      FilterExpression: 'created_at BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':from': from, ':to': to },
      ProjectionExpression: 'event_id, created_at',
      ConsistentRead: true,
    },
  )) {
    for (const item of page.Items ?? []) if (typeof item.event_id === 'string') ids.push(item.event_id);
  }
  ctx.print(`[redrive]   outbox items created from ${from} to ${to}`);
  return ids.sort();
}

/** 2 and 3: read the items (consistent), send what exists and is well formed, within PutEvents' limits. */
async function resend(
  eventIds: readonly string[],
  deadLetter: string,
  source: EventRow['source'],
  dryRun: boolean,
  ctx: RunContext,
  sender: EventBridgeEventSender,
): Promise<EventRow[]> {
  const items = await readItems(eventIds, ctx);
  const rows = new Map<string, EventRow>();
  const ready: OutboxEvent[] = [];
  for (const eventId of eventIds) {
    const item = items.get(eventId);
    if (item === undefined) {
      rows.set(eventId, { deadLetter, source, eventId, gameId: '', result: 'expired', detail: 'outbox item gone (TTL): not re-sent' });
      continue;
    }
    const parsed = parseOutboxItem(item);
    const gameId = typeof item.game_id === 'string' ? item.game_id : '';
    if (!parsed.ok) rows.set(eventId, { deadLetter, source, eventId, gameId, result: 'malformed', detail: parsed.problem });
    else {
      rows.set(eventId, { deadLetter, source, eventId, gameId, result: dryRun ? 'would send' : 'sent' });
      ready.push(parsed.event);
    }
  }
  const plan = planPutEvents(ready, snapshotEntrySize);
  for (const event of plan.oversized) Object.assign(rows.get(event.event_id) as EventRow, { result: 'too large', detail: 'over the PutEvents size limit' });
  if (!dryRun) {
    for (const request of plan.requests) {
      try {
        const answers = await sender.send(request);
        request.forEach((event, i) => {
          const refused = answers[i];
          if (refused) Object.assign(rows.get(event.event_id) as EventRow, { result: 'refused', detail: `${refused.errorCode}: ${refused.errorMessage}` });
        });
      } catch (err) {
        for (const event of request) Object.assign(rows.get(event.event_id) as EventRow, { result: 'request failed', detail: (err as Error).message });
      }
    }
  }
  return eventIds.map((id) => rows.get(id) as EventRow);
}

/** The outbox items of `eventIds`, read as the relay reads them (consistent, by 100). */
async function readItems(eventIds: readonly string[], ctx: RunContext): Promise<Map<string, Record<string, unknown>>> {
  const reader = new DynamoOutboxReader(ctx.doc, ctx.names.outbox);
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Set(eventIds)];
  for (let i = 0; i < unique.length; i += MAX_BATCH_GET_KEYS) {
    const read = await reader.read(unique.slice(i, i + MAX_BATCH_GET_KEYS));
    if (read.unread.size > 0) throw new Error(`outbox read left ${read.unread.size} keys unprocessed; run again`);
    for (const [eventId, item] of read.found) found.set(eventId, item);
  }
  return found;
}

/** The table of events, the table of dead letters, and the summary. */
export function formatReport(report: RedriveReport, dryRun: boolean): string[] {
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    lines.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  };
  lines.push('');
  if (report.events.length > 0) {
    table(
      ['dead letter', 'source', 'event_id', 'game_id', 'result', 'detail'],
      report.events.map((e) => [e.deadLetter, e.source, e.eventId, e.gameId, e.result, e.detail ?? '']),
    );
    lines.push('');
  }
  if (report.deadLetters.length > 0) {
    table(
      ['dead letter', 'source', 'events', 'outcome', 'reason'],
      report.deadLetters.map((d) => [d.id, d.source, String(d.events), d.outcome, d.reason ?? '']),
    );
    lines.push('');
  }
  const count = (result: EventResult) => report.events.filter((e) => e.result === result).length;
  const left = report.deadLetters.filter((d) => d.outcome === 'left').length;
  const removed = report.deadLetters.length - left;
  lines.push(
    `[redrive] ${dryRun ? 'dry run: ' : ''}${report.deadLetters.length} dead letter(s): ${removed} ${dryRun ? 'would be deleted' : 'deleted'}, ${left} left; ` +
      `events: ${dryRun ? `${count('would send')} would be sent` : `${count('sent')} sent`}, ${count('expired')} expired, ${count('refused')} refused, ` +
      `${count('request failed')} in failed requests, ${count('malformed')} malformed, ${count('too large')} too large`,
  );
  if (left > 0) lines.push('[redrive] something was left: see docs/operations.md, "Lobby missed events"');
  return lines;
}
