/**
 * The chaos plan: for each registration, what the world does to it, drawn
 * from a PRNG seeded by (run seed, registration index), so that a run is
 * replayed with the same `--seed` and one registration's plan can be
 * printed, read and re-run alone (`--only`).
 *
 * The plan speaks only of what the outside sees: DynamoDB requests (by
 * operation and table, as they cross the wire), the engine's answers, the
 * Lambda deadline, the HTTP call (keyed or not, retried, sent from two
 * environments at once). It knows nothing of how the registration is
 * coded.
 */

/** mulberry32: small, fast, good enough to draw plans from. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's finaliser: every input bit moves every output bit. */
function mix(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed of registration `index` of a run (its plan depends on nothing else). */
export function registrationSeed(runSeed: number, index: number): number {
  return mix(mix(runSeed) + Math.imul(index + 1, 0x9e3779b9));
}

/**
 * Where a fault hits, as seen on the wire (each matched on the request's
 * operation and tables only):
 * - `read`: a read (GetItem, BatchGetItem, Query, TransactGetItems) of the
 *   runtime records or engine versions table;
 * - `key`: any request on the idempotency table;
 * - `insert`: a PutItem on the runtime records table;
 * - `mappings`: a write on the player mappings table that is not the commit;
 * - `commit`: the TransactWriteItems carrying an Update on the runtime
 *   records table and a Put on the outbox table;
 * - `records-write-after-commit`: a write on the runtime records table once
 *   the commit was sent (what undoes or settles it);
 * - `after-commit`: any request once the commit was sent (a brownout);
 * - `any`: any request of the registration (`after` counts them).
 */
export type Step = 'read' | 'key' | 'insert' | 'mappings' | 'commit' | 'records-write-after-commit' | 'after-commit' | 'any';

/** The proxy's modes the chaos draws from (test/support/dynamo-proxy.ts). */
export type StoreFault = 'internal-error' | 'throttle' | 'commit-then-drop' | 'drop' | 'hang' | 'delay';

export interface FaultSpec {
  step: Step;
  mode: StoreFault;
  /** Matching requests let through first. */
  after: number;
  /** Matching requests faulted (1: a single fault; more: a brownout). */
  times: number;
  /** Wait before acting (the mode `delay`, or a late 500 / a late commit). */
  delayMs: number;
}

export type EngineBehaviour =
  | { kind: 'ok' }
  | { kind: 'slow'; ms: number }
  | { kind: 'status'; status: number }
  | { kind: 'wrong-roster' | 'renamed-race' | 'duplicate-race' | 'hang' | 'not-json' };

export interface RegistrationPlan {
  index: number;
  seed: number;
  gameId: string;
  members: number;
  /** The call carries an Idempotency-Key. */
  keyed: boolean;
  /** After the answer(s), Lobby calls again with the same key and body (keyed only). */
  retry: boolean;
  /** Two execution environments are called at once for this game (same key when keyed). */
  parallel: boolean;
  /** The Lambda's remaining time at the call (28 000 ms deployed; less: the deadline guard fires). */
  deadlineMs: number;
  engine: EngineBehaviour;
  faults: FaultSpec[];
}

/** The deployed function's remaining time at the start of a call. */
export const DEPLOYED_DEADLINE_MS = 28_000;

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)] as T;
}

function between(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

/** Weighted choice: `[weight, value]` pairs. */
function weighted<T>(rnd: () => number, choices: readonly (readonly [number, T])[]): T {
  const total = choices.reduce((s, [w]) => s + w, 0);
  let r = rnd() * total;
  for (const [w, v] of choices) {
    r -= w;
    if (r < 0) return v;
  }
  return (choices.at(-1) as readonly [number, T])[1];
}

function drawEngine(rnd: () => number): EngineBehaviour {
  return weighted<() => EngineBehaviour>(rnd, [
    [56, () => ({ kind: 'ok' })],
    [14, () => ({ kind: 'slow', ms: between(rnd, 100, 3000) })],
    [7, () => ({ kind: 'status', status: pick(rnd, [500, 502, 503]) })],
    [6, () => ({ kind: 'status', status: pick(rnd, [400, 409, 422]) })],
    [9, () => ({ kind: pick(rnd, ['wrong-roster', 'renamed-race', 'duplicate-race'] as const) })],
    [4, () => ({ kind: 'not-json' })],
    [4, () => ({ kind: 'hang' })],
  ])();
}

function drawFault(rnd: () => number): FaultSpec {
  const step = weighted<Step>(rnd, [
    [3, 'read'],
    [2, 'key'],
    [3, 'insert'],
    [1, 'mappings'],
    [6, 'commit'],
    [3, 'records-write-after-commit'],
    [3, 'after-commit'],
    [4, 'any'],
  ]);
  const mode = weighted<StoreFault>(rnd, [
    [5, 'internal-error'],
    [4, 'throttle'],
    [step === 'commit' ? 7 : 3, 'commit-then-drop'],
    [1, 'drop'],
    [1, 'hang'],
    [2, 'delay'],
  ]);
  const brownout = rnd() < 0.35;
  return {
    step,
    mode,
    after: step === 'any' ? between(rnd, 0, 6) : step === 'after-commit' || step === 'records-write-after-commit' ? between(rnd, 0, 1) : 0,
    // A hang costs a request timeout (2 s) per attempt: never a long run of them.
    times: brownout ? between(rnd, 2, mode === 'hang' ? 3 : 9) : 1,
    delayMs: mode === 'delay' ? between(rnd, 150, 2500) : rnd() < 0.15 ? between(rnd, 50, 1200) : 0,
  };
}

/** The plan of registration `index` of the run seeded `runSeed`. */
export function planRegistration(runSeed: number, index: number): RegistrationPlan {
  const seed = registrationSeed(runSeed, index);
  const rnd = prng(seed);
  const keyed = rnd() < 0.5;
  const retry = keyed && rnd() < 0.5;
  const parallel = rnd() < 0.12;
  const tight = rnd() < 0.35;
  const deadlineMs = tight ? between(rnd, 1200, 4800) : DEPLOYED_DEADLINE_MS;
  const engine = drawEngine(rnd);
  const faults: FaultSpec[] = [];
  const shape = rnd();
  if (shape < 0.2) {
    // The brownout of the issue: the commit lands unseen, then the store fails for a while.
    faults.push({ step: 'commit', mode: 'commit-then-drop', after: 0, times: between(rnd, 1, 3), delayMs: 0 });
    const mode = weighted(rnd, [
      [5, 'internal-error'],
      [4, 'throttle'],
      [1, 'hang'],
    ] as const);
    // A hung request costs the SDK's request timeout (2 s): a few of them are a long brownout already.
    const times = between(rnd, 2, 12);
    faults.push({ step: 'after-commit', mode, after: 0, times: mode === 'hang' ? Math.min(times, 4) : times, delayMs: 0 });
  } else if (shape < 0.72) {
    const n = between(rnd, 1, 3);
    for (let i = 0; i < n; i++) faults.push(drawFault(rnd));
  }
  return {
    index,
    seed,
    gameId: `g-chaos-${runSeed}-${index}`,
    // Now and then a roster too large for one transaction (over 100 actions):
    // its mappings go out ahead of the commit.
    members: rnd() < 0.04 ? between(rnd, 101, 130) : between(rnd, 1, 3),
    keyed,
    retry,
    parallel,
    deadlineMs,
    engine,
    faults,
  };
}

/** One line that says what the plan does. */
export function describePlan(plan: RegistrationPlan): string {
  const call = [
    plan.keyed ? 'keyed' : 'unkeyed',
    plan.retry ? '+retry' : '',
    plan.parallel ? '+parallel-envs' : '',
    plan.deadlineMs < DEPLOYED_DEADLINE_MS ? `deadline ${plan.deadlineMs} ms` : 'deadline 28 s',
    `${plan.members} member${plan.members === 1 ? '' : 's'}`,
  ]
    .filter(Boolean)
    .join(' ');
  const engine =
    plan.engine.kind === 'slow' ? `engine slow ${plan.engine.ms} ms` : plan.engine.kind === 'status' ? `engine ${plan.engine.status}` : `engine ${plan.engine.kind}`;
  const faults =
    plan.faults.length === 0
      ? 'no store fault'
      : plan.faults
          .map((f) => `${f.mode}${f.delayMs > 0 && f.mode !== 'delay' ? `(+${f.delayMs} ms)` : f.mode === 'delay' ? ` ${f.delayMs} ms` : ''} @${f.step}${f.after > 0 ? ` after ${f.after}` : ''}${f.times > 1 ? ` x${f.times}` : ''}`)
          .join(', ');
  return `#${plan.index} seed ${plan.seed} ${plan.gameId}: ${call}; ${engine}; ${faults}`;
}

/**
 * A rough guess of how long a plan keeps its lane busy (ms): used only to
 * start the long ones first, so that the run does not end waiting on one
 * long registration that started last.
 */
export function expectedCostMs(plan: RegistrationPlan): number {
  const engine = plan.engine.kind === 'hang' ? 2500 : plan.engine.kind === 'slow' ? plan.engine.ms : 100;
  const store = plan.faults.reduce((t, f) => {
    const each = f.mode === 'hang' ? 2000 : f.mode === 'delay' ? f.delayMs : f.mode === 'commit-then-drop' || f.mode === 'drop' ? 600 : 400;
    return t + each * f.times + f.delayMs;
  }, 0);
  const bounded = Math.min(plan.deadlineMs, engine + store + 200);
  return (bounded + (plan.deadlineMs < DEPLOYED_DEADLINE_MS ? 1500 : 0)) * (plan.retry ? 1.5 : 1);
}
