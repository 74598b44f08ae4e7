/**
 * Telemetry port on Powertools Metrics (CloudWatch EMF on stdout).
 *
 * Each emission goes through its own `singleMetric()`, which prints one
 * EMF document at once carrying only that metric's dimensions (plus the
 * `service` default dimension). Adding both metrics to the shared object
 * instead would flush them together under merged dimension sets, and the
 * outcome metric would be counted under `event_type` as well.
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Log, Telemetry } from '../ports.ts';
import { logger } from '../powertools.ts';

export const REGISTER_OUTCOME_METRIC = 'register_runtime_outcomes';
export const EVENTS_PUBLISHED_METRIC = 'lobby_events_published';
export const DELIVERY_LAG_METRIC = 'lobby_event_delivery_lag';
export const OLDEST_STARTING_METRIC = 'oldest_starting_age';

/**
 * Counting is never worth failing an operation for: a metric that cannot be
 * emitted is logged at error level and the caller goes on.
 */
export class PowertoolsTelemetry implements Telemetry {
  constructor(
    private readonly metrics: Metrics,
    private readonly log: Log = logger,
  ) {}

  registerOutcome(outcome: 'success' | 'failure', errorCode: string): void {
    this.emit(REGISTER_OUTCOME_METRIC, { outcome, error_code: errorCodeDimension(outcome, errorCode) });
  }

  eventPublished(eventType: 'runtime_snapshot_update'): void {
    this.emit(EVENTS_PUBLISHED_METRIC, { event_type: eventType });
  }

  eventDeliveryLag(eventType: 'runtime_snapshot_update', lagMs: number): void {
    this.emit(DELIVERY_LAG_METRIC, { event_type: eventType }, MetricUnit.Milliseconds, Math.max(0, lagMs));
  }

  /** Only the `service` default dimension: one series per stage, which the alarm watches. */
  oldestStartingAge(seconds: number): void {
    this.emit(OLDEST_STARTING_METRIC, {}, MetricUnit.Seconds, Math.max(0, Math.floor(seconds)));
  }

  private emit(name: string, dimensions: Record<string, string>, unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count, value = 1): void {
    try {
      const single = this.metrics.singleMetric();
      for (const [key, value] of Object.entries(dimensions)) single.addDimension(key, value);
      single.addMetric(name, unit, value);
    } catch (error) {
      this.log.error('metric not emitted', { metric: name, ...dimensions, error });
    }
  }
}

/**
 * `none` on success. A failure always names a code; should one ever arrive
 * empty it is counted as `unknown` rather than dropped, because Powertools
 * silently omits an empty dimension, which would move the data point into
 * another dimension set (and out of every alarm on this one).
 */
function errorCodeDimension(outcome: 'success' | 'failure', errorCode: string): string {
  const code = errorCode.trim();
  if (code) return code;
  return outcome === 'success' ? 'none' : 'unknown';
}
