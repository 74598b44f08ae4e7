/**
 * The one Powertools Logger and Metrics of the process, created once at
 * module load (cold start) and shared by handlers and adapters.
 *
 * Every metric of this service is emitted through `metrics.singleMetric()`
 * (see lib/adapters/telemetry.ts), which prints at once with only its own
 * dimensions; nothing is ever stored on the shared object, so no handler
 * needs the `logMetrics` flush.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const DEFAULT_SERVICE_NAME = 'game-master';
export const DEFAULT_METRICS_NAMESPACE = 'Galaxy/GameMaster';

function fromEnv(name: string, fallback: string): string {
  return process.env[name]?.trim() || fallback;
}

export const serviceName = fromEnv('POWERTOOLS_SERVICE_NAME', DEFAULT_SERVICE_NAME);

export const logger = new Logger({ serviceName });

export const metrics = new Metrics({
  namespace: fromEnv('POWERTOOLS_METRICS_NAMESPACE', DEFAULT_METRICS_NAMESPACE),
  serviceName,
  // Powertools' own warnings (bad dimension, ...) become structured log
  // lines; EMF documents still go straight to stdout.
  logger,
});
