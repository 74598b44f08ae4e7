/**
 * The keyed half of safe retries (see safe-retries.ts): Powertools
 * idempotency with its DynamoDB persistence layer. Loaded by SafeRetries on
 * the first call that carries an Idempotency-Key, not at cold start: with
 * its jmespath dependency it is about 44 KB of the bundle that a call
 * without a key never needs (serverless.yml custom.esbuild.splitting puts it
 * in a chunk of its own beside the handler).
 *
 * The Middy middleware of Powertools 2.35 is not used: it deletes the key
 * when it rejects a call itself (aws-powertools/powertools-lambda-typescript
 * issue 5675), freeing a running call's lock.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type KeyedPayload, KeyStore } from '../adapters/idempotency-key-store.ts';
import type { Context } from 'aws-lambda';
import type { Log } from '../ports.ts';
import type { RegisterCall, RegisterRuntime } from '../register-runtime/register-runtime.ts';
import { errorAnswer, type HttpAnswer, outcomeAnswer } from './responses.ts';

/** Fixed, so that renaming the function never orphans the keys it holds. */
export const IDEMPOTENCY_KEY_PREFIX = 'gamemaster.registerRuntime';
export const REPLAYED_HEADER = 'Idempotent-Replayed';
const REMEMBERED = new Set([201, 400, 404]);
/**
 * What a registration typically takes from start to answer, in whole
 * seconds: a second or two (the engine's init and a few DynamoDB requests;
 * the bench's figures are well under it). A call that meets a running one
 * is told to come back after that long, not after the running call's
 * deadline (up to 28 s away), by which time the answer has long been there.
 */
export const TYPICAL_REGISTRATION_S = 2;

/**
 * Retry-After of `request_in_progress`, in seconds: the time a registration
 * typically still needs, never more than the running call's key has left
 * before its in-progress expiry (its Lambda deadline: then a retry takes the
 * key over), and at least 1. `inProgressUntil` (ms since the epoch) is
 * unknown when the key table's answer did not carry it.
 */
export function retryAfterSeconds(inProgressUntil: number | undefined, now: number): number {
  if (inProgressUntil === undefined) return TYPICAL_REGISTRATION_S;
  const leftS = Math.floor((inProgressUntil - now) / 1000);
  return Math.max(1, Math.min(TYPICAL_REGISTRATION_S, leftS));
}

/** Carries an answer that must not be remembered out through Powertools. */
class NotRemembered extends Error {
  constructor(readonly answer: HttpAnswer) {
    super(`not remembered: ${answer.statusCode}`);
  }
}

export class KeyedRetries {
  private readonly config: IdempotencyConfig;
  private readonly keys: KeyStore;
  /** Each keyed call's payload: the call's identity for its key (KeyStore keeps the call's token by it). */
  readonly #payloads = new WeakMap<RegisterCall, KeyedPayload>();

  constructor(
    private readonly useCase: RegisterRuntime,
    dynamo: DynamoDBClient,
    keyTable: string,
    private readonly log: Log,
    ttlSeconds: number,
  ) {
    this.keys = new KeyStore(dynamo, keyTable, log);
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'body',
      expiresAfterSeconds: ttlSeconds,
      throwOnNoIdempotencyKey: true,
    });
  }

  /**
   * An outer layer (the handler's deadline guard) answered for this keyed
   * call, from the operation's settled facts. A remembered answer (201, 400,
   * 404) is saved under the key now, before the answer leaves: once it has,
   * the environment may be frozen, and the call's own completion with it; a
   * retry after this call's deadline would then take the key over and run
   * again (meeting its own registration as `conflict`). Conditional on the
   * call's token like every completion; the call's own later completion
   * finds its token used and writes nothing. Other answers are not
   * remembered: the key is left to expire at the call's deadline.
   */
  async rememberOuterAnswer(call: RegisterCall, answer: HttpAnswer): Promise<void> {
    const payload = this.#payloads.get(call);
    if (payload === undefined || !REMEMBERED.has(answer.statusCode)) return;
    try {
      await this.keys.saveSuccess(payload as never, answer as never);
    } catch (err) {
      this.log.error('idempotency key could not be completed with the answer given at the deadline', { source_ref: call.sourceRef, error: err });
    }
  }

  /** A call with a well-formed Idempotency-Key (SafeRetries checked it). */
  async handle(call: RegisterCall, key: string): Promise<HttpAnswer> {
    // What Powertools needs of the Lambda context: the deadline, so that a
    // call that dies holds its key only until then.
    const context = { getRemainingTimeInMillis: call.remainingTimeMs } as Context;
    const payload: KeyedPayload = {
      key,
      body: Buffer.from(call.body ?? '', call.isBase64Encoded ? 'base64' : 'utf8').toString('base64'),
    };
    this.#payloads.set(call, payload);
    let answer: HttpAnswer | undefined;
    const run = makeIdempotent(
      async (_payload: KeyedPayload, _context: Context): Promise<HttpAnswer> => {
        answer = outcomeAnswer(await this.useCase.register(call));
        if (REMEMBERED.has(answer.statusCode)) return answer;
        throw new NotRemembered(answer);
      },
      { persistenceStore: this.keys, config: this.config, keyPrefix: IDEMPOTENCY_KEY_PREFIX },
    );
    try {
      const result = await run(payload, context);
      if (answer !== undefined) return answer;
      this.log.info('idempotent replay', { source_ref: call.sourceRef, status: result.statusCode });
      return { ...result, headers: { ...result.headers, [REPLAYED_HEADER]: 'true' } };
    } catch (err) {
      const inProgressUntil = this.keys.takeInProgressUntil(payload);
      // The operation ran: its answer stands, whatever the key table did after.
      if (answer !== undefined) {
        if (!(err instanceof NotRemembered)) {
          this.log.error('idempotency key could not be completed or released', { source_ref: call.sourceRef, error: err });
        }
        return answer;
      }
      if (err instanceof IdempotencyValidationError) {
        this.log.info('idempotency key reused with another body', { source_ref: call.sourceRef });
        return errorAnswer('idempotency_key_reused', 'Idempotency-Key was already used with a different request body');
      }
      if (err instanceof IdempotencyAlreadyInProgressError) {
        const retryAfter = retryAfterSeconds(inProgressUntil, Date.now());
        this.log.info('idempotent request in progress', { source_ref: call.sourceRef, retry_after_s: retryAfter });
        return errorAnswer('request_in_progress', 'a request with this Idempotency-Key is still in progress', {
          'Retry-After': String(retryAfter),
        });
      }
      this.log.error('idempotency key could not be taken', { source_ref: call.sourceRef, error: err });
      return outcomeAnswer(await this.useCase.reject(call, 'service_unavailable', 'idempotency: the key could not be taken'));
    }
  }
}
