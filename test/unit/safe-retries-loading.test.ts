/**
 * SafeRetries loads its keyed half (Powertools idempotency, a chunk of its
 * own in the bundle) on the first call with a key: never for calls without
 * one or with a malformed key, once per execution environment, and again
 * after a load that failed. The keyed behaviour itself is covered on
 * DynamoDB Local (test/integration/safe-retries.test.ts) and from the
 * packaged bundle (test/deploy/bundle-e2e.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { retryAfterSeconds, TYPICAL_REGISTRATION_S } from '../../lib/http/keyed-retries.ts';
import { type KeyedCalls, SafeRetries } from '../../lib/http/safe-retries.ts';
import type { RegisterCall, RegisterRuntime } from '../../lib/register-runtime/register-runtime.ts';

const call: RegisterCall = {
  body: '{}',
  isBase64Encoded: false,
  opSource: 'lobby_internal',
  sourceRef: 'req-1',
  remainingTimeMs: () => 20_000,
};

function useCaseStub() {
  const register = vi.fn(async () => ({ ok: false as const, code: 'invalid_request' as const, message: 'from register' }));
  const reject = vi.fn(async (_call: RegisterCall, code: 'invalid_request', message: string) => ({ ok: false as const, code, message }));
  return { useCase: { register, reject } as unknown as RegisterRuntime, register, reject };
}

const keyedAnswer = { statusCode: 201, headers: { 'Content-Type': 'application/json' }, body: '{"keyed":true}' };
const remember = async () => {};

describe('SafeRetries: loading the keyed half', () => {
  it('does not load it for a call without a key, nor for a malformed key', async () => {
    const { useCase, register, reject } = useCaseStub();
    const load = vi.fn(async (): Promise<KeyedCalls> => ({ handle: async () => keyedAnswer, rememberOuterAnswer: remember }));
    const retries = new SafeRetries(useCase, load);
    expect((await retries.handle(call, undefined)).statusCode).toBe(400);
    expect((await retries.handle(call, '')).statusCode).toBe(400);
    expect(register).toHaveBeenCalledTimes(1);
    expect(reject).toHaveBeenCalledTimes(1);
    expect(load).not.toHaveBeenCalled();
  });

  it('loads it once for every keyed call of the environment, and hands it the call and the key', async () => {
    const { useCase, register } = useCaseStub();
    const handle = vi.fn(async () => keyedAnswer);
    const load = vi.fn(async (): Promise<KeyedCalls> => ({ handle, rememberOuterAnswer: remember }));
    const retries = new SafeRetries(useCase, load);
    const answers = await Promise.all([retries.handle(call, 'key-0001'), retries.handle(call, 'key-0002')]);
    expect(await retries.handle(call, 'key-0003')).toEqual(keyedAnswer);
    expect(answers).toEqual([keyedAnswer, keyedAnswer]);
    expect(load).toHaveBeenCalledTimes(1);
    expect(handle.mock.calls).toEqual([
      [call, 'key-0001'],
      [call, 'key-0002'],
      [call, 'key-0003'],
    ]);
    expect(register).not.toHaveBeenCalled();
  });

  it('a failed load fails that call (the handler answers it as an unhandled error) and is tried again by the next', async () => {
    const { useCase, register } = useCaseStub();
    const load = vi
      .fn<() => Promise<KeyedCalls>>()
      .mockRejectedValueOnce(new Error('chunk missing'))
      .mockResolvedValue({ handle: async () => keyedAnswer, rememberOuterAnswer: remember });
    const retries = new SafeRetries(useCase, load);
    await expect(retries.handle(call, 'key-0001')).rejects.toThrow('chunk missing');
    expect(await retries.handle(call, 'key-0001')).toEqual(keyedAnswer);
    expect(load).toHaveBeenCalledTimes(2);
    // Nothing ran for the call whose load failed.
    expect(register).not.toHaveBeenCalled();
  });
});

describe('retryAfterSeconds (Retry-After of request_in_progress)', () => {
  const now = 1_700_000_000_000;

  it('is the time a registration typically still needs while the running call has longer than that left', () => {
    expect(retryAfterSeconds(now + 28_000, now)).toBe(TYPICAL_REGISTRATION_S);
    expect(retryAfterSeconds(now + TYPICAL_REGISTRATION_S * 1000, now)).toBe(TYPICAL_REGISTRATION_S);
    expect(TYPICAL_REGISTRATION_S).toBeGreaterThanOrEqual(1);
    expect(TYPICAL_REGISTRATION_S).toBeLessThanOrEqual(2);
  });

  it('is never more than the whole seconds left before the key expires, and at least 1', () => {
    expect(retryAfterSeconds(now + 1_999, now)).toBe(1);
    expect(retryAfterSeconds(now + 1_000, now)).toBe(1);
    expect(retryAfterSeconds(now + 100, now)).toBe(1);
    expect(retryAfterSeconds(now - 5_000, now)).toBe(1);
  });

  it('is the typical time when the running call\'s expiry is unknown', () => {
    expect(retryAfterSeconds(undefined, now)).toBe(TYPICAL_REGISTRATION_S);
  });
});
