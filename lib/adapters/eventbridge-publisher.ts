/**
 * EventSender on EventBridge: one `PutEvents` request for up to 10 outbox
 * events and 256 KiB (cut by planPutEvents), each sent as stored (`Detail`
 * byte for byte).
 *
 * PutEvents answers 200 even when entries were refused
 * (`FailedEntryCount` > 0, those entries carrying `ErrorCode`): the answer
 * is read entry by entry, and only an entry that came back with an
 * `EventId` and no `ErrorCode` counts as delivered. A failed request is
 * thrown with our own words; the SDK error is kept as `cause`, for logs.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { snapshotEntrySize } from '../domain/outbox-item.ts';
import { PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES } from '../domain/put-events-batches.ts';
import { type OutboxEvent, SNAPSHOT_EVENT } from '../domain/snapshot-event.ts';
import type { EventSender, RefusedEntry } from '../ports.ts';

export { PUT_EVENTS_MAX_BYTES, PUT_EVENTS_MAX_ENTRIES };

export class EventSendError extends Error {
  override readonly name = 'EventSendError';
}

export class EventBridgeEventSender implements EventSender {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async send(events: readonly Pick<OutboxEvent, 'detail_type' | 'detail'>[], signal?: AbortSignal): Promise<(RefusedEntry | undefined)[]> {
    if (events.length === 0) return [];
    // A request over either limit is refused whole by EventBridge: a caller
    // that did not cut with planPutEvents is a defect, caught before sending.
    if (events.length > PUT_EVENTS_MAX_ENTRIES) throw new RangeError(`PutEvents takes at most ${PUT_EVENTS_MAX_ENTRIES} entries, got ${events.length}`);
    const bytes = events.reduce((sum, e) => sum + snapshotEntrySize(e), 0);
    if (bytes > PUT_EVENTS_MAX_BYTES) throw new RangeError(`PutEvents takes at most ${PUT_EVENTS_MAX_BYTES} bytes, got ${bytes}`);
    let output: PutEventsCommandOutput;
    try {
      output = await this.client.send(
        new PutEventsCommand({
          Entries: events.map((e) => ({
            EventBusName: this.eventBusName,
            Source: SNAPSHOT_EVENT.source,
            DetailType: e.detail_type,
            Detail: e.detail,
          })),
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (error) {
      throw new EventSendError(`put events: request failed${signal?.aborted ? ' (cancelled)' : ''}`, { cause: error });
    }
    // The answer's entries are in the request's order, one each; an entry
    // missing from the answer, or without an EventId, was not delivered.
    return events.map((_, i) => {
      const entry = output.Entries?.[i];
      if (entry?.ErrorCode || !entry?.EventId) {
        return { errorCode: entry?.ErrorCode ?? 'MissingEntry', errorMessage: entry?.ErrorMessage ?? 'no result for the entry' };
      }
      return undefined;
    });
  }
}
