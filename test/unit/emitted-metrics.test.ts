/**
 * The custom metrics check:template compares alarms and widgets against
 * (scripts/template-checks/emitted-metrics.ts): read from the EMF documents
 * the functions' telemetry adapter really prints, they are the spec's
 * telemetry table and the reconciler's gauge, each metric with its own
 * dimension set.
 */
import { describe, expect, it } from 'vitest';
import { emittedMetrics } from '../../scripts/template-checks/emitted-metrics.ts';

describe('Module: emitted-metrics', () => {
  it('finds the telemetry metrics and the gauge, each under its own dimension set, in the namespace given', () => {
    const metrics = emittedMetrics('Galaxy/GameMaster', 'game-master');
    const sets = new Map<string, Set<string>>();
    for (const m of metrics) {
      expect(m.namespace).toBe('Galaxy/GameMaster');
      expect(m.dimensions.service).toBe('game-master');
      if (!sets.has(m.name)) sets.set(m.name, new Set());
      sets.get(m.name)?.add(m.dimensionNames.join(','));
    }
    expect(Object.fromEntries([...sets].map(([name, set]) => [name, [...set]]))).toEqual({
      register_runtime_outcomes: ['error_code,outcome,service'],
      lobby_events_published: ['event_type,service'],
      lobby_event_delivery_lag: ['event_type,service'],
      oldest_starting_age: ['service'],
    });
  });

  it('covers success, every failure code and the reconciler reclaim', () => {
    const outcomes = emittedMetrics('Galaxy/GameMaster', 'game-master').filter((m) => m.name === 'register_runtime_outcomes');
    const codes = outcomes.map((m) => `${m.dimensions.outcome}/${m.dimensions.error_code}`);
    expect(codes).toContain('success/none');
    expect(codes).toContain('failure/internal_error');
    expect(codes).toContain('failure/registration_abandoned');
    expect(codes).not.toContain('success/internal_error');
  });

  it('leaves stdout as it found it', () => {
    const write = process.stdout.write;
    emittedMetrics('Galaxy/GameMaster', 'game-master');
    expect(process.stdout.write).toBe(write);
  });
});
