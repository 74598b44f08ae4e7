/**
 * The deploy-time checks of infra/deploy-checks.cjs (the osls plugin), each
 * forced with a service definition that breaks exactly one rule. Packaging
 * the real serverless.yml (test/deploy/package.test.ts) covers the passing
 * side; these cover every refusal without running the framework.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

type Checks = { hooks: Record<string, () => void> };
type ChecksClass = new (serverless: unknown, options: unknown, utils: unknown) => Checks;

const GameMasterDeployChecks = createRequire(import.meta.url)('../../infra/deploy-checks.cjs') as ChecksClass;

class FrameworkError extends Error {}

interface Overrides {
  registerTimeout?: number;
  env?: Record<string, string>;
  maximumRecordAgeInSeconds?: number;
  vpc?: { subnetIds: string; securityGroupIds: string };
}

/** A service as osls hands it to the plugin, with the deployed values unless overridden. */
function service(o: Overrides = {}) {
  return {
    classes: { Error: FrameworkError },
    service: {
      provider: {
        stage: 'ci',
        environment: {
          ENGINE_TIMEOUT_MS: '10000',
          STARTING_TIMEOUT_S: '120',
          OUTBOX_TTL_S: '604800',
          ENGINE_ALLOW_LOOPBACK: 'false',
          ...o.env,
        },
      },
      functions: {
        registerRuntime: { timeout: o.registerTimeout ?? 28 },
        reconcileStarting: { timeout: 50 },
        publishSnapshots: { events: [{ stream: { maximumRecordAgeInSeconds: o.maximumRecordAgeInSeconds ?? 3600 } }] },
      },
      custom: { engineVpc: o.vpc ?? { subnetIds: '', securityGroupIds: '' } },
    },
  };
}

function run(hook: string, o: Overrides = {}): void {
  const sls = service(o);
  const checks = new GameMasterDeployChecks(sls, {}, { log: {} });
  checks.hooks[hook]?.();
}

describe('infra/deploy-checks.cjs', () => {
  it('accepts the deployed values on package and on deploy', () => {
    expect(() => run('before:package:initialize')).not.toThrow();
    expect(() => run('before:deploy:deploy')).not.toThrow();
  });

  it.each([
    ['a register timeout above 29 s (the HTTP API gives up at 30 s)', { registerTimeout: 30 }, /at most 29 s/],
    ['an engine timeout that leaves no room for the 2 s rollback reserve', { env: { ENGINE_TIMEOUT_MS: '27000' } }, /rollback reserve/],
    ['a STARTING_TIMEOUT_S not above the register timeout', { env: { STARTING_TIMEOUT_S: '28' } }, /STARTING_TIMEOUT_S .* must exceed/],
    ['an OUTBOX_TTL_S not above the relay retry window', { env: { OUTBOX_TTL_S: '3600' } }, /OUTBOX_TTL_S \(3600 s\) must exceed/],
    ['an OUTBOX_TTL_S below a longer retry window', { maximumRecordAgeInSeconds: 700_000 }, /OUTBOX_TTL_S .* must exceed/],
    ['a timeout that is not a positive integer', { env: { ENGINE_TIMEOUT_MS: 'ten' } }, /positive integer/],
  ] as const)('refuses %s when packaging', (_what, overrides, message) => {
    expect(() => run('before:package:initialize', overrides)).toThrow(message);
  });

  it('refuses to deploy loopback engines, but lets local runs use them', () => {
    const loopback = { env: { ENGINE_ALLOW_LOOPBACK: 'true' } };
    expect(() => run('before:deploy:deploy', loopback)).toThrow(/ENGINE_ALLOW_LOOPBACK is true/);
    expect(() => run('before:invoke:local:invoke', loopback)).not.toThrow();
  });

  it('attaches registerRuntime to the VPC only when both lists are given', () => {
    const sls = service({ vpc: { subnetIds: 'subnet-a, subnet-b', securityGroupIds: 'sg-1' } });
    new GameMasterDeployChecks(sls, {}, { log: {} }).hooks.initialize?.();
    expect((sls.service.functions.registerRuntime as { vpc?: unknown }).vpc).toEqual({
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-1'],
    });
    expect(() => run('initialize', { vpc: { subnetIds: 'subnet-a', securityGroupIds: '' } })).toThrow(/both engineSubnetIds and engineSecurityGroupIds/);
  });

  describe('the alarm topic', () => {
    /** The merged template as osls holds it: the stack's own topic, one alarm, the output. */
    function withTopic(alarmTopicArn: string) {
      const sls = service() as ReturnType<typeof service> & { service: { custom: Record<string, unknown>; provider: Record<string, unknown> } };
      sls.service.custom.alarmTopicArn = alarmTopicArn;
      sls.service.provider.compiledCloudFormationTemplate = {
        Resources: {
          AlarmTopic: { Type: 'AWS::SNS::Topic', Properties: {} },
          AlarmTopicPolicy: { Type: 'AWS::SNS::TopicPolicy', Properties: { Topics: [{ Ref: 'AlarmTopic' }] } },
          SomeAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'AlarmTopic' }], OKActions: [{ Ref: 'AlarmTopic' }] } },
          OldestStartingAgeAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { Threshold: 300, AlarmActions: [{ Ref: 'AlarmTopic' }] } },
        },
        Outputs: { AlarmTopicArn: { Value: { Ref: 'AlarmTopic' } } },
      };
      const hook = 'after:aws:package:finalize:mergeCustomProviderResources';
      return { template: sls.service.provider.compiledCloudFormationTemplate as Record<string, any>, run: () => new GameMasterDeployChecks(sls, {}, { log: {} }).hooks[hook]?.() };
    }

    it('keeps the stack own topic when none is given', () => {
      const { template, run: finalize } = withTopic('');
      finalize();
      expect(Object.keys(template.Resources).sort()).toEqual(['AlarmTopic', 'AlarmTopicPolicy', 'OldestStartingAgeAlarm', 'SomeAlarm']);
      expect(template.Resources.SomeAlarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    });

    it('notifies the given topic instead, and drops the own one', () => {
      const arn = 'arn:aws:sns:eu-west-1:000000000000:on-call';
      const { template, run: finalize } = withTopic(arn);
      finalize();
      expect(Object.keys(template.Resources)).toEqual(['SomeAlarm', 'OldestStartingAgeAlarm']);
      expect(template.Resources.SomeAlarm.Properties).toEqual({ AlarmActions: [arn], OKActions: [arn] });
      expect(template.Outputs.AlarmTopicArn.Value).toBe(arn);
    });

    it('refuses a given topic that is not an SNS topic ARN', () => {
      expect(withTopic('arn:aws:sqs:eu-west-1:000000000000:q').run).toThrow(/alarmTopicArn must be an SNS topic ARN/);
    });
  });

  it('sets the oldest-starting-age alarm to STARTING_TIMEOUT_S + 180 s, and refuses a template without it', () => {
    const hook = 'after:aws:package:finalize:mergeCustomProviderResources';
    const withTemplate = (env: Record<string, string>, resources: Record<string, unknown>) => {
      const sls = service({ env });
      Object.assign(sls.service.provider, { compiledCloudFormationTemplate: { Resources: resources } });
      new GameMasterDeployChecks(sls, {}, { log: {} }).hooks[hook]?.();
      return resources;
    };
    const alarm = () => ({ Type: 'AWS::CloudWatch::Alarm', Properties: { Threshold: 300 } });
    expect(withTemplate({}, { OldestStartingAgeAlarm: alarm() })).toMatchObject({ OldestStartingAgeAlarm: { Properties: { Threshold: 300 } } });
    expect(withTemplate({ STARTING_TIMEOUT_S: '600' }, { OldestStartingAgeAlarm: alarm() })).toMatchObject({
      OldestStartingAgeAlarm: { Properties: { Threshold: 780 } },
    });
    expect(() => withTemplate({}, {})).toThrow(/OldestStartingAgeAlarm is missing/);
  });
});
