/**
 * SnapshotPublisher on EventBridge: one `PutEvents` entry per update.
 *
 * PutEvents answers 200 even when the entry was not accepted
 * (`FailedEntryCount` > 0, the entry carrying `ErrorCode`); that is a
 * failed publication here, exactly like a thrown request. Errors carry our
 * own words; the SDK error or the failed entry is kept in `cause` for the
 * log, never in a message that could reach a caller.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { type RuntimeSnapshotUpdate, SNAPSHOT_EVENT, snapshotDetail } from '../domain/snapshot-event.ts';
import type { SnapshotPublisher } from '../ports.ts';

export interface EventBridgePublisherOptions {
  /**
   * Upper bound of one publication, retries included. Publication is best
   * effort after a committed registration, so it must never eat the rest
   * of the Lambda's time. Unset: only the client's own timeouts apply.
   */
  timeoutMs?: number;
}

export class SnapshotPublishError extends Error {
  override readonly name = 'SnapshotPublishError';
}

const WHAT = `publish ${SNAPSHOT_EVENT.detailType}`;

export class EventBridgeSnapshotPublisher implements SnapshotPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
    private readonly options: EventBridgePublisherOptions = {},
  ) {}

  /**
   * Resolves once EventBridge accepted the entry. Rejects with
   * SnapshotPublishError when the request failed, timed out, was
   * cancelled through `signal`, or the entry was refused.
   */
  async publishSnapshot(update: RuntimeSnapshotUpdate, signal?: AbortSignal): Promise<void> {
    const timeout = this.options.timeoutMs === undefined ? undefined : AbortSignal.timeout(this.options.timeoutMs);
    const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const abortSignal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];

    const command = new PutEventsCommand({
      Entries: [
        {
          EventBusName: this.eventBusName,
          Source: SNAPSHOT_EVENT.source,
          DetailType: SNAPSHOT_EVENT.detailType,
          Detail: JSON.stringify(snapshotDetail(update)),
        },
      ],
    });

    let output: PutEventsCommandOutput | undefined;
    try {
      output = await this.client.send(command, abortSignal ? { abortSignal } : {});
    } catch (error) {
      let reason = 'request failed';
      if (timeout?.aborted) reason = `timed out after ${this.options.timeoutMs} ms`;
      else if (signal?.aborted) reason = 'cancelled';
      throw new SnapshotPublishError(`${WHAT}: ${reason}`, { cause: error });
    }

    const failed = output?.Entries?.find((entry) => entry.ErrorCode);
    const failedCount = output?.FailedEntryCount ?? 0;
    if (failedCount > 0 || failed) {
      throw new SnapshotPublishError(
        `${WHAT}: ${Math.max(failedCount, 1)} entry failed (ErrorCode ${failed?.ErrorCode ?? 'unknown'})`,
        { cause: failed ?? output },
      );
    }
  }
}
