/**
 * An outbox item as the relay and the redrive read it back: checked to be
 * shaped as the commit writes it before anything is sent, and sized as
 * EventBridge counts its entry. Kept apart from snapshot-event.ts so the
 * register function's bundle does not grow by a byte for it.
 */
import { putEventsEntrySize } from './put-events-batches.ts';
import { type OutboxEvent, SNAPSHOT_EVENT } from './snapshot-event.ts';

/** An outbox item as read from the table: nothing about its shape is known yet. */
export type StoredOutboxItem = Record<string, unknown>;

/**
 * The item as an event to send, when it is shaped as the commit writes it:
 * `event_id`, `detail_type`, `detail` and `created_at` strings, and a
 * `detail` that is a JSON object. Anything else is never sent (a Detail
 * that is not an object would be refused by EventBridge, or worse, reach
 * Lobby as something the contract does not describe); the problem names
 * the first field at fault.
 */
export function parseOutboxItem(item: StoredOutboxItem): { ok: true; event: OutboxEvent } | { ok: false; problem: string } {
  for (const field of ['event_id', 'detail_type', 'detail', 'created_at'] as const) {
    if (typeof item[field] !== 'string') return { ok: false, problem: `${field} is ${item[field] === undefined ? 'missing' : 'not a string'}` };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(item.detail as string);
  } catch {
    return { ok: false, problem: 'detail is not JSON' };
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { ok: false, problem: 'detail is not a JSON object' };
  return { ok: true, event: item as unknown as OutboxEvent };
}

/** The size EventBridge counts for the entry that carries this outbox event. */
export function snapshotEntrySize(event: Pick<OutboxEvent, 'detail_type' | 'detail'>): number {
  return putEventsEntrySize({ source: SNAPSHOT_EVENT.source, detailType: event.detail_type, detail: event.detail });
}
