/**
 * Publish-snapshots: the outbox relay. Delivers the events the registration
 * commit put into the outbox to EventBridge, at least once.
 *
 * Input: the records of one stream batch (DynamoDB stream of the outbox).
 * Output: per record (by sequence number), `delivered`, `skipped` or
 * `failed`; the handler turns `failed` into batch item failures, which the
 * event source mapping retries (then dead-letters).
 *
 * Steps:
 *  1. selectInserts   - only inserts carry an event; others are skipped
 *  2. readOutbox      - one consistent read of the batch's items: a record
 *                       whose item is gone (expired, or deleted by hand) is
 *                       skipped; an item that could not be
 *                       read, or that is not shaped as the commit writes it
 *                       (parseOutboxItem), fails its record and is never sent
 *  3. sendEvents      - PutEvents in requests of at most 10 entries and
 *                       256 KiB (planPutEvents); an entry too large for any
 *                       request fails its record only; a refused entry fails
 *                       its record, a failed request every record it carried,
 *                       and nothing else
 *  4. reportDelivered - lobby_events_published and lobby_event_delivery_lag,
 *                       once per delivered entry
 * A record is reported delivered only when EventBridge accepted its entry.
 */
import { parseOutboxItem, snapshotEntrySize } from '../domain/outbox-item.ts';
import { PUT_EVENTS_MAX_BYTES, planPutEvents } from '../domain/put-events-batches.ts';
import type { OutboxEvent, SnapshotEventType } from '../domain/snapshot-event.ts';
import type { EventSender, Log, OutboxReader, Telemetry } from '../ports.ts';

/** What the relay needs of one stream record (the handler maps Lambda's record to it). */
export interface StreamRecordRef {
  /** The record's `dynamodb.SequenceNumber`: its identity in the batch response. */
  sequenceNumber: string;
  /** `INSERT`, `MODIFY` or `REMOVE`. */
  eventName: string | undefined;
  /** The outbox key (`event_id`) of the record, if it carries one. */
  eventId: string | undefined;
}

export type Delivery =
  | { status: 'delivered' }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

export interface PublishSnapshotsDeps {
  outbox: OutboxReader;
  sender: EventSender;
  telemetry: Telemetry;
  log: Log;
  clock?: () => Date;
}

interface Pending {
  record: StreamRecordRef;
  eventId: string;
}

export class PublishSnapshots {
  private readonly clock: () => Date;

  constructor(private readonly deps: PublishSnapshotsDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async deliver(records: readonly StreamRecordRef[], signal?: AbortSignal): Promise<Map<string, Delivery>> {
    const results = new Map<string, Delivery>();
    const inserts = this.selectInserts(records, results);
    const ready = await this.readOutbox(inserts, results, signal);
    await this.sendEvents(ready, results, signal);
    return results;
  }

  /** 1. Inserts only: a TTL expiry (REMOVE) or any other change announces nothing. */
  private selectInserts(records: readonly StreamRecordRef[], results: Map<string, Delivery>): Pending[] {
    const inserts: Pending[] = [];
    for (const record of records) {
      if (record.eventName !== 'INSERT') {
        results.set(record.sequenceNumber, { status: 'skipped', reason: `not an insert (${record.eventName ?? 'no event name'})` });
      } else if (!record.eventId) {
        // Not an outbox item as the commit writes it: never "delivered".
        results.set(record.sequenceNumber, { status: 'failed', reason: 'insert without an event_id key' });
      } else {
        inserts.push({ record, eventId: record.eventId });
      }
    }
    return inserts;
  }

  /** 2. One consistent read for the batch: only items that still exist are sent. */
  private async readOutbox(
    inserts: Pending[],
    results: Map<string, Delivery>,
    signal?: AbortSignal,
  ): Promise<(Pending & { event: OutboxEvent })[]> {
    if (inserts.length === 0) return [];
    let read: Awaited<ReturnType<OutboxReader['read']>>;
    try {
      read = await this.deps.outbox.read(
        inserts.map((p) => p.eventId),
        signal,
      );
    } catch (err) {
      this.deps.log.error('outbox read failed; the batch is retried', { records: inserts.length, error: err });
      for (const p of inserts) results.set(p.record.sequenceNumber, { status: 'failed', reason: 'outbox item could not be read' });
      return [];
    }
    const ready: (Pending & { event: OutboxEvent })[] = [];
    for (const p of inserts) {
      const item = read.found.get(p.eventId);
      if (item) {
        const parsed = parseOutboxItem(item);
        if (parsed.ok) ready.push({ ...p, event: parsed.event });
        else {
          // Never sent: what it would announce is not the contract's event.
          // Retrying cannot fix it either; the record dead-letters after its
          // hour, and the log line says which item to look at.
          this.deps.log.error('outbox item is not shaped as the commit writes it; not sent', { event_id: p.eventId, problem: parsed.problem });
          results.set(p.record.sequenceNumber, { status: 'failed', reason: `malformed outbox item (${parsed.problem})` });
        }
      } else if (read.unread.has(p.eventId)) results.set(p.record.sequenceNumber, { status: 'failed', reason: 'outbox item could not be read' });
      else {
        // Expired by its TTL, or deleted by hand (no rollback deletes one: a
        // rolled-back registration never had an item): not announced.
        this.deps.log.info('outbox item gone; event not sent', { event_id: p.eventId });
        results.set(p.record.sequenceNumber, { status: 'skipped', reason: 'outbox item gone' });
      }
    }
    return ready;
  }

  /** 3. PutEvents in requests within EventBridge's limits; each entry's answer decides its record. */
  private async sendEvents(ready: (Pending & { event: OutboxEvent })[], results: Map<string, Delivery>, signal?: AbortSignal): Promise<void> {
    const plan = planPutEvents(ready, (p) => snapshotEntrySize(p.event));
    for (const p of plan.oversized) {
      // No request can carry it; the others must not be held back by it.
      this.deps.log.error('event larger than a PutEvents request; not sent', {
        event_id: p.eventId,
        size: snapshotEntrySize(p.event),
        limit: PUT_EVENTS_MAX_BYTES,
      });
      results.set(p.record.sequenceNumber, { status: 'failed', reason: 'entry over the PutEvents size limit' });
    }
    for (const chunk of plan.requests) {
      let answers: Awaited<ReturnType<EventSender['send']>>;
      try {
        answers = await this.deps.sender.send(
          chunk.map((p) => p.event),
          signal,
        );
      } catch (err) {
        this.deps.log.error('put events request failed; its records are retried', { event_ids: chunk.map((p) => p.eventId), error: err });
        for (const p of chunk) results.set(p.record.sequenceNumber, { status: 'failed', reason: 'put events request failed' });
        continue;
      }
      const deliveredAt = this.clock();
      chunk.forEach((p, j) => {
        const refused = answers[j];
        if (refused) {
          this.deps.log.error('event refused by EventBridge; its record is retried', {
            event_id: p.eventId,
            error_code: refused.errorCode,
            error_message: refused.errorMessage,
          });
          results.set(p.record.sequenceNumber, { status: 'failed', reason: `refused (${refused.errorCode})` });
        } else {
          results.set(p.record.sequenceNumber, { status: 'delivered' });
          this.reportDelivered(p.event, deliveredAt);
        }
      });
    }
  }

  /** 4. Counted once per delivered entry; never fails a delivery. */
  private reportDelivered(event: OutboxEvent, deliveredAt: Date): void {
    try {
      const eventType = event.detail_type as SnapshotEventType;
      this.deps.telemetry.eventPublished(eventType);
      const created = Date.parse(event.created_at);
      if (Number.isFinite(created)) this.deps.telemetry.eventDeliveryLag(eventType, deliveredAt.getTime() - created);
    } catch (err) {
      this.deps.log.error('reporting a delivery failed', { event_id: event.event_id, error: err });
    }
  }
}
