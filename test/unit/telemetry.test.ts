import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsTelemetry } from '../../lib/adapters/telemetry.ts';
import type { Telemetry } from '../../lib/ports.ts';
import { metrics } from '../../lib/powertools.ts';
import { RecordingLog } from '../support/harness.ts';
import { captureEmf, type EmfCapture } from '../support/emf.ts';

describe('Class: PowertoolsTelemetry', () => {
  let emf: EmfCapture | undefined;

  afterEach(() => {
    emf?.restore();
    emf = undefined;
    vi.restoreAllMocks();
  });

  describe('Method: registerOutcome', () => {
    it('counts a success under outcome=success, error_code=none', () => {
      // Prepare
      emf = captureEmf();
      const telemetry: Telemetry = new PowertoolsTelemetry(metrics);

      // Act
      telemetry.registerOutcome('success', '');

      // Assess
      expect(emf.metrics()).toEqual([
        {
          namespace: 'Galaxy/GameMaster',
          name: 'register_runtime_outcomes',
          unit: 'Count',
          value: 1,
          dimensionSets: [['service', 'outcome', 'error_code']],
          dimensions: { service: 'game-master', outcome: 'success', error_code: 'none' },
        },
      ]);
    });

    it('counts a failure under its error code', () => {
      // Prepare
      emf = captureEmf();
      const telemetry = new PowertoolsTelemetry(metrics);

      // Act
      telemetry.registerOutcome('failure', 'engine_unreachable');

      // Assess
      const [metric] = emf.metrics();
      expect(metric?.name).toBe('register_runtime_outcomes');
      expect(metric?.dimensionSets).toEqual([['service', 'outcome', 'error_code']]);
      expect(metric?.dimensions).toEqual({ service: 'game-master', outcome: 'failure', error_code: 'engine_unreachable' });
    });

    it('keeps the error_code dimension when a failure arrives without a code', () => {
      // Prepare
      emf = captureEmf();
      const telemetry = new PowertoolsTelemetry(metrics);

      // Act
      telemetry.registerOutcome('failure', '  ');

      // Assess
      expect(emf.metrics()[0]?.dimensions).toEqual({ service: 'game-master', outcome: 'failure', error_code: 'unknown' });
    });
  });

  describe('Method: eventPublished', () => {
    it('counts the event under event_type only', () => {
      // Prepare
      emf = captureEmf();
      const telemetry = new PowertoolsTelemetry(metrics);

      // Act
      telemetry.eventPublished('runtime_snapshot_update');

      // Assess
      expect(emf.metrics()).toEqual([
        {
          namespace: 'Galaxy/GameMaster',
          name: 'lobby_events_published',
          unit: 'Count',
          value: 1,
          dimensionSets: [['service', 'event_type']],
          dimensions: { service: 'game-master', event_type: 'runtime_snapshot_update' },
        },
      ]);
    });
  });

  describe('Method: registerOutcome when Metrics fails', () => {
    it('logs the metric at error level and never throws', () => {
      // Prepare: a Metrics whose single metric cannot be built.
      const broken = { singleMetric: () => { throw new Error('EMF broke'); } } as unknown as Metrics;
      const log = new RecordingLog();
      const telemetry = new PowertoolsTelemetry(broken, log);

      // Act
      telemetry.registerOutcome('failure', 'engine_version_not_found');

      // Assess
      expect(log.at('error')).toEqual([
        expect.objectContaining({
          message: 'metric not emitted',
          extra: expect.objectContaining({ metric: 'register_runtime_outcomes', outcome: 'failure', error_code: 'engine_version_not_found' }),
        }),
      ]);
    });
  });

  describe('Method: registerOutcome + eventPublished', () => {
    it('prints one document per metric, each with only its own dimensions', () => {
      // Prepare
      emf = captureEmf();
      const telemetry = new PowertoolsTelemetry(metrics);

      // Act: the success path of a registration, then a flush of the shared object (which holds nothing)
      telemetry.eventPublished('runtime_snapshot_update');
      telemetry.registerOutcome('success', '');
      metrics.publishStoredMetrics();

      // Assess
      const docs = emf.documents();
      expect(docs).toHaveLength(2);
      const [published, outcome] = docs;
      expect(published?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'lobby_events_published', Unit: 'Count' }]);
      expect(published).not.toHaveProperty('outcome');
      expect(published).not.toHaveProperty('error_code');
      expect(published).not.toHaveProperty('register_runtime_outcomes');
      expect(outcome?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'register_runtime_outcomes', Unit: 'Count' }]);
      expect(outcome).not.toHaveProperty('event_type');
      expect(outcome).not.toHaveProperty('lobby_events_published');
      expect(metrics.hasStoredMetrics()).toBe(false);
    });

    it('uses the namespace of the Metrics object it is given', () => {
      // Prepare
      emf = captureEmf();
      const telemetry = new PowertoolsTelemetry(new Metrics({ namespace: 'Other/Space', serviceName: 'svc' }));

      // Act
      telemetry.registerOutcome('success', '');

      // Assess
      expect(emf.metrics()[0]).toMatchObject({ namespace: 'Other/Space', dimensions: { service: 'svc' } });
    });
  });
});

describe('Module: powertools', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
    vi.restoreAllMocks();
  });

  it.each([
    ['defaults the service to game-master and the namespace to Galaxy/GameMaster', '', '', 'game-master', 'Galaxy/GameMaster'],
    ['takes the service and namespace from the environment', 'gm-blue', 'Galaxy/Staging', 'gm-blue', 'Galaxy/Staging'],
  ])('%s', async (_what, serviceEnv, namespaceEnv, service, namespace) => {
    // Prepare
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', serviceEnv);
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', namespaceEnv);
    vi.resetModules();
    const emf = captureEmf();

    // Act
    const fresh = await import('../../lib/powertools.ts');
    new PowertoolsTelemetry(fresh.metrics).registerOutcome('success', '');

    // Assess
    emf.restore();
    expect(fresh.serviceName).toBe(service);
    expect(emf.metrics()[0]).toMatchObject({ namespace, dimensions: { service } });
  });
});
