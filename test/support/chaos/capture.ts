/**
 * Who printed what: every EMF document and every Powertools log line
 * printed on stdout/stderr is attributed to the call (or the relay round,
 * or the reconciler tick) in whose asynchronous context it was printed,
 * through an AsyncLocalStorage entered around each call. Work an operation
 * goes on doing after its answer (a deadline guard answered for it) stays
 * in its context, so its late metrics are still counted as its own.
 *
 * Captured lines are not printed; any other output passes through.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CapturedMetric {
  name: string;
  dimensions: Record<string, string>;
}

export interface CapturedLog {
  level: string;
  message: string;
  line: Record<string, unknown>;
}

export interface OutputCapture {
  /** Runs `fn` as context `id`: what it prints, now or later, is `id`'s. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T>;
  metrics(id: string): CapturedMetric[];
  logs(id: string): CapturedLog[];
  /** Metrics printed outside any context. */
  stray(): CapturedMetric[];
  restore(): void;
}

type Write = typeof process.stdout.write;

export function captureOutput(): OutputCapture {
  const als = new AsyncLocalStorage<string>();
  const metrics = new Map<string, CapturedMetric[]>();
  const logs = new Map<string, CapturedLog[]>();
  const strays: CapturedMetric[] = [];

  const patch = (stream: NodeJS.WriteStream): (() => void) => {
    const original = stream.write;
    const passOn = original.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : undefined;
      if (text === undefined || !text.startsWith('{')) return passOn(chunk, ...rest);
      const id = als.getStore();
      const kept: string[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        let parsed: Record<string, unknown> | undefined;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          parsed = undefined;
        }
        if (parsed && typeof parsed._aws === 'object' && parsed._aws !== null) {
          for (const m of flatten(parsed)) (id === undefined ? strays : listOf(metrics, id)).push(m);
        } else if (parsed && typeof parsed.level === 'string' && typeof parsed.message === 'string') {
          if (id !== undefined) listOf(logs, id).push({ level: parsed.level, message: parsed.message, line: parsed });
        } else {
          kept.push(`${line}\n`);
        }
      }
      if (kept.length > 0) return passOn(kept.join(''), ...rest);
      const callback = rest.find((arg) => typeof arg === 'function') as ((err?: Error | null) => void) | undefined;
      callback?.(null);
      return true;
    }) as Write;
    return () => {
      stream.write = original;
    };
  };
  const restores = [patch(process.stdout), patch(process.stderr)];

  return {
    run: (id, fn) => als.run(id, fn),
    metrics: (id) => metrics.get(id) ?? [],
    logs: (id) => logs.get(id) ?? [],
    stray: () => strays,
    restore() {
      for (const r of restores) r();
    },
  };
}

function listOf<T>(map: Map<string, T[]>, id: string): T[] {
  let list = map.get(id);
  if (!list) {
    list = [];
    map.set(id, list);
  }
  return list;
}

function flatten(doc: Record<string, unknown>): CapturedMetric[] {
  const aws = doc._aws as { CloudWatchMetrics?: { Dimensions?: string[][]; Metrics?: { Name: string }[] }[] };
  return (aws.CloudWatchMetrics ?? []).flatMap((directive) => {
    const names = [...new Set((directive.Dimensions ?? []).flat())];
    const dimensions = Object.fromEntries(names.map((n) => [n, String(doc[n])]));
    return (directive.Metrics ?? []).map((m) => ({ name: m.Name, dimensions }));
  });
}
