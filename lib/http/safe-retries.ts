/**
 * Safe retries: the optional `Idempotency-Key` header, on Powertools
 * idempotency with its DynamoDB persistence layer.
 *
 * - Remembered: 201, 400, 404 (what the wrapped function returns is saved).
 * - Not remembered: 409 conflict and every 5xx: the wrapped function throws
 *   NotRemembered, Powertools deletes the key, and the answer is returned
 *   from here, so a retry runs the operation again.
 * - Same key, other body: 422 idempotency_key_reused (payload validation on
 *   the raw body bytes). Same key while running: 409 request_in_progress
 *   with Retry-After the time a registration typically still needs (a
 *   second or two), never more than the running call's in-progress expiry,
 *   which is its Lambda deadline (so a call that died stops blocking its
 *   key then).
 * - The key cannot be taken: 503 service_unavailable, audited, nothing ran.
 *   Completing or releasing the key fails after the operation ran: the
 *   operation's own answer stands.
 *
 * This half answers calls without a key and refuses malformed keys; the
 * keyed half (keyed-retries.ts) is loaded by the first well-formed key.
 */
import type { RegisterCall, RegisterRuntime } from '../register-runtime/register-runtime.ts';
import { idempotencyKeyProblem } from '../register-runtime/validation.ts';
import { type HttpAnswer, outcomeAnswer } from './responses.ts';

/** What handles a call with a well-formed key: KeyedRetries (keyed-retries.ts), loaded on first use. */
export interface KeyedCalls {
  handle(call: RegisterCall, key: string): Promise<HttpAnswer>;
  /** Saves an answer an outer layer gave for a keyed call under its key, when it is a remembered one. */
  rememberOuterAnswer(call: RegisterCall, answer: HttpAnswer): Promise<void>;
}

export class SafeRetries {
  #keyed: Promise<KeyedCalls> | undefined;

  constructor(
    private readonly useCase: RegisterRuntime,
    /** Loads the keyed half; called once per execution environment, on the first keyed call. */
    private readonly loadKeyed: () => Promise<KeyedCalls>,
  ) {}

  /** The registration, made safe to retry when the caller sent an Idempotency-Key. */
  async handle(call: RegisterCall, key: string | undefined): Promise<HttpAnswer> {
    if (key === undefined) return outcomeAnswer(await this.useCase.register(call));
    // The key is checked before anything else is looked at.
    const problem = idempotencyKeyProblem(key);
    if (problem !== undefined) return outcomeAnswer(await this.useCase.reject(call, 'invalid_request', problem));
    return (await this.keyed()).handle(call, key);
  }

  /**
   * The deadline guard answered for this call: its answer, when remembered,
   * goes under the call's key before it leaves (KeyedRetries). A call
   * without a key, or whose keyed half never loaded, has no key to complete.
   */
  async rememberOuterAnswer(call: RegisterCall, answer: HttpAnswer): Promise<void> {
    const keyed = this.#keyed;
    if (keyed === undefined) return;
    try {
      await (await keyed).rememberOuterAnswer(call, answer);
    } catch {
      // The keyed half failed to load: no call took a key through it.
    }
  }

  private keyed(): Promise<KeyedCalls> {
    // A failed load is not kept: the next keyed call tries again.
    this.#keyed ??= this.loadKeyed().catch((err: unknown) => {
      this.#keyed = undefined;
      throw err;
    });
    return this.#keyed;
  }
}
