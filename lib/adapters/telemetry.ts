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
import type { Telemetry } from '../ports.ts';

export const REGISTER_OUTCOME_METRIC = 'register_runtime_outcomes';
export const EVENTS_PUBLISHED_METRIC = 'lobby_events_published';

export class PowertoolsTelemetry implements Telemetry {
  constructor(private readonly metrics: Metrics) {}

  registerOutcome(outcome: 'success' | 'failure', errorCode: string): void {
    this.metrics
      .singleMetric()
      .addDimension('outcome', outcome)
      .addDimension('error_code', errorCodeDimension(outcome, errorCode))
      .addMetric(REGISTER_OUTCOME_METRIC, MetricUnit.Count, 1);
  }

  eventPublished(eventType: 'runtime_snapshot_update'): void {
    this.metrics
      .singleMetric()
      .addDimension('event_type', eventType)
      .addMetric(EVENTS_PUBLISHED_METRIC, MetricUnit.Count, 1);
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
