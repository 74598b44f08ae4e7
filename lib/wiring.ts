/**
 * The composition root: clients built once per process (cold start) and
 * handed to the adapters; the use cases get the adapters through their ports.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Config } from './config.ts';
import { HttpEngineClient } from './adapters/engine-client.ts';
import { EventBridgeEventSender } from './adapters/eventbridge-publisher.ts';
import { documentClient } from './adapters/dynamodb-conditions.ts';
import { DynamoEngineVersionRegistry } from './adapters/engine-version-registry.ts';
import { DynamoOperationLogReader } from './adapters/operation-log-reader.ts';
import { DynamoOperationLogStore } from './adapters/operation-log-store.ts';
import { DynamoOutboxReader } from './adapters/outbox-reader.ts';
import { DynamoRegistrationCommitter } from './adapters/registration-committer.ts';
import { DynamoRuntimeReader } from './adapters/runtime-reader.ts';
import { DynamoRegistrationReads } from './adapters/registration-reads.ts';
import { DynamoRuntimeRecordStore } from './adapters/runtime-record-store.ts';
import { DynamoStartingRecordReclaimer } from './adapters/starting-record-reclaimer.ts';
import { PowertoolsTelemetry } from './adapters/telemetry.ts';
import { SafeRetries } from './http/safe-retries.ts';
import type { EngineClient, Log, Telemetry } from './ports.ts';
import { logger, metrics } from './powertools.ts';
import { PublishSnapshots } from './publish-snapshots/publish-snapshots.ts';
import { RegisterRuntime } from './register-runtime/register-runtime.ts';
import { ReconcileStarting } from './reconcile-starting/reconcile-starting.ts';
import { ReadRuntime } from './read-runtime/read-runtime.ts';
import { EngineVersions } from './engine-versions/engine-versions.ts';

/**
 * SDK clients with bounded requests: a DynamoDB that stops answering costs
 * a few seconds, not the Lambda's whole budget. Endpoints come from the
 * SDK's standard AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_EVENTBRIDGE.
 */
export function createDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    maxAttempts: 3,
    // throwOnRequestTimeout: without it the SDK only warns and keeps waiting.
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
}

export function createEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
}

export interface RegistrationOverrides {
  dynamo?: DynamoDBClient;
  eventBridge?: EventBridgeClient;
  engine?: EngineClient;
  telemetry?: Telemetry;
  log?: Log;
  clock?: () => Date;
}

export function buildRegistration(
  config: Config,
  o: RegistrationOverrides = {},
): { useCase: RegisterRuntime; safeRetries: SafeRetries; telemetry: Telemetry } {
  const dynamo = o.dynamo ?? createDynamoClient();
  const doc = documentClient(dynamo);
  const log = o.log ?? logger;
  const telemetry = o.telemetry ?? new PowertoolsTelemetry(metrics, log);
  const useCase = new RegisterRuntime({
    records: new DynamoRuntimeRecordStore(doc, config.tables.runtimeRecords),
    // Built once per execution environment: it keeps resolved versions warm.
    reads: new DynamoRegistrationReads(doc, config.tables),
    committer: new DynamoRegistrationCommitter(doc, config.tables),
    operationLog: new DynamoOperationLogStore(doc, config.tables.operationLog),
    engine: o.engine ?? new HttpEngineClient({ allowLoopback: config.engineAllowLoopback }),
    telemetry,
    log,
    settings: { allowedHosts: config.engineAllowedHosts, engineTimeoutMs: config.engineTimeoutMs, outboxTtlS: config.outboxTtlS },
    ...(o.clock ? { clock: o.clock } : {}),
  });
  // Powertools idempotency is loaded by the first keyed call, not at cold start.
  const safeRetries = new SafeRetries(useCase, async () => {
    const { KeyedRetries } = await import('./http/keyed-retries.ts');
    return new KeyedRetries(useCase, dynamo, config.tables.idempotency, log, config.idempotencyTtlS);
  });
  return { useCase, safeRetries, telemetry };
}

export function buildReconciler(config: Config, o: Pick<RegistrationOverrides, 'dynamo' | 'telemetry' | 'log' | 'clock'> = {}): ReconcileStarting {
  const doc = documentClient(o.dynamo ?? createDynamoClient());
  return new ReconcileStarting({
    reclaimer: new DynamoStartingRecordReclaimer(doc, config.tables),
    telemetry: o.telemetry ?? new PowertoolsTelemetry(metrics),
    log: o.log ?? logger,
    startingTimeoutS: config.startingTimeoutS,
    ...(o.clock ? { clock: o.clock } : {}),
  });
}

/** readRuntime: reads only (its role has no write action). */
export function buildRuntimeReads(config: Config, o: Pick<RegistrationOverrides, 'dynamo' | 'clock'> = {}): ReadRuntime {
  const doc = documentClient(o.dynamo ?? createDynamoClient());
  return new ReadRuntime({
    records: new DynamoRuntimeReader(doc, config.tables),
    operations: new DynamoOperationLogReader(doc, config.tables.operationLog),
    ...(o.clock ? { clock: o.clock } : {}),
  });
}

/** engineVersions: the only writer of the engine-versions table. */
export function buildEngineVersions(config: Config, o: Pick<RegistrationOverrides, 'dynamo' | 'log' | 'clock'> = {}): EngineVersions {
  const doc = documentClient(o.dynamo ?? createDynamoClient());
  return new EngineVersions({
    registry: new DynamoEngineVersionRegistry(doc, config.tables.engineVersions),
    log: o.log ?? logger,
    ...(o.clock ? { clock: o.clock } : {}),
  });
}

/** The outbox relay (publishSnapshots): the outbox read and EventBridge. */
export function buildRelay(
  config: Config,
  o: Pick<RegistrationOverrides, 'dynamo' | 'eventBridge' | 'telemetry' | 'log' | 'clock'> = {},
): PublishSnapshots {
  const log = o.log ?? logger;
  return new PublishSnapshots({
    outbox: new DynamoOutboxReader(documentClient(o.dynamo ?? createDynamoClient()), config.tables.outbox),
    sender: new EventBridgeEventSender(o.eventBridge ?? createEventBridgeClient(), config.eventBusName),
    telemetry: o.telemetry ?? new PowertoolsTelemetry(metrics, log),
    log,
    ...(o.clock ? { clock: o.clock } : {}),
  });
}
