/**
 * RegistrationReads on DynamoDB: steps 1 and 2 of a registration (does the
 * game's runtime record exist, which image does the version name) in one
 * BatchGetItem, and the resolved image_ref kept for the life of the
 * execution environment.
 *
 * - Both are read consistently: a record written a moment ago by another
 *   call must be seen, and so must a version written through the PUT route
 *   a moment ago (an eventually consistent miss would answer 404, and be
 *   remembered for 24 h under an Idempotency-Key).
 * - Warm, a version already resolved costs no request at all, and the
 *   record's existence is not read either: the conditional insert refuses
 *   an existing record and answers `conflict` itself (spec, Telemetry ->
 *   Cost: "steps 1 and 3 are one request then").
 * - A version that was not found is never remembered: it may be added at
 *   any time, and the next call must see it.
 * - BatchGetItem may hand keys back unprocessed (throttling, size): they
 *   are asked again a bounded number of times, then the read fails as a
 *   store error (never as "not found").
 */
import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type RecordAndVersion, type RegistrationReads, StoreUnavailableError } from '../ports.ts';
import { storeError } from './dynamodb-conditions.ts';

const STEP = 'get runtime record and engine version';
/** Further requests for keys handed back unprocessed, before giving up. */
export const UNPROCESSED_RETRIES = 3;
/** First back-off before asking unprocessed keys again; doubled each time. */
const UNPROCESSED_BACKOFF_MS = 25;

type BatchRequest = NonNullable<ConstructorParameters<typeof BatchGetCommand>[0]['RequestItems']>;

export interface RegistrationReadsOptions {
  /** Waits between the requests for unprocessed keys (injected by tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export class DynamoRegistrationReads implements RegistrationReads {
  /** version -> image_ref, for the life of the execution environment (versions are immutable). */
  private readonly imageRefs = new Map<string, string>();
  private readonly sleep: NonNullable<RegistrationReadsOptions['sleep']>;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: { runtimeRecords: string; engineVersions: string },
    options: RegistrationReadsOptions = {},
  ) {
    this.sleep = options.sleep ?? defaultSleep;
  }

  async read(gameId: string, version: string, signal?: AbortSignal): Promise<RecordAndVersion> {
    const known = this.imageRefs.get(version);
    if (known !== undefined) return { recordExists: undefined, imageRef: known };

    const { record, versionItem } = await this.batchGet(gameId, version, signal);
    let imageRef: string | undefined;
    if (versionItem !== undefined) {
      const ref = versionItem.image_ref;
      if (typeof ref !== 'string' || ref.length === 0) {
        throw new StoreUnavailableError(`get engine version: version "${version}" has no image_ref`);
      }
      imageRef = ref;
      this.imageRefs.set(version, ref);
    }
    return { recordExists: record !== undefined, imageRef };
  }

  private async batchGet(
    gameId: string,
    version: string,
    signal?: AbortSignal,
  ): Promise<{ record: Record<string, unknown> | undefined; versionItem: Record<string, unknown> | undefined }> {
    const { runtimeRecords, engineVersions } = this.tables;
    let pending: BatchRequest = {
      [runtimeRecords]: { Keys: [{ game_id: gameId }], ProjectionExpression: 'game_id', ConsistentRead: true },
      [engineVersions]: { Keys: [{ version }], ProjectionExpression: 'image_ref', ConsistentRead: true },
    };
    let record: Record<string, unknown> | undefined;
    let versionItem: Record<string, unknown> | undefined;
    for (let attempt = 0; ; attempt++) {
      let res: BatchGetCommandOutput;
      try {
        res = await this.doc.send(new BatchGetCommand({ RequestItems: pending }), { abortSignal: signal });
      } catch (err) {
        throw storeError(STEP, err);
      }
      record ??= res.Responses?.[runtimeRecords]?.[0];
      versionItem ??= res.Responses?.[engineVersions]?.[0];
      const unprocessed = res.UnprocessedKeys ?? {};
      if (Object.values(unprocessed).every((r) => (r?.Keys?.length ?? 0) === 0)) return { record, versionItem };
      if (attempt >= UNPROCESSED_RETRIES) {
        throw new StoreUnavailableError(`${STEP}: store request failed (keys left unprocessed)`);
      }
      pending = unprocessed;
      try {
        await this.sleep(UNPROCESSED_BACKOFF_MS * 2 ** attempt, signal);
      } catch (err) {
        throw storeError(STEP, err);
      }
    }
  }
}
