/**
 * The one Powertools Logger and Metrics of the process, created once at
 * module load (cold start) and shared by handlers and adapters.
 *
 * Every metric of this service is emitted through `metrics.singleMetric()`
 * (see lib/adapters/telemetry.ts) so that each carries only its own
 * dimensions; the shared object therefore usually holds nothing when the
 * `logMetrics` middleware flushes it at the end of an invocation. Stock
 * Powertools warns on every such empty flush, so the shared object is a
 * `QuietMetrics` that flushes nothing, silently, when it holds nothing.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const DEFAULT_SERVICE_NAME = 'game-master';
export const DEFAULT_METRICS_NAMESPACE = 'Galaxy/GameMaster';

/** Metrics whose flush of an empty store is a silent no-op instead of a warning. */
export class QuietMetrics extends Metrics {
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) return super.publishStoredMetrics();
    // What the stock flush would have cleared, minus the warning and the
    // metric-less EMF document.
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
}

function fromEnv(name: string, fallback: string): string {
  return process.env[name]?.trim() || fallback;
}

export const serviceName = fromEnv('POWERTOOLS_SERVICE_NAME', DEFAULT_SERVICE_NAME);

export const logger = new Logger({ serviceName });

export const metrics = new QuietMetrics({
  namespace: fromEnv('POWERTOOLS_METRICS_NAMESPACE', DEFAULT_METRICS_NAMESPACE),
  serviceName,
  // Powertools' own warnings (bad dimension, ...) become structured log
  // lines; EMF documents still go straight to stdout.
  logger,
});
