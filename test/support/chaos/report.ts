/**
 * The chaos run's table: registrations, faults injected by kind and step,
 * answers by status, relay rounds and reconciler ticks, broken promises by
 * kind, then each broken registration with its seed, its plan, what each
 * call answered and what was left.
 */
import { answerLabel, type BrokenPromise, PROMISES } from './checker.ts';
import { describePlan, type Step, type StoreFault } from './plan.ts';
import type { ChaosRun, RegistrationObservation } from './runner.ts';

const STEPS: readonly Step[] = ['read', 'key', 'insert', 'mappings', 'commit', 'records-write-after-commit', 'after-commit', 'any'];
const MODES: readonly StoreFault[] = ['internal-error', 'throttle', 'commit-then-drop', 'drop', 'hang', 'delay'];

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of items) m.set(key(t), (m.get(key(t)) ?? 0) + 1);
  return m;
}

/** One line: the plan, and what its calls were answered. */
export function describeAnswers(reg: RegistrationObservation): string {
  const answers = reg.calls.map((c) => `${answerLabel(c)}${c.answeredAt !== undefined ? ` ${c.answeredAt - c.startedAt} ms` : ''}`).join(' | ');
  return `${describePlan(reg.plan)} -> ${answers}`;
}

/** What one registration did and left, for a broken promise's evidence. */
export function describeRegistration(reg: RegistrationObservation): string {
  const lines = [`  plan: ${describePlan(reg.plan)}`];
  const injected = reg.faults.filter((f) => f.injected > 0).map((f) => `${f.spec.mode}@${f.spec.step} x${f.injected}`);
  lines.push(
    `  faults injected: ${injected.join(', ') || 'none'}${reg.unplannedTimeouts > 0 ? `; and ${reg.unplannedTimeouts} store request(s) without a fault that the caller gave up waiting for` : ''}`,
  );
  for (const c of reg.calls) {
    const ms = c.answeredAt !== undefined ? `${c.answeredAt - c.startedAt} ms` : '-';
    const message = (c.body as { error?: { message?: unknown } } | undefined)?.error?.message;
    const metrics = c.metrics.filter((m) => m.name === 'register_runtime_outcomes').map((m) => `${m.dimensions.outcome}/${m.dimensions.error_code}`);
    lines.push(
      `  call ${c.id} (${c.role}, ${c.env}${c.key ? ', keyed' : ''}, deadline ${c.deadlineMs} ms): ${answerLabel(c)} in ${ms}${typeof message === 'string' ? ` "${message}"` : ''}; outcome metrics: ${metrics.join(', ') || 'none'}`,
    );
    const notable = c.logs.filter((l) => l.level !== 'INFO' || /commit|fence|roll|stand|lost|abandon/i.test(l.message));
    for (const l of notable.slice(0, 8)) lines.push(`    log ${l.level}: ${l.message}${l.line.error_code ? ` (${String(l.line.error_code)})` : ''}`);
  }
  const s = reg.state;
  lines.push(
    `  left: record ${s.record ? `${String(s.record.status)} op ${String(s.record.op_id)}` : 'none'}; ${s.mappings.length} mappings; ${s.outbox.length} outbox items; ` +
      `events ${s.events.filter((e) => e.accepted).length} delivered / ${s.events.length} sent`,
  );
  for (const e of s.log) lines.push(`  audit: ${String(e.op_source)} ${String(e.outcome)} ${String(e.error_code ?? '')} op ${String(e.op_id)} ref ${String(e.source_ref)}`);
  return lines.join('\n');
}

export function report(run: ChaosRun, broken: readonly BrokenPromise[]): string {
  const out: string[] = [];
  const calls = run.registrations.flatMap((r) => r.calls);
  out.push(
    `chaos seed ${run.seed}: ${run.registrations.length} registrations, ${calls.length} calls, ${run.lanes} lanes, ${(run.durationMs / 1000).toFixed(1)} s ` +
      `(setup ${(run.phasesMs.setup / 1000).toFixed(1)} s, play ${(run.phasesMs.play / 1000).toFixed(1)} s, reconcile and drain ${(run.phasesMs.settle / 1000).toFixed(1)} s)`,
  );
  const planned = (p: (r: RegistrationObservation) => boolean) => run.registrations.filter(p).length;
  out.push(
    `  keyed ${planned((r) => r.plan.keyed)}, retried ${planned((r) => r.plan.retry)}, parallel environments ${planned((r) => r.plan.parallel)}, tight deadline ${planned((r) => r.plan.deadlineMs < 28_000)}, ` +
      `engine: ${[...countBy(run.registrations, (r) => r.plan.engine.kind)].map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );

  const tight = calls.filter((c) => c.deadlineMs < 28_000);
  const nearDeadline = calls.filter((c) => c.answeredAt !== undefined && c.answeredAt - c.startedAt >= c.deadlineMs - 1250);
  out.push(`  calls with a tight deadline ${tight.length}; answered within 1.25 s of their deadline (the deadline guard's window) ${nearDeadline.length}`);

  // Faults injected: kind x step.
  const cell = new Map<string, number>();
  for (const r of run.registrations) for (const f of r.faults) cell.set(`${f.spec.mode}|${f.spec.step}`, (cell.get(`${f.spec.mode}|${f.spec.step}`) ?? 0) + f.injected);
  const rows = MODES.map((m) => [m, ...STEPS.map((s) => String(cell.get(`${m}|${s}`) ?? 0)), String(STEPS.reduce((t, s) => t + (cell.get(`${m}|${s}`) ?? 0), 0))]);
  out.push('', 'DynamoDB faults injected (requests), by kind and step:', table(['kind', ...STEPS, 'total'], rows));
  const unplanned = run.registrations.reduce((t, r) => t + r.unplannedTimeouts, 0);
  out.push(
    `Store requests without a fault that the caller gave up waiting for (its request timeout on a slow DynamoDB Local, or its own abort): ${unplanned}, in ${run.registrations.filter((r) => r.unplannedTimeouts > 0).length} registrations`,
  );

  // Answers.
  const answers = [...countBy(calls, answerLabel)].sort((a, b) => a[0].localeCompare(b[0]));
  out.push('', 'Answers:', table(['answer', 'calls'], answers.map(([k, v]) => [k, String(v)])));

  // Relay and reconciler.
  const rounds = [...countBy(run.relayRounds, (r) => r.mode)].map(([k, v]) => `${k} ${v}`).join(', ');
  const delivered = calls.length > 0 ? run.registrations.reduce((t, r) => t + r.state.events.filter((e) => e.accepted).length, 0) : 0;
  out.push(
    '',
    `Relay: ${run.relayRounds.length} rounds (${rounds}), ${run.relayRounds.reduce((t, r) => t + r.records, 0)} records handed, ${run.relayRounds.reduce((t, r) => t + r.failed, 0)} reported failed, ${run.relayRounds.filter((r) => r.error).length} rounds in error; ${delivered} events delivered`,
  );
  const relayError = run.relayRounds.find((r) => r.error)?.error;
  if (relayError) out.push(`  first relay round in error: ${relayError.slice(0, 300)}`);
  const ticks = run.reconcilerTicks;
  out.push(
    `Reconciler: ${ticks.length} ticks (${ticks.filter((t) => t.faulted > 0).length} with store faults, ${ticks.filter((t) => t.error).length} in error), ${ticks.reduce((t, x) => t + x.examined, 0)} examined, ${ticks.reduce((t, x) => t + x.reclaimed, 0)} reclaimed`,
  );
  const tickError = ticks.find((t) => t.error)?.error;
  if (tickError) out.push(`  first reconciler tick in error: ${tickError.slice(0, 300)}`);
  if (run.strayMetrics.length > 0) out.push(`Metrics printed outside any call: ${run.strayMetrics.length}`);

  // Broken promises.
  const byPromise = countBy(broken, (b) => b.promise);
  const regsBroken = new Set(broken.map((b) => b.registration.plan.index));
  out.push(
    '',
    `Broken promises: ${broken.length} in ${regsBroken.size} of ${run.registrations.length} registrations`,
    table(['promise', 'broken'], PROMISES.map((p) => [p, String(byPromise.get(p) ?? 0)])),
  );
  const seen = new Set<number>();
  for (const b of broken) {
    const reg = b.registration;
    if (seen.has(reg.plan.index)) continue;
    seen.add(reg.plan.index);
    out.push('', `BROKEN #${reg.plan.index} (seed ${run.seed}, registration seed ${reg.plan.seed}; replay: npm run chaos -- --seed ${run.seed} --only ${reg.plan.index})`);
    for (const x of broken.filter((y) => y.registration === reg)) out.push(`  ${x.promise}: ${x.detail}${x.call ? ` [${x.call.id}]` : ''}`);
    out.push(describeRegistration(reg));
  }
  return out.join('\n');
}
