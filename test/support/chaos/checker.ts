/**
 * The checker: judges every registration of a chaos run against what its
 * answers promised, from what the outside can see only (the answers, the
 * metrics and log lines each call printed, the rows left in the tables, the
 * events EventBridge received). It knows the promises, not the code:
 *
 * - `no-500`: no call answers 500, rejects, or goes unanswered;
 * - `201-whole`: a 201 (first-hand or replayed) leaves the game whole: record
 *   `running`, one mapping per member, exactly one outbox item, at least one
 *   event delivered, no failure entry for that call's operation;
 * - `failure-leaves-nothing`: a failure answer (other than 503 "commit outcome
 *   unknown") leaves nothing of its operation (record, mappings, outbox item),
 *   no event was ever delivered for it, no success entry; a game left whole
 *   must belong to a call that answered 201 or "outcome unknown";
 * - `whole-or-nothing`: after the reconciler every game is whole or has
 *   nothing left (what settles an "outcome unknown");
 * - `one-outcome-metric`: exactly one register_runtime_outcomes per operation
 *   (none for a replay, a 422 or a request_in_progress);
 * - `metric-matches-answer`: that metric says what the answer said: success
 *   exactly for a 201, the answer's error code otherwise (the operation's
 *   later work never contradicts what was answered);
 * - `no-event-unless-running`: no event delivered for a game that is not
 *   whole and `running`, nor for another operation than the one that stands;
 * - `one-audit-per-operation`: at most one failure entry per operation, never
 *   a success and a failure entry for the same one, and no reclaim of an
 *   operation that has a success entry;
 * - `replay-matches`: a keyed replay answers what an earlier call with that
 *   key answered (status and body).
 */
import type { CallObservation, ChaosRun, GameState, RegistrationObservation } from './runner.ts';

export type Promise_ =
  | 'no-500'
  | '201-whole'
  | 'failure-leaves-nothing'
  | 'whole-or-nothing'
  | 'one-outcome-metric'
  | 'metric-matches-answer'
  | 'no-event-unless-running'
  | 'one-audit-per-operation'
  | 'replay-matches';

export const PROMISES: readonly Promise_[] = [
  'no-500',
  '201-whole',
  'failure-leaves-nothing',
  'whole-or-nothing',
  'one-outcome-metric',
  'metric-matches-answer',
  'no-event-unless-running',
  'one-audit-per-operation',
  'replay-matches',
];

export interface BrokenPromise {
  promise: Promise_;
  registration: RegistrationObservation;
  /** The call concerned, if one. */
  call?: CallObservation;
  detail: string;
}

export const UNKNOWN_OUTCOME = 'commit outcome unknown';
const OUTCOME_METRIC = 'register_runtime_outcomes';

export type AnswerKind = 'success' | 'unknown' | 'failure' | 'replay' | 'not-a-registration' | 'none';

function errorOf(call: CallObservation): { code?: string; message?: string } {
  const body = call.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const e = body && typeof body === 'object' ? body.error : undefined;
  return { ...(typeof e?.code === 'string' ? { code: e.code } : {}), ...(typeof e?.message === 'string' ? { message: e.message } : {}) };
}

/** What a call's answer is, as far as the promises go. */
export function answerKind(call: CallObservation): AnswerKind {
  if (call.status === undefined) return 'none';
  if (call.headers['idempotent-replayed'] === 'true') return 'replay';
  const { code, message } = errorOf(call);
  if (code === 'idempotency_key_reused' || code === 'request_in_progress') return 'not-a-registration';
  if (call.status === 201) return 'success';
  if (call.status === 503 && message?.includes(UNKNOWN_OUTCOME)) return 'unknown';
  return 'failure';
}

/** A short label of an answer: `201`, `409 conflict`, `503 unknown`, `replay 201`, ... */
export function answerLabel(call: CallObservation): string {
  if (call.noAnswer) return 'no answer';
  if (call.threw !== undefined) return 'rejected';
  const kind = answerKind(call);
  const { code } = errorOf(call);
  if (kind === 'replay') return `replay ${call.status}`;
  if (kind === 'unknown') return '503 outcome unknown';
  if (call.status === 201) return '201';
  return `${call.status} ${code ?? ''}`.trim();
}

type Row = Record<string, unknown>;

interface Whole {
  whole: boolean;
  empty: boolean;
  /** What is missing or left over, when neither whole nor empty. */
  problems: string[];
}

function shapeOf(state: GameState, members: number): Whole {
  const problems: string[] = [];
  const { record, mappings, outbox } = state;
  if (!record && mappings.length === 0 && outbox.length === 0) return { whole: false, empty: true, problems };
  if (!record) problems.push('no runtime record');
  else if (record.status !== 'running') problems.push(`record status ${String(record.status)}`);
  const opId = record?.op_id;
  if (mappings.length !== members) problems.push(`${mappings.length} mappings for ${members} members`);
  const foreign = mappings.filter((m) => m.op_id !== undefined && opId !== undefined && m.op_id !== opId);
  if (foreign.length > 0) problems.push(`${foreign.length} mappings of another operation`);
  if (outbox.length !== 1) problems.push(`${outbox.length} outbox items`);
  else if (opId !== undefined && outbox[0]?.event_id !== opId) problems.push('the outbox item belongs to another operation');
  return { whole: problems.length === 0, empty: false, problems };
}

function entriesOf(log: Row[], call: CallObservation): Row[] {
  return log.filter((e) => e.source_ref === call.id && e.op_source !== 'reconciler');
}

export function check(run: ChaosRun): BrokenPromise[] {
  const broken: BrokenPromise[] = [];
  for (const reg of run.registrations) broken.push(...checkRegistration(reg));
  return broken;
}

export function checkRegistration(reg: RegistrationObservation): BrokenPromise[] {
  const broken: BrokenPromise[] = [];
  const add = (promise: Promise_, detail: string, call?: CallObservation) => broken.push({ promise, registration: reg, detail, ...(call ? { call } : {}) });
  const { state, plan, calls } = reg;
  const shape = shapeOf(state, plan.members);
  const recordOp = state.record?.op_id as string | undefined;
  const accepted = state.events.filter((e) => e.accepted);
  const eventOp = (e: { detail: unknown }) => (e.detail as { event_id?: unknown } | undefined)?.event_id;

  // The game as a whole.
  if (!shape.whole && !shape.empty) add('whole-or-nothing', `left half done: ${shape.problems.join(', ')}`);
  if (accepted.length > 0 && !shape.whole) add('no-event-unless-running', `${accepted.length} event(s) delivered for a game that is ${shape.empty ? 'gone' : 'not whole'}`);
  const strangers = accepted.filter((e) => recordOp !== undefined && eventOp(e) !== recordOp);
  if (shape.whole && strangers.length > 0) add('no-event-unless-running', `${strangers.length} event(s) delivered for another operation than the one that stands`);

  // Which call's operation stands, if any (its success entry names it).
  const standing = recordOp ? state.log.find((e) => e.op_id === recordOp && e.op_source !== 'reconciler') : undefined;
  const standingCall = standing ? calls.find((c) => c.id === standing.source_ref) : undefined;
  if (shape.whole) {
    const owners = standingCall ? [standingCall] : calls;
    if (!owners.some((c) => ['success', 'unknown', 'none'].includes(answerKind(c)) || c.noAnswer || c.threw !== undefined)) {
      add('failure-leaves-nothing', `the registration stands (record running, op ${recordOp}) though ${standingCall ? `its call ${standingCall.id} answered ${answerLabel(standingCall)}` : 'every call answered a failure'}`, standingCall);
    }
  }

  // Audit entries: per operation.
  const byOp = new Map<string, Row[]>();
  for (const e of state.log) {
    if (e.op_source === 'reconciler') continue;
    const op = String(e.op_id);
    byOp.set(op, [...(byOp.get(op) ?? []), e]);
  }
  for (const [op, entries] of byOp) {
    const failures = entries.filter((e) => e.outcome === 'failure').length;
    const successes = entries.filter((e) => e.outcome === 'success').length;
    if (failures > 1 || (failures > 0 && successes > 0) || successes > 1) {
      add('one-audit-per-operation', `operation ${op} has ${successes} success and ${failures} failure entries`);
    }
  }
  for (const e of state.log.filter((x) => x.op_source === 'reconciler')) {
    const reclaimed = String(e.source_ref);
    if ((byOp.get(reclaimed) ?? []).some((x) => x.outcome === 'success')) {
      add('one-audit-per-operation', `the reconciler reclaimed operation ${reclaimed}, which has a success entry`);
    }
  }

  for (const call of calls) {
    const kind = answerKind(call);
    const { code } = errorOf(call);
    const mine = entriesOf(state.log, call);
    const myOps = new Set(mine.map((e) => String(e.op_id)));

    // One call is one operation: one audit entry at most, whatever op_ids its layers used.
    const myFailures = mine.filter((e) => e.outcome === 'failure').length;
    const mySuccesses = mine.filter((e) => e.outcome === 'success').length;
    if (myOps.size > 1 || myFailures > 1 || (myFailures > 0 && mySuccesses > 0)) {
      add('one-audit-per-operation', `one call, ${mySuccesses} success and ${myFailures} failure entries under ${myOps.size} op_ids`, call);
    }

    // no-500
    if (call.noAnswer) add('no-500', `no answer within ${call.deadlineMs + 15_000} ms`, call);
    else if (call.threw !== undefined) add('no-500', `the handler rejected: ${call.threw}`, call);
    else if ((call.status ?? 0) === 500 || (call.status ?? 0) > 503) add('no-500', `answered ${call.status} ${code ?? ''}`, call);

    // 201-whole
    if (call.status === 201 && (kind === 'success' || kind === 'replay')) {
      if (!shape.whole) add('201-whole', `answered 201, but ${shape.empty ? 'nothing is left' : shape.problems.join(', ')}`, call);
      else if (accepted.length === 0) add('201-whole', 'answered 201, but no event was delivered', call);
      if (kind === 'success') {
        const failures = mine.filter((e) => e.outcome === 'failure');
        if (failures.length > 0) add('201-whole', `answered 201, but its operation has a failure entry (${String(failures[0]?.error_code)})`, call);
        if (recordOp && myOps.size > 0 && !myOps.has(recordOp)) add('201-whole', `answered 201, but the record that stands is another operation's (${recordOp})`, call);
      }
      const bodyGame = (call.body as { game_id?: unknown } | undefined)?.game_id;
      const bodyStatus = (call.body as { status?: unknown } | undefined)?.status;
      if (bodyGame !== plan.gameId || bodyStatus !== 'running') add('201-whole', `answered 201 with a body of game ${String(bodyGame)} status ${String(bodyStatus)}`, call);
    }

    // failure-leaves-nothing
    if (kind === 'failure') {
      if (mine.some((e) => e.outcome === 'success')) add('failure-leaves-nothing', `answered ${answerLabel(call)}, but its operation has a success entry`, call);
      for (const op of myOps) {
        const left: string[] = [];
        if (recordOp === op) left.push(`its record (${String(state.record?.status)})`);
        const maps = state.mappings.filter((m) => m.op_id === op).length;
        if (maps > 0) left.push(`${maps} mappings`);
        if (state.outbox.some((o) => o.event_id === op)) left.push('its outbox item');
        const delivered = state.events.filter((e) => e.accepted && eventOp(e) === op).length;
        if (delivered > 0) left.push(`${delivered} delivered event(s)`);
        if (left.length > 0) add('failure-leaves-nothing', `answered ${answerLabel(call)}, but ${left.join(', ')} remain`, call);
      }
    }

    // one-outcome-metric
    if (call.status !== undefined) {
      const outcomes = call.metrics.filter((m) => m.name === OUTCOME_METRIC);
      const expected = kind === 'replay' || kind === 'not-a-registration' ? 0 : 1;
      const list = outcomes.map((m) => `${m.dimensions.outcome}/${m.dimensions.error_code}`).join(', ') || 'none';
      if (outcomes.length !== expected) {
        add('one-outcome-metric', `answered ${answerLabel(call)} and emitted ${outcomes.length} outcome metrics (${list}), expected ${expected}`, call);
      } else if (expected === 1) {
        const m = outcomes[0] as { dimensions: Record<string, string> };
        const ok = kind === 'success' ? m.dimensions.outcome === 'success' : m.dimensions.outcome === 'failure' && m.dimensions.error_code === code;
        if (!ok) add('metric-matches-answer', `answered ${answerLabel(call)} but its outcome metric says ${list}`, call);
      }
    }

    // replay-matches
    if (kind === 'replay') {
      const earlier = calls.filter((c) => c !== call && c.key === call.key && answerKind(c) !== 'replay' && c.status === call.status && canonical(c.body) === canonical(call.body));
      if (earlier.length === 0) {
        add('replay-matches', `replayed ${call.status} ${JSON.stringify(call.body).slice(0, 200)}, which no call with that key answered (${calls.filter((c) => c !== call).map(answerLabel).join(', ')})`, call);
      }
    }
  }
  return broken;
}

/** JSON with object keys sorted: two bodies that say the same compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
