/**
 * Benchmark: every figure of issue 12's table, each beside its floor,
 * measured in the same run (ratios: absolute times drift with the machine).
 * Registrations go through the real handler on DynamoDB Local behind a
 * counting proxy, with the loopback engine double. Figures only: nothing
 * is asserted (request counts are asserted in test/integration/request-cost.test.ts).
 *
 *   npm run bench                          # everything (serverless package included: about 5 min)
 *   npm run bench -- --runs 300            # more latency samples
 *   npm run bench -- --skip-bundles        # no packaging / import timing
 *
 * Sections:
 *  1. DynamoDB requests per 2-member registration: fresh and warm
 *     environment, without and with an Idempotency-Key, and a replay.
 *  2. p50/p95 of a warm 2-member registration vs the bare floor sequence
 *     (version read, conditional insert, engine call, one commit
 *     transaction) on the same DynamoDB Local, proxy and engine double,
 *     interleaved run by run.
 *  3. A 250-member registration vs its rows written bare in ceil(n/100)
 *     transactions.
 *  4. Rollback and reclaim of 500 mappings: one conditional delete per row
 *     (the former way, 16 in flight) vs transactions of 100.
 *  5. The packaged registerRuntime bundle vs a bundle of only the SDK
 *     clients it uses (same esbuild settings): bytes, and import time with
 *     the deployed NODE_OPTIONS (and without, for the source-map decision;
 *     and built with code splitting toggled, and built without the plugin
 *     that keeps node:http imports from loading Node's own fetch); and ky,
 *     the engine client's former HTTP client, on top of the same floor.
 *  6. What a registration costs per million (2 and 500 members, with and
 *     without a key), by service, from the requests and durations measured
 *     here (scripts/bench/registration-cost.ts holds the unit rules and the
 *     dated list prices).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, paginateQuery, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables, LOCAL_AWS_ENV, startDynamoDbLocal, TABLE_ENV, type TableKey, tableNames } from '../infra/local-stack.ts';
import { startDynamoProxy } from '../test/support/dynamo-proxy.ts';
import { startEngineServer } from '../test/support/engine-server.ts';
import { startEventBridgeServer } from '../test/support/eventbridge-server.ts';
import { apiEvent, lambdaContext, registerBody } from '../test/support/harness.ts';
import { measureBundles } from './bench/bundle-figures.ts';
import { type DynamoRequest, formatCostTable, type RegistrationProfile } from './bench/registration-cost.ts';
import { StreamRelay } from '../test/support/stream-relay.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    'big-runs': { type: 'string', default: '10' },
    'import-rounds': { type: 'string', default: '21' },
    'skip-bundles': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const bigRuns = Number(values['big-runs']);
const importRounds = Number(values['import-rounds']);
const progress = (m: string) => console.error(`[bench] ${m}`);

type Handler = (event: unknown, context: unknown) => Promise<{ statusCode?: number }>;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const kb = (x: number) => `${(x / 1024).toFixed(0)} KB`;
const rows: string[][] = [];
const row = (figure: string, measured: string, floor: string, ratio: string, target: string) => rows.push([figure, measured, floor, ratio, target]);

const dynamo = await startDynamoDbLocal({ onProgress: progress });
const proxy = await startDynamoProxy(dynamo.endpoint);
const engine = await startEngineServer();
const events = await startEventBridgeServer();
try {
  const names = tableNames(`bench${Date.now().toString(36)}`);
  await createTables(dynamo.client, names);
  const direct = DynamoDBDocumentClient.from(dynamo.client);
  await direct.send(new PutCommand({ TableName: names.engineVersions, Item: { version: '1.4.2', image_ref: 'registry.local/galaxy/engine:1.4.2' } }));
  const env: Record<string, string> = {
    ...LOCAL_AWS_ENV,
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    EVENT_BUS_NAME: 'bench-events',
    ENGINE_ALLOWED_HOSTS: '127.0.0.1',
    ENGINE_ALLOW_LOOPBACK: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  for (const [key, variable] of Object.entries(TABLE_ENV)) env[variable] = names[key as TableKey];
  Object.assign(process.env, env);

  /** A fresh execution environment: the handler module (and everything it builds at import) loaded anew. */
  let environments = 0;
  const freshHandler = async (): Promise<Handler> =>
    ((await import(`../functions/register-runtime/handler.ts?environment=${++environments}`)) as { handler: Handler }).handler;
  let games = 0;
  const newGame = () => `g-bench-${++games}`;
  const register = async (handler: Handler, gameId: string, options: { members?: number; key?: string } = {}) => {
    const headers: Record<string, string> = options.key ? { 'Idempotency-Key': options.key } : {};
    const res = await handler(apiEvent(registerBody(gameId, engine.url, { members: options.members ?? 2 }), { headers }), lambdaContext());
    if (res.statusCode !== 201) throw new Error(`registration answered ${res.statusCode}`);
  };
  /** DynamoDB requests one call makes. */
  const counted = async (fn: () => Promise<void>) => {
    const from = proxy.requests.length;
    await fn();
    return proxy.requests.slice(from).map((r) => r.op);
  };

  // 1. Requests per registration.
  progress('requests per registration...');
  {
    const h = await freshHandler();
    const cold = await counted(() => register(h, newGame()));
    const warm = await counted(() => register(h, newGame()));
    const hk = await freshHandler();
    const keyedGame = newGame();
    const keyedCold = await counted(() => register(hk, keyedGame, { key: `k-${keyedGame}` }));
    const warmGame = newGame();
    const keyedWarm = await counted(() => register(hk, warmGame, { key: `k-${warmGame}` }));
    const replay = await counted(() => register(hk, keyedGame, { key: `k-${keyedGame}` }));
    const show = (ops: string[]) => `${ops.length} (${ops.join(', ')})`;
    row('DynamoDB requests, no key, fresh', show(cold), '3 (promised)', (cold.length / 3).toFixed(2), '<= 3');
    row('DynamoDB requests, no key, warm', show(warm), '2 (promised)', (warm.length / 2).toFixed(2), '<= 2');
    row('DynamoDB requests, key, fresh', show(keyedCold), '5 (promised)', (keyedCold.length / 5).toFixed(2), '<= 5');
    row('DynamoDB requests, key, warm', show(keyedWarm), '4 (promised)', (keyedWarm.length / 4).toFixed(2), '<= 4');
    row('DynamoDB requests, key, replay', show(replay), '1 (promised)', (replay.length / 1).toFixed(2), '1');
  }

  // 2. Latency vs the bare floor sequence, interleaved.
  const proxiedClient = new DynamoDBClient({
    endpoint: proxy.url,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
  const bare = DynamoDBDocumentClient.from(proxiedClient);
  /** The floor: what a registration cannot do without, and nothing else. */
  const floorSequence = async (gameId: string, members: number) => {
    const opId = randomUUID();
    const now = new Date().toISOString();
    await bare.send(new GetCommand({ TableName: names.engineVersions, Key: { version: '1.4.2' } }));
    await bare.send(
      new PutCommand({
        TableName: names.runtimeRecords,
        Item: { game_id: gameId, status: 'starting', op_id: opId, created_at: now },
        ConditionExpression: 'attribute_not_exists(game_id)',
      }),
    );
    const races = Array.from({ length: members }, (_, i) => ({ race_name: `Race ${i + 1}` }));
    const answer = await fetch(`${engine.url}/admin/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ races }) });
    const { players } = (await answer.json()) as { players: { race_name: string; engine_player_uuid: string }[] };
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = players.map((p, i) => ({
      Put: {
        TableName: names.playerMappings,
        Item: { game_id: gameId, user_id: `u-${String(i + 1).padStart(3, '0')}`, race_name: p.race_name, engine_player_uuid: p.engine_player_uuid, op_id: opId },
        ConditionExpression: 'attribute_not_exists(user_id)',
      },
    }));
    items.push(
      {
        Update: {
          TableName: names.runtimeRecords,
          Key: { game_id: gameId },
          UpdateExpression: 'SET #s = :running',
          ConditionExpression: 'op_id = :op',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':running': 'running', ':op': opId },
        },
      },
      { Put: { TableName: names.operationLog, Item: { game_id: gameId, op_id: opId, outcome: 'success' } } },
    );
    // ceil(n/100) transactions: the last one carries the compare-and-set and the entry.
    for (let i = 0; i < items.length; i += 100) await bare.send(new TransactWriteCommand({ TransactItems: items.slice(i, i + 100) }));
  };
  const interleaved = async (label: string, n: number, members: number, handler: Handler) => {
    const real: number[] = [];
    const floor: number[] = [];
    const timed = async (fn: () => Promise<void>, into: number[]) => {
      const t = performance.now();
      await fn();
      into.push(performance.now() - t);
    };
    for (let i = 0; i < n; i++) {
      // Alternate which goes first, so that neither always follows the other's writes.
      const pair = [() => timed(() => register(handler, newGame(), { members }), real), () => timed(() => floorSequence(newGame(), members), floor)];
      if (i % 2 === 1) pair.reverse();
      for (const step of pair) await step();
      if ((i + 1) % Math.max(1, Math.floor(n / 4)) === 0) progress(`  ${label}: ${i + 1}/${n}`);
    }
    return { real, floor };
  };
  {
    const h = await freshHandler();
    progress(`latency: ${runs} warm 2-member registrations interleaved with ${runs} floor sequences...`);
    for (let i = 0; i < 5; i++) {
      await register(h, newGame());
      await floorSequence(newGame(), 2);
    }
    const { real, floor } = await interleaved('2 members', runs, 2, h);
    for (const p of [50, 95]) {
      row(`p${p}, 2-member registration (warm)`, ms(pct(real, p)), ms(pct(floor, p)), (pct(real, p) / pct(floor, p)).toFixed(2), p === 50 ? '<= 1.1' : '-');
    }
    progress(`latency: ${bigRuns} 250-member registrations interleaved with their rows written bare...`);
    await register(h, newGame(), { members: 250 });
    await floorSequence(newGame(), 250);
    const big = await interleaved('250 members', bigRuns, 250, h);
    row('p50, 250-member registration (warm)', ms(pct(big.real, 50)), ms(pct(big.floor, 50)), (pct(big.real, 50) / pct(big.floor, 50)).toFixed(2), '-');
  }

  // 4. Rollback and reclaim of 500 mappings, before (per row) and after (transactions).
  {
    const { DynamoRegistrationCommitter } = await import('../lib/adapters/registration-committer.ts');
    const { DynamoStartingRecordReclaimer } = await import('../lib/adapters/starting-record-reclaimer.ts');
    const { documentClient } = await import('../lib/adapters/dynamodb-conditions.ts');
    const doc = documentClient(proxiedClient);
    const seed = async (gameId: string, opId: string) => {
      const items = Array.from({ length: 500 }, (_, i) => ({ game_id: gameId, user_id: `u-${String(i + 1).padStart(3, '0')}`, race_name: `Race ${i + 1}`, op_id: opId }));
      for (let i = 0; i < items.length; i += 25) {
        await direct.send(new BatchWriteCommand({ RequestItems: { [names.playerMappings]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      }
    };
    /** The former way: one query, then one conditional delete per row, 16 in flight. */
    const perRow = async (gameId: string, opId: string) => {
      const ids: string[] = [];
      const pages = paginateQuery(
        { client: doc },
        { TableName: names.playerMappings, KeyConditionExpression: 'game_id = :g', FilterExpression: 'op_id = :op', ExpressionAttributeValues: { ':g': gameId, ':op': opId }, ProjectionExpression: 'user_id', ConsistentRead: true },
      );
      for await (const page of pages) for (const item of page.Items ?? []) ids.push(String(item.user_id));
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < ids.length) {
            const userId = ids[next++] as string;
            await doc.send(new DeleteCommand({ TableName: names.playerMappings, Key: { game_id: gameId, user_id: userId }, ConditionExpression: 'op_id = :op', ExpressionAttributeValues: { ':op': opId } }));
          }
        }),
      );
    };
    const ways = {
      rollback: (g: string, o: string) => new DynamoRegistrationCommitter(doc, names).deleteOwnedMappings(g, o),
      reclaim: (g: string, o: string) => new DynamoStartingRecordReclaimer(doc, names).deleteOwnedMappings(g, o),
    };
    for (const [what, after] of Object.entries(ways)) {
      progress(`500-member ${what}: ${bigRuns} runs per row and ${bigRuns} in transactions...`);
      const times = { before: [] as number[], after: [] as number[] };
      const requests = { before: 0, after: 0 };
      for (let i = 0; i < bigRuns; i++) {
        for (const [which, fn] of [['before', perRow], ['after', after]] as const) {
          const gameId = newGame();
          await seed(gameId, 'op-bench');
          const from = proxy.requests.length;
          const t = performance.now();
          await fn(gameId, 'op-bench');
          times[which].push(performance.now() - t);
          requests[which] = proxy.requests.length - from;
        }
      }
      const b = pct(times.before, 50);
      const a = pct(times.after, 50);
      row(`500-member ${what}, requests`, String(requests.after), `${requests.before} before`, (requests.after / requests.before).toFixed(3), '-');
      row(`500-member ${what}, p50 time`, ms(a), `${ms(b)} before`, (a / b).toFixed(2), '-');
    }
  }

  // 6. What a registration costs, from the requests and durations measured here.
  let costTable = '';
  {
    progress('cost: warm registrations of 2 and 500 members, with and without a key, and their relay invocations...');
    const { handler: relayHandler } = (await import('../functions/publish-snapshots/handler.ts')) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    const relayTimes: number[] = [];
    let relayFrom = 0;
    const relay = await StreamRelay.open({
      endpoint: dynamo.endpoint,
      table: names.outbox,
      batchSize: 1,
      handler: async (event) => {
        const t = performance.now();
        const answer = await relayHandler(event, lambdaContext(30_000, 'bench-publishSnapshots'));
        relayTimes.push(performance.now() - t);
        return answer as never;
      },
    });
    await relay.pump(); // the events of the sections above: not measured
    const h = await freshHandler();
    const profiles: RegistrationProfile[] = [];
    const samples = 9;
    for (const members of [2, 500]) {
      for (const keyed of [false, true]) {
        const times: number[] = [];
        const relayMs: number[] = [];
        let registerRequests: DynamoRequest[] = [];
        let relayRequests: DynamoRequest[] = [];
        for (let i = 0; i < samples + 1; i++) {
          const gameId = newGame();
          const from = proxy.requests.length;
          const t = performance.now();
          await register(h, gameId, { members, key: keyed ? `k-${gameId}` : undefined });
          const took = performance.now() - t;
          const sent = proxy.requests.slice(from).map(({ op, body }) => ({ op, body }));
          relayFrom = proxy.requests.length;
          relayTimes.length = 0;
          await relay.pump();
          if (i === 0) continue; // the first of a kind warms its paths
          times.push(took);
          relayMs.push(...relayTimes);
          registerRequests = sent;
          relayRequests = proxy.requests.slice(relayFrom).filter((r) => r.op !== 'PutEvents').map(({ op, body }) => ({ op, body }));
        }
        const lastEvent = events.entries.at(-1);
        const detailBytes = lastEvent ? Buffer.byteLength(String(lastEvent.Detail ?? ''), 'utf8') : 0;
        profiles.push({
          label: `${members} members, ${keyed ? 'key' : 'no key'}`,
          registerRequests,
          registerMs: pct(times, 50),
          registerMemoryMb: 512,
          relayRequests,
          relayMs: relayMs.length > 0 ? pct(relayMs, 50) : 0,
          relayMemoryMb: 256,
          relayInvocations: 1,
          eventEntryBytes: 14 + detailBytes + Buffer.byteLength('galaxy.gamemasterruntime_snapshot_update', 'utf8'),
        });
      }
    }
    costTable = formatCostTable(profiles);
  }

  // 5. Bundle bytes and import time.
  if (!values['skip-bundles']) {
    const importEnv = { ...env, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:9' };
    const b = await measureBundles(importEnv, importRounds, progress);
    row('bundle bytes (registerRuntime, packaged)', kb(b.packagedBytes), `${kb(b.floorBytes)} SDK only`, (b.packagedBytes / b.floorBytes).toFixed(2), `<= floor + 300 KB (${kb(b.floorBytes + 300 * 1024)})`);
    row('bytes a cold start loads (entry + static chunks)', kb(b.packagedColdBytes), `${kb(b.floorColdBytes)} SDK only`, (b.packagedColdBytes / b.floorColdBytes).toFixed(2), '-');
    for (const kind of ['wall', 'cpu'] as const) {
      row(`import ${kind}, NODE_OPTIONS="${b.nodeOptions}" (deployed)`, ms(b.packaged[kind]), ms(b.floor[kind]), (b.packaged[kind] / b.floor[kind]).toFixed(2), '<= 1.25');
      row(`import ${kind}, NODE_OPTIONS="${b.otherOptions}"`, ms(b.packagedOther[kind]), ms(b.floorOther[kind]), (b.packagedOther[kind] / b.floorOther[kind]).toFixed(2), '-');
      row(`import ${kind}, esbuild splitting ${b.splitting ? 'off' : 'on'}`, ms(b.handlerOtherSplit[kind]), ms(b.floorOtherSplit[kind]), (b.handlerOtherSplit[kind] / b.floorOtherSplit[kind]).toFixed(2), '-');
      row(`import ${kind}, SDK floor + ky (engine client before)`, ms(b.floorWithKy[kind]), ms(b.floor[kind]), (b.floorWithKy[kind] / b.floor[kind]).toFixed(2), '-');
      row(`import ${kind}, built without the node:http plugin`, ms(b.handlerWithoutHttpPlugin[kind]), ms(b.floor[kind]), (b.handlerWithoutHttpPlugin[kind] / b.floor[kind]).toFixed(2), '-');
    }
    console.log(`\nwhere the register bundle's bytes go (esbuild metafile): ${b.topPackages.map(([p, n]) => `${p} ${kb(n)}`).join(', ')}`);
  }

  const header = ['figure', 'measured', 'floor', 'ratio', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}`);
  console.log(`\nwhat a registration costs (warm, median of 9; durations on this machine, DynamoDB Local, not Lambda's):\n${costTable}`);
  console.log(`\n(Node ${process.version}, ${runs} latency samples, ${bigRuns} big-roster samples; DynamoDB Local behind the counting proxy)`);
  proxiedClient.destroy();
} finally {
  await engine.close();
  await events.close();
  await proxy.close();
  await dynamo.stop();
}
