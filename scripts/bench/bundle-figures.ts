/**
 * Cold-start figures for the bench: the registerRuntime bundle as
 * `serverless package` builds it (serverless.yml custom.esbuild) against
 * its floor, a bundle of only the AWS SDK clients and commands it uses,
 * built with the same esbuild settings. Both are imported in fresh Node
 * processes with the deployed NODE_OPTIONS, alternately, many times; the
 * median is printed. Also: where the bytes go (esbuild metafile), the bytes
 * a cold start loads (the entry and the chunks it imports statically; the
 * chunks of dynamic imports load when first reached), and the other side of
 * the code-splitting decision (both bundles built with `splitting` toggled).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { parse } from 'yaml';
import { packageService, unpackFunction } from '../../test/support/bundled-lambda.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The SDK the register function uses, constructed as the handler does at
 * import: the floor. DynamoDB only: registerRuntime never calls EventBridge
 * (the outbox relay does; test/deploy/package.test.ts checks its bundle
 * holds no EventBridge client).
 */
const SDK_ONLY_ENTRY = `
import { DynamoDBClient, DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
const dynamo = new DynamoDBClient({ maxAttempts: 3 });
export const clients = { doc: DynamoDBDocumentClient.from(dynamo) };
export const commands = [DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, BatchGetCommand, DeleteCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand];
export const handler = async () => ({ statusCode: 200 });
`;

/**
 * The floor plus ky, the engine client's former HTTP client, to show in the
 * same run what ky alone costs at import (docs/performance.md): its import
 * builds a probe `Request`, which loads Node's own fetch (undici and web
 * streams).
 */
const WITH_KY_ENTRY = `${SDK_ONLY_ENTRY}\nimport ky from 'ky';\nexport const extra = ky;\n`;

/** infra/esbuild-plugins.cjs's plugin that keeps node:http imports from loading Node's fetch. */
export const HTTP_PLUGIN = 'node-http-without-fetch';

interface Serverless {
  provider: { environment: Record<string, string> };
  custom: { esbuild: Record<string, unknown> };
}

function serverlessYml(): Serverless {
  // CloudFormation tags (!GetAtt, !Sub) are left unresolved: only plain settings are read.
  return parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as Serverless;
}

/** The NODE_OPTIONS the functions are deployed with ('' when none). */
export function deployedNodeOptions(): string {
  return String(serverlessYml().provider.environment.NODE_OPTIONS ?? '');
}

/** serverless.yml's custom.esbuild as esbuild options (what serverless-esbuild hands esbuild), its plugins included. */
function deployedEsbuildOptions(splitting?: boolean, withoutPlugins: string[] = []): BuildOptions {
  const e = serverlessYml().custom.esbuild;
  const plugins = e.plugins === undefined ? [] : (createRequire(import.meta.url)(join(ROOT, String(e.plugins))) as Plugin[]);
  return {
    plugins: plugins.filter((p) => !withoutPlugins.includes(p.name)),
    bundle: e.bundle as boolean,
    minify: e.minify as boolean,
    sourcemap: e.sourcemap as boolean,
    sourcesContent: e.sourcesContent as boolean,
    target: e.target as string,
    platform: e.platform as 'node',
    format: e.format as 'esm',
    mainFields: e.mainFields as string[],
    banner: e.banner as Record<string, string>,
    ...((splitting ?? e.splitting === true) ? { splitting: true } : {}),
    outExtension: { '.js': String(e.outputFileExtension ?? '.js') },
    external: (e.external as string[] | undefined) ?? [],
  };
}

export interface BundleBuild {
  /** The entry's output file. */
  file: string;
  /** Bytes of every .js file written (the entry and any chunks). */
  jsBytes: number;
  /** Bytes a cold start loads: the entry and the chunks it imports statically, transitively. */
  coldBytes: number;
  metafile: Metafile;
}

/**
 * Builds an entry with the deployed esbuild settings and plugins (or with
 * `splitting` set otherwise, or without the named plugins) into outdir.
 */
export async function buildLikeDeployed(entry: string, outdir: string, splitting?: boolean, withoutPlugins: string[] = []): Promise<BundleBuild> {
  const result = await build({ ...deployedEsbuildOptions(splitting, withoutPlugins), entryPoints: [entry], outdir, metafile: true, write: true, logLevel: 'silent' });
  // The deployed plugins write the ES-module marker; without them, it is written here.
  writeFileSync(join(outdir, 'package.json'), '{"type":"module"}\n');
  const outputs = Object.entries(result.metafile.outputs).filter(([name]) => name.endsWith('.js'));
  // With splitting, the chunks of dynamic imports are entry points too: the entry is the one built from `entry`.
  const entryOut = outputs.find(([, o]) => o.entryPoint !== undefined && join(process.cwd(), o.entryPoint) === entry);
  if (entryOut === undefined) throw new Error('no entry output');
  const cold = new Set<string>();
  const pending = [entryOut[0]];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (cold.has(name)) continue;
    cold.add(name);
    for (const i of result.metafile.outputs[name]?.imports ?? []) if (i.kind === 'import-statement' && i.path in result.metafile.outputs) pending.push(i.path);
  }
  return {
    file: join(process.cwd(), entryOut[0]),
    jsBytes: outputs.reduce((n, [, o]) => n + o.bytes, 0),
    coldBytes: outputs.reduce((n, [name, o]) => n + (cold.has(name) ? o.bytes : 0), 0),
    metafile: result.metafile,
  };
}

/** Bytes in the output per package (node_modules/<pkg>), largest first. */
export function bytesByPackage(metafile: Metafile): [string, number][] {
  const by = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [file, info] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? '(project sources)';
      by.set(pkg, (by.get(pkg) ?? 0) + info.bytesInOutput);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

export interface ImportTime {
  /** Wall-clock milliseconds around the import. */
  wall: number;
  /** CPU milliseconds (user + system) the process spent on it: steadier than wall time on a shared machine. */
  cpu: number;
}

/** Time to import `file` in a fresh Node process (measured inside the process, around the import). */
function importOnce(file: string, nodeOptions: string, env: Record<string, string>): Promise<ImportTime> {
  const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(`file://${file}`)}); const wall = performance.now() - t; const u = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wall, cpu: (u.user + u.system) / 1000 }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', ...env, NODE_OPTIONS: nodeOptions },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as ImportTime) : reject(new Error(`import of ${file} failed (${code}):\n${err}`))));
  });
}

/** Bytes of the .js files under dir (the bundle and any chunks; not the source maps). */
function jsBytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.js')) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** Median import times of several files, measured alternately (so drift hits all alike). */
export async function importTimes(
  files: string[],
  nodeOptions: string,
  env: Record<string, string>,
  rounds: number,
  onProgress: (done: number) => void,
): Promise<ImportTime[]> {
  const samples = files.map(() => [] as ImportTime[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < files.length; i++) samples[i]?.push(await importOnce(files[i] as string, nodeOptions, env));
    onProgress(r + 1);
  }
  return samples.map((xs) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) }));
}

export interface BundleFigures {
  packagedBytes: number;
  floorBytes: number;
  /** What a cold start loads of each (the same build, from esbuild's metafile). */
  packagedColdBytes: number;
  floorColdBytes: number;
  /** Whether the deployed settings split code, and both bundles' import times built the other way. */
  splitting: boolean;
  handlerOtherSplit: ImportTime;
  floorOtherSplit: ImportTime;
  /** Median import times with the deployed NODE_OPTIONS. */
  packaged: ImportTime;
  floor: ImportTime;
  /** The same with source maps toggled (the other side of the decision). */
  packagedOther: ImportTime;
  floorOther: ImportTime;
  /** The floor plus `ky` (the engine client's former HTTP client). */
  floorWithKy: ImportTime;
  /** The register handler built without the node:http plugin (infra/esbuild-plugins.cjs). */
  handlerWithoutHttpPlugin: ImportTime;
  nodeOptions: string;
  otherOptions: string;
  topPackages: [string, number][];
}

/**
 * Packages the service (slow: about a minute), builds the floor and the
 * register handler with esbuild for the metafile, and times the imports.
 */
export async function measureBundles(env: Record<string, string>, rounds: number, progress: (m: string) => void): Promise<BundleFigures> {
  const work = mkdtempSync(join(tmpdir(), 'gm-bench-bundles-'));
  try {
    progress('bundles: serverless package (about a minute)...');
    const packaged = await packageService('bench', 300_000);
    let packagedFile: string;
    try {
      const task = join(work, 'register');
      unpackFunction(join(packaged.pkg, 'registerRuntime.zip'), task);
      packagedFile = join(task, 'functions/register-runtime/handler.js');
    } finally {
      packaged.remove();
    }
    progress('bundles: esbuild floor (SDK clients only) and metafile of the register handler...');
    // The floor's imports resolve from this project's node_modules: its
    // source is written there for the build, then removed.
    const buildSource = async (source: string, name: string, splitting?: boolean): Promise<BundleBuild> => {
      const dir = join(ROOT, '.bench-floor');
      mkdirSync(dir, { recursive: true });
      const src = join(dir, 'sdk-only.mjs');
      writeFileSync(src, source);
      try {
        return await buildLikeDeployed(src, join(work, name), splitting);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const floor = await buildSource(SDK_ONLY_ENTRY, 'floor');
    const handlerEntry = join(ROOT, 'functions/register-runtime/handler.ts');
    const meta = await buildLikeDeployed(handlerEntry, join(work, 'meta'));
    // The other side of the code-splitting decision, for both bundles.
    const splitting = serverlessYml().custom.esbuild.splitting === true;
    const floorOtherSplit = await buildSource(SDK_ONLY_ENTRY, 'floor-other-split', !splitting);
    const handlerOtherSplit = await buildLikeDeployed(handlerEntry, join(work, 'handler-other-split'), !splitting);
    // What ky alone costs on top of the floor, and the handler built without
    // the plugin that keeps node:http imports from loading Node's fetch.
    const withKy = await buildSource(WITH_KY_ENTRY, 'floor-ky');
    const withoutHttpPlugin = await buildLikeDeployed(handlerEntry, join(work, 'handler-without-http-plugin'), undefined, [HTTP_PLUGIN]);
    const nodeOptions = deployedNodeOptions();
    // Measured in one alternation, so that drift hits the deployed build and
    // the other side of the splitting decision alike.
    const files = [packagedFile, floor.file, handlerOtherSplit.file, floorOtherSplit.file, withKy.file, withoutHttpPlugin.file];
    progress(`bundles: import times, ${rounds} rounds with the deployed NODE_OPTIONS="${nodeOptions}" (also built with splitting ${splitting ? 'off' : 'on'}), ${rounds} with source maps toggled...`);
    const [packagedTime, floorTime, handlerOtherSplitTime, floorOtherSplitTime, withKyTime, withoutHttpPluginTime] = await importTimes(files, nodeOptions, env, rounds, (n) => {
      if (n % 5 === 0) progress(`  ${n}/${rounds}`);
    });
    // The other side of the source-map decision.
    const otherOptions = nodeOptions.includes('--enable-source-maps') ? '' : '--enable-source-maps';
    const [packagedOther, floorOther] = await importTimes(files.slice(0, 2), otherOptions, env, rounds, (n) => {
      if (n % 5 === 0) progress(`  ${n}/${rounds}`);
    });
    return {
      packagedBytes: jsBytesUnder(dirname(packagedFile)),
      floorBytes: floor.jsBytes,
      packagedColdBytes: meta.coldBytes,
      floorColdBytes: floor.coldBytes,
      splitting,
      handlerOtherSplit: handlerOtherSplitTime as ImportTime,
      floorOtherSplit: floorOtherSplitTime as ImportTime,
      packaged: packagedTime as ImportTime,
      floor: floorTime as ImportTime,
      packagedOther: packagedOther as ImportTime,
      floorOther: floorOther as ImportTime,
      floorWithKy: withKyTime as ImportTime,
      handlerWithoutHttpPlugin: withoutHttpPluginTime as ImportTime,
      nodeOptions,
      otherOptions,
      topPackages: bytesByPackage(meta.metafile).slice(0, 8),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
