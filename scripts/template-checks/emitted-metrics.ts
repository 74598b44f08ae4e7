/**
 * The custom metrics the code really emits, as CloudWatch will see them:
 * the functions' own telemetry adapter (lib/adapters/telemetry.ts, the one
 * every function uses) is driven through each of its emissions, with every
 * outcome and error code a registration or the reconciler can report, and
 * the EMF documents Powertools prints are parsed back. What an alarm or a
 * dashboard widget names is then compared with what comes out, dimension
 * set included (test/support/emf.ts reads the same documents in the tests).
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PowertoolsTelemetry } from '../../lib/adapters/telemetry.ts';
import type { Telemetry } from '../../lib/ports.ts';
import type { Log } from '../../lib/ports.ts';
import { ERROR_CODES } from '../../lib/domain/errors.ts';
import { ABANDONED_CODE } from '../../lib/reconcile-starting/reconcile-starting.ts';

export interface EmittedMetric {
  namespace: string;
  name: string;
  /** The dimension names of the document, sorted (Powertools emits one set per metric). */
  dimensionNames: string[];
  dimensions: Record<string, string>;
}

interface EmfDocument {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

const silent: Log = { info() {}, warn() {}, error() {} };

/** Every metric document the telemetry adapter prints, for the given namespace and service. */
export function emittedMetrics(namespace: string, serviceName: string): EmittedMetric[] {
  const printed: string[] = [];
  const write = process.stdout.write;
  const dev = process.env.POWERTOOLS_DEV;
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_DEV;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const callback = rest.find((arg) => typeof arg === 'function') as ((error?: Error | null) => void) | undefined;
    callback?.(null);
    return true;
  }) as typeof process.stdout.write;
  try {
    const telemetry = new PowertoolsTelemetry(new Metrics({ namespace, serviceName }), silent);
    // One driver per method of the Telemetry port: a metric added to the
    // port does not compile until it is driven here too.
    const drive: Record<keyof Telemetry, () => void> = {
      registerOutcome: () => {
        telemetry.registerOutcome('success', 'none');
        for (const code of [...ERROR_CODES, ABANDONED_CODE]) telemetry.registerOutcome('failure', code);
      },
      eventPublished: () => telemetry.eventPublished('runtime_snapshot_update'),
      eventDeliveryLag: () => telemetry.eventDeliveryLag('runtime_snapshot_update', 1),
      oldestStartingAge: () => telemetry.oldestStartingAge(0),
    };
    for (const run of Object.values(drive)) run();
  } finally {
    process.stdout.write = write;
    if (dev === undefined) delete process.env.POWERTOOLS_DEV;
    else process.env.POWERTOOLS_DEV = dev;
    if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  }
  const metrics: EmittedMetric[] = [];
  for (const line of printed.join('').split('\n')) {
    let doc: EmfDocument | undefined;
    try {
      doc = JSON.parse(line) as EmfDocument;
    } catch {
      continue;
    }
    for (const directive of doc?._aws?.CloudWatchMetrics ?? []) {
      for (const set of directive.Dimensions) {
        const dimensions = Object.fromEntries(set.map((name) => [name, String(doc?.[name])]));
        for (const metric of directive.Metrics) {
          metrics.push({ namespace: directive.Namespace, name: metric.Name, dimensionNames: [...set].sort(), dimensions });
        }
      }
    }
  }
  return metrics;
}
