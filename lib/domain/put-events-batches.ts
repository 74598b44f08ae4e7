/**
 * EventBridge's PutEvents limits, and the one function that cuts events into
 * requests within them. The relay (publishSnapshots) and the operator's
 * redrive both send through it, so neither can build a request EventBridge
 * refuses whole.
 *
 * Limits: at most 10 entries and 256 KiB per request. EventBridge counts an
 * entry as 14 bytes for `Time` (whether given or not) plus the UTF-8 bytes
 * of `Source`, `DetailType`, `Detail` and each `Resources` entry; a request
 * over 256 KiB is refused whole, every retry.
 *
 * No SDK here: the use cases import it as well as the adapter.
 */

/** PutEvents takes at most 10 entries per request. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** PutEvents takes at most 256 KiB per request, counted as `putEventsEntrySize` counts. */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;
/** What EventBridge counts for an entry's `Time`, given or not. */
const TIME_BYTES = 14;

/** The fields of an entry that EventBridge counts. */
export interface SizedEntry {
  source: string;
  detailType: string;
  detail: string;
  resources?: readonly string[];
}

/** An entry's size as EventBridge counts it against the request limit. */
export function putEventsEntrySize(entry: SizedEntry): number {
  let size = TIME_BYTES + Buffer.byteLength(entry.source, 'utf8') + Buffer.byteLength(entry.detailType, 'utf8') + Buffer.byteLength(entry.detail, 'utf8');
  for (const resource of entry.resources ?? []) size += Buffer.byteLength(resource, 'utf8');
  return size;
}

export interface PutEventsPlan<T> {
  /** Requests to send, in the input's order: each at most 10 entries and 256 KiB. */
  requests: T[][];
  /** Items whose entry alone is over 256 KiB: no request can carry them. */
  oversized: T[];
}

/**
 * Cuts `items` into PutEvents requests, in order: a request is closed when
 * the next entry would make it 11 entries or more than 256 KiB. An entry
 * larger than a whole request is put aside in `oversized` (its own failure,
 * never a reason to refuse the others).
 */
export function planPutEvents<T>(items: readonly T[], sizeOf: (item: T) => number): PutEventsPlan<T> {
  const requests: T[][] = [];
  const oversized: T[] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (size > PUT_EVENTS_MAX_BYTES) {
      oversized.push(item);
      continue;
    }
    if (current.length === PUT_EVENTS_MAX_ENTRIES || bytes + size > PUT_EVENTS_MAX_BYTES) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return { requests, oversized };
}
