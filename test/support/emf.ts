/**
 * Captures the CloudWatch EMF documents Powertools Metrics prints.
 *
 * How Powertools prints (metrics 2.35, lib/esm/Metrics.js): outside dev
 * mode each Metrics object (and each `singleMetric()`) builds its own
 * `new Console({ stdout: process.stdout })` and writes one JSON line per
 * flush through `process.stdout.write`. Spying on `process.stdout.write`
 * therefore catches every document, whenever the Metrics object was
 * created; `vi.spyOn(console, 'log')` catches nothing.
 *
 * With `POWERTOOLS_DEV=true` it prints through the global console instead
 * and, unless `POWERTOOLS_METRICS_DISABLED=false`, prints nothing at all;
 * `POWERTOOLS_METRICS_DISABLED=true` also silences it. Those are read when
 * a Metrics object is constructed, so captureEmf() refuses to run under
 * them rather than let a test pass on an empty capture.
 *
 * Usage:
 *   const emf = captureEmf();           // before the code under test runs
 *   ...act...
 *   expect(emf.metrics()).toEqual([...]);
 *   emf.restore();                      // or `using emf = captureEmf()`
 */
import { vi } from 'vitest';

/** One EMF document as printed. */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string; StorageResolution?: number }[] }[];
  };
  [key: string]: unknown;
}

/** One metric of a document, flattened for assertions. */
export interface EmfMetric {
  namespace: string;
  name: string;
  unit: string;
  value: unknown;
  /** The dimension sets the metric is published under (EMF `Dimensions`). */
  dimensionSets: string[][];
  /** Name -> value of every dimension named in those sets. */
  dimensions: Record<string, string>;
}

export interface EmfCapture extends Disposable {
  /** Every EMF document printed since capture started. */
  documents(): EmfDocument[];
  /** Every metric of every document, in print order. */
  metrics(): EmfMetric[];
  /** Stops capturing (other stdout output was passed through all along). */
  restore(): void;
}

function isEmf(value: unknown): value is EmfDocument {
  return typeof value === 'object' && value !== null && '_aws' in value;
}

function flatten(doc: EmfDocument): EmfMetric[] {
  return doc._aws.CloudWatchMetrics.flatMap((directive) => {
    const names = [...new Set(directive.Dimensions.flat())];
    const dimensions = Object.fromEntries(names.map((n) => [n, String(doc[n])]));
    return directive.Metrics.map((m) => ({
      namespace: directive.Namespace,
      name: m.Name,
      unit: m.Unit,
      value: doc[m.Name],
      dimensionSets: directive.Dimensions,
      dimensions,
    }));
  });
}

export function captureEmf(): EmfCapture {
  const dev = process.env.POWERTOOLS_DEV?.trim().toLowerCase();
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  if (['1', 'true', 'on', 'yes', 'y'].includes(disabled ?? '') || (['1', 'true', 'on', 'yes', 'y'].includes(dev ?? '') && disabled === undefined)) {
    throw new Error('captureEmf: Powertools metrics are disabled (POWERTOOLS_DEV / POWERTOOLS_METRICS_DISABLED); unset them for this test');
  }

  const docs: EmfDocument[] = [];
  let pending = '';
  const original = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    const passThrough: string[] = [];
    for (const line of lines) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (isEmf(parsed)) docs.push(parsed);
      else passThrough.push(`${line}\n`);
    }
    if (passThrough.length > 0) return (original as (...args: unknown[]) => boolean)(passThrough.join(''), ...rest);
    // Console passes a callback for write errors; a swallowed write still completes.
    const callback = rest.find((arg) => typeof arg === 'function') as ((err: Error | null) => void) | undefined;
    callback?.(null);
    return true;
  }) as typeof process.stdout.write);

  const restore = () => {
    spy.mockRestore();
    if (pending) original(pending);
    pending = '';
  };
  return {
    documents: () => [...docs],
    metrics: () => docs.flatMap(flatten),
    restore,
    [Symbol.dispose]: restore,
  };
}
