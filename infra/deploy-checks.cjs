// Local osls plugin (listed in serverless.yml's plugins). CommonJS because
// osls loads plugins with require().
//
// 1. Timeouts that must agree, checked whenever the service is packaged,
//    deployed, served offline or invoked locally (the spec: STARTING_TIMEOUT_S
//    "must exceed the register function's timeout, which is checked when
//    deploying, not clamped at run time"):
//    - registerRuntime's timeout is at most 29 s (the HTTP API gives up at 30 s);
//    - ENGINE_TIMEOUT_MS plus the 2 s rollback reserve fits in that timeout;
//    - STARTING_TIMEOUT_S exceeds it, so the reconciler never reclaims a
//      registration that is still running.
//    - OUTBOX_TTL_S exceeds publishSnapshots' retry window (the stream
//      mapping's maximumRecordAgeInSeconds): an item that expired while its
//      record was still retried would be skipped as "gone", never sent.
// 2. On deploy only: ENGINE_ALLOW_LOOPBACK is not true (loopback engines are
//    for local runs; in AWS it would open the SSRF guard to 127.0.0.0/8).
// 3. Removes the framework's shared Lambda role once every function has its
//    own (serverless-iam-roles-per-function leaves it behind, unused).
// 4. Attaches registerRuntime to the engines' VPC when the stage's params
//    engineSubnetIds and engineSecurityGroupIds are given (comma-separated).
// 5. Drops `dynamodb:ListStreams` from the stream read statements that
//    serverless-iam-roles-per-function writes on the stream ARN: the action
//    has no resource type, so granted on an ARN it grants nothing; and Lambda
//    reads a mapping's stream with DescribeStream, GetShardIterator and
//    GetRecords on the ARN it is given (Serverless has granted ListStreams
//    this ineffective way for years, so no mapping relies on it). Granting
//    it on "*" would only list the account's streams to the relay.
// 6. Points the alarms at the topic given as the stage's alarmTopicArn param:
//    drops the stack's own AlarmTopic (and its policy) and puts the given ARN
//    wherever the template refers to AlarmTopic. Without the param the stack's
//    own topic stays (infra/alarms.yml).
// 7. Sets the oldest-starting-age alarm's threshold (infra/alarms.yml) to
//    reconcileStarting's STARTING_TIMEOUT_S + 180 s once the resources are
//    merged into the template: one number to change, never two.
'use strict';

const REGISTER = 'registerRuntime';
const RECONCILE = 'reconcileStarting';
const PUBLISH = 'publishSnapshots';
/** API Gateway HTTP API integration timeout is 30 s; stay strictly below. */
const MAX_REGISTER_TIMEOUT_S = 29;
/** Kept back from the remaining time for the rollback (lib/config.ts ROLLBACK_RESERVE_MS). */
const ROLLBACK_RESERVE_MS = 2000;
const DEFAULT_LAMBDA_TIMEOUT_S = 6;
/** The alarm on oldest_starting_age fires this long past STARTING_TIMEOUT_S (three reconciler ticks). */
const OLDEST_STARTING_MARGIN_S = 180;
const OLDEST_STARTING_ALARM = 'OldestStartingAgeAlarm';

class GameMasterDeployChecks {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    const checkConfig = () => this.checkTimeouts();
    const checkDeploy = () => {
      this.checkTimeouts();
      this.checkDeployable();
    };
    this.hooks = {
      initialize: () => this.attachVpc(),
      'before:package:initialize': checkConfig,
      // Runs after serverless-iam-roles-per-function's own before:package:finalize
      // (plugins run in the order serverless.yml lists them).
      'before:package:finalize': () => {
        this.dropUnusedSharedRole();
        this.dropListStreams();
      },
      // After infra/*.yml are merged into the template.
      'after:aws:package:finalize:mergeCustomProviderResources': () => {
        this.setOldestStartingThreshold();
        this.useGivenAlarmTopic();
      },
      'before:deploy:deploy': checkDeploy,
      'before:deploy:function:initialize': checkDeploy,
      'before:offline:start:init': checkConfig,
      'before:invoke:local:invoke': checkConfig,
    };
  }

  fail(message) {
    throw new this.serverless.classes.Error(`game-master deploy check: ${message}`);
  }

  fn(name) {
    const fn = this.serverless.service.functions?.[name];
    if (!fn) this.fail(`function ${name} is not defined in serverless.yml`);
    return fn;
  }

  /** The environment a function runs with: provider-level, then its own. */
  env(name) {
    return { ...(this.serverless.service.provider.environment ?? {}), ...(this.fn(name).environment ?? {}) };
  }

  positiveInt(value, what, fallback) {
    if (value === undefined || value === null || value === '') return fallback;
    const text = String(value).trim();
    if (!/^\d+$/.test(text) || Number(text) <= 0) this.fail(`${what} must be a positive integer, got "${value}"`);
    return Number(text);
  }

  checkTimeouts() {
    const timeoutS = this.positiveInt(
      this.fn(REGISTER).timeout ?? this.serverless.service.provider.timeout,
      `${REGISTER} timeout`,
      DEFAULT_LAMBDA_TIMEOUT_S,
    );
    if (timeoutS > MAX_REGISTER_TIMEOUT_S) {
      this.fail(`${REGISTER} timeout is ${timeoutS} s; the HTTP API integration limit is 30 s, so it must be at most ${MAX_REGISTER_TIMEOUT_S} s`);
    }
    const engineTimeoutMs = this.positiveInt(this.env(REGISTER).ENGINE_TIMEOUT_MS, 'ENGINE_TIMEOUT_MS', 10_000);
    if (engineTimeoutMs + ROLLBACK_RESERVE_MS > timeoutS * 1000) {
      this.fail(
        `ENGINE_TIMEOUT_MS (${engineTimeoutMs}) plus the ${ROLLBACK_RESERVE_MS} ms rollback reserve must fit in ${REGISTER}'s ${timeoutS} s timeout`,
      );
    }
    for (const name of [REGISTER, RECONCILE]) {
      const startingTimeoutS = this.positiveInt(this.env(name).STARTING_TIMEOUT_S, `STARTING_TIMEOUT_S of ${name}`, 120);
      if (startingTimeoutS <= timeoutS) {
        this.fail(
          `STARTING_TIMEOUT_S of ${name} (${startingTimeoutS} s) must exceed ${REGISTER}'s timeout (${timeoutS} s): the reconciler would reclaim registrations that are still running`,
        );
      }
    }
    const publish = this.serverless.service.functions?.[PUBLISH];
    if (publish) {
      const outboxTtlS = this.positiveInt(this.env(PUBLISH).OUTBOX_TTL_S, `OUTBOX_TTL_S of ${PUBLISH}`, 604_800);
      for (const event of publish.events ?? []) {
        const maxAgeS = Number(event?.stream?.maximumRecordAgeInSeconds ?? 86_400);
        if (outboxTtlS <= maxAgeS) {
          this.fail(
            `OUTBOX_TTL_S (${outboxTtlS} s) must exceed ${PUBLISH}'s maximumRecordAgeInSeconds (${maxAgeS} s): an outbox item would expire while its event is still being retried`,
          );
        }
      }
    }
  }

  checkDeployable() {
    for (const name of [REGISTER, RECONCILE]) {
      const value = String(this.env(name).ENGINE_ALLOW_LOOPBACK ?? 'false').trim().toLowerCase();
      if (value === 'true') {
        this.fail(
          `ENGINE_ALLOW_LOOPBACK is true for ${name} on stage "${this.serverless.service.provider.stage}": loopback engines are for local runs only and must not be deployed`,
        );
      }
    }
  }

  dropUnusedSharedRole() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate?.Resources ?? {};
    const shared = this.serverless.getProvider('aws').naming.getRoleLogicalId();
    if (!resources[shared]) return;
    const others = Object.entries(resources).filter(([id]) => id !== shared);
    const referenced = JSON.stringify(others).includes(`"${shared}"`);
    if (!referenced) delete resources[shared];
  }

  dropListStreams() {
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate?.Resources ?? {};
    for (const resource of Object.values(resources)) {
      if (resource?.Type !== 'AWS::IAM::Role') continue;
      for (const policy of resource.Properties?.Policies ?? []) {
        const statements = policy.PolicyDocument?.Statement ?? [];
        for (const statement of statements) {
          if (!Array.isArray(statement.Action) || !statement.Action.includes('dynamodb:ListStreams')) continue;
          statement.Action = statement.Action.filter((action) => action !== 'dynamodb:ListStreams');
        }
        policy.PolicyDocument.Statement = statements.filter((s) => !Array.isArray(s.Action) || s.Action.length > 0);
      }
    }
  }

  useGivenAlarmTopic() {
    const given = String(this.serverless.service.custom?.alarmTopicArn ?? '').trim();
    if (!given) return;
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(given)) {
      this.fail(`alarmTopicArn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), got "${given}"`);
    }
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    delete template.Resources.AlarmTopic;
    delete template.Resources.AlarmTopicPolicy;
    const replace = (node) => {
      if (Array.isArray(node)) return node.map(replace);
      if (node && typeof node === 'object') {
        const keys = Object.keys(node);
        if (keys.length === 1 && node.Ref === 'AlarmTopic') return given;
        return Object.fromEntries(keys.map((key) => [key, replace(node[key])]));
      }
      return node;
    };
    template.Resources = replace(template.Resources);
    template.Outputs = replace(template.Outputs ?? {});
  }

  setOldestStartingThreshold() {
    const alarm = this.serverless.service.provider.compiledCloudFormationTemplate?.Resources?.[OLDEST_STARTING_ALARM];
    if (!alarm) this.fail(`${OLDEST_STARTING_ALARM} is missing from the template (infra/alarms.yml)`);
    const startingTimeoutS = this.positiveInt(this.env(RECONCILE).STARTING_TIMEOUT_S, `STARTING_TIMEOUT_S of ${RECONCILE}`, 120);
    alarm.Properties.Threshold = startingTimeoutS + OLDEST_STARTING_MARGIN_S;
  }

  attachVpc() {
    const vpc = this.serverless.service.custom?.engineVpc ?? {};
    const list = (value) =>
      String(value ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    const subnetIds = list(vpc.subnetIds);
    const securityGroupIds = list(vpc.securityGroupIds);
    if (subnetIds.length === 0 && securityGroupIds.length === 0) return;
    if (subnetIds.length === 0 || securityGroupIds.length === 0) {
      this.fail('give both engineSubnetIds and engineSecurityGroupIds (or neither) to attach registerRuntime to the VPC');
    }
    this.fn(REGISTER).vpc = { subnetIds, securityGroupIds };
    this.log?.notice?.(`${REGISTER} attached to ${subnetIds.length} subnet(s) of the engines' VPC`);
  }
}

module.exports = GameMasterDeployChecks;
