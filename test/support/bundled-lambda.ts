/**
 * The functions as deployed, run for real: `serverless package` in a scratch
 * copy of the service (offline, no AWS credentials, as CI does it and as
 * test/deploy/package.test.ts uses it), the zips unpacked, and each bundled
 * handler run in a child process of its own under this Node (24), loaded
 * the way Lambda loads it.
 *
 * The child is a small plain-.mjs runner written beside the unpacked bundle:
 * it loads the handler through Lambda's own loader (the runtime interface
 * client's UserFunction, which serverless-offline ships a copy of; a plain
 * `import()` of the bundle when it is absent), then serves invocations one
 * at a time, as a warm Lambda container does: one JSON request per stdin
 * line, one JSON answer per stdout line. Everything else the handler prints
 * (Powertools logs, EMF metric documents) is kept apart, line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { checkHttpAnswerOf } from './contract.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RIC_LOADER = join(ROOT, 'node_modules/serverless-offline/src/lambda/handler-runner/in-process-runner/aws-lambda-ric/UserFunction.js');

type Json = any;

export interface PackagedService {
  /** Scratch directory holding the service copy, the package and the unpacked bundles. */
  work: string;
  /** The `--package` directory: one zip per function and the CloudFormation template. */
  pkg: string;
  template: Json;
  /** Everything `serverless package` printed. */
  output: string;
  /** Removes the scratch directory. */
  remove(): void;
}

/** The process environment with every AWS credential source removed. */
function envWithoutAwsCredentials(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^AWS_/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SLS_INTERACTIVE_SETUP_DISABLE: '1',
    CI: 'true',
  };
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms:\n${output}`));
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** `serverless package --stage <stage>` in a scratch copy of the service (node_modules linked), without AWS credentials. */
export async function packageService(stage: string, timeoutMs: number): Promise<PackagedService> {
  const work = mkdtempSync(join(tmpdir(), 'gm-bundle-e2e-'));
  const remove = () => rmSync(work, { recursive: true, force: true });
  try {
    const service = join(work, 'service');
    const pkg = join(work, 'package');
    const skip = new Set(['node_modules', '.git', '.esbuild', '.serverless', 'coverage', 'dist', '.dynamodb']);
    cpSync(ROOT, service, {
      recursive: true,
      filter: (src) => {
        const rel = relative(ROOT, src);
        return rel === '' || !skip.has(rel.split(sep)[0] ?? '');
      },
    });
    symlinkSync(join(ROOT, 'node_modules'), join(service, 'node_modules'), 'dir');
    const bin = join(ROOT, 'node_modules', '.bin', 'serverless');
    const result = await run(process.execPath, [bin, 'package', '--stage', stage, '--package', pkg], {
      cwd: service,
      env: envWithoutAwsCredentials(work),
      timeoutMs,
    });
    if (result.code !== 0) throw new Error(`serverless package failed (exit ${result.code}):\n${result.output}`);
    const template = JSON.parse(readFileSync(join(pkg, 'cloudformation-template-update-stack.json'), 'utf8'));
    // The copy of the sources is not needed any more; the package is.
    rmSync(service, { recursive: true, force: true });
    return { work, pkg, template, output: result.output, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

/** The entries of a zip archive (stored or deflated), by path. */
export function readZip(file: string): Map<string, Buffer> {
  const zip = readFileSync(file);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: not a zip archive`);
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (!name.endsWith('/')) {
      if (method === 0) entries.set(name, Buffer.from(data));
      else if (method === 8) entries.set(name, inflateRawSync(data));
      else throw new Error(`${file}: ${name} uses compression method ${method}`);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Unzips `zipFile` into `dir` (what Lambda's /var/task holds). */
export function unpackFunction(zipFile: string, dir: string): void {
  for (const [name, data] of readZip(zipFile)) {
    const target = join(dir, name);
    if (!target.startsWith(dir + sep)) throw new Error(`zip entry escapes the directory: ${name}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
}

/**
 * The runner, plain JavaScript (ES module): argv[2] the task root, argv[3]
 * the handler string as deployed (`functions/x/handler.handler`), argv[4]
 * Lambda's loader (or "" for a plain import). Requests on stdin, one JSON
 * line each: `{ id, event, context }` where context is `{ kind: "lambda",
 * remainingMs }` (a Lambda-like context with that deadline) or `{ kind:
 * "raw", value }` (passed as is, e.g. `{}`); or `{ id, probe: "fetchLoaded" }`,
 * answered with whether the process has loaded Node's own fetch (its
 * bundled undici) so far. Answers on stdout:
 * `{ "__runner": "ready" }` once loaded, then `{ "__runner": "answer", id,
 * result }` or `{ "__runner": "answer", id, error }` per request.
 */
const RUNNER_SOURCE = `
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [taskRoot, handlerString, loaderPath] = process.argv.slice(2);
const say = (value) => process.stdout.write(JSON.stringify(value) + '\\n');

let handler;
if (loaderPath) {
  const { load } = await import(pathToFileURL(loaderPath).href);
  handler = await load(taskRoot, handlerString);
} else {
  const dot = handlerString.lastIndexOf('.');
  const mod = await import(pathToFileURL(join(taskRoot, handlerString.slice(0, dot) + '.js')).href);
  handler = mod[handlerString.slice(dot + 1)];
}
if (typeof handler !== 'function') throw new Error(handlerString + ' is not a function');

function lambdaContext(remainingMs) {
  const deadline = Date.now() + remainingMs;
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:' + name,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/' + name,
    logStreamName: '2026/11/25/[$LATEST]' + randomUUID().replaceAll('-', ''),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

say({ __runner: 'ready' });
// One invocation at a time, as a Lambda execution environment serves them.
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const request = JSON.parse(line);
  if (request.probe === 'fetchLoaded') {
    say({ __runner: 'answer', id: request.id, result: process.moduleLoadList.some((m) => m.includes('internal/deps/undici')) });
    continue;
  }
  const context = request.context.kind === 'lambda' ? lambdaContext(request.context.remainingMs) : request.context.value;
  try {
    const result = await handler(request.event, context);
    say({ __runner: 'answer', id: request.id, result: result === undefined ? null : result });
  } catch (error) {
    say({ __runner: 'answer', id: request.id, error: String(error && error.stack ? error.stack : error) });
  }
}
// stdin closed: the environment is shut down (idle keep-alive sockets must not hold it open).
process.exit(0);
`;

export type InvokeContext = { kind: 'lambda'; remainingMs?: number } | { kind: 'raw'; value: unknown };

export interface BundledFunction {
  child: ChildProcess;
  /** Lines the handler printed that are not runner answers (Powertools logs, EMF documents), parsed when JSON. */
  printed: unknown[];
  /** Everything on stderr. */
  stderr(): string;
  /** Sends one invocation; resolves with the handler's result (rejects when the handler threw or the process died). */
  invoke<T = Json>(event: unknown, context?: InvokeContext): Promise<T>;
  /** Whether the process has loaded Node's own fetch (undici, web streams) so far. */
  fetchLoaded(): Promise<boolean>;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Ends the process (stdin closed; SIGKILL if it lingers). */
  stop(): Promise<void>;
}

/**
 * Starts the bundled handler unpacked at `taskRoot` in a child process,
 * with exactly `env` (plus PATH) as its environment, and waits until the
 * handler module has loaded (its cold start).
 */
export async function startBundledFunction(taskRoot: string, handlerString: string, env: Record<string, string>): Promise<BundledFunction> {
  const runner = join(taskRoot, '..', `${relative(dirname(taskRoot), taskRoot)}-runner.mjs`);
  if (!existsSync(runner)) writeFileSync(runner, RUNNER_SOURCE);
  const loader = existsSync(RIC_LOADER) ? RIC_LOADER : '';
  const child = spawn(process.execPath, [runner, taskRoot, handlerString, loader], {
    cwd: taskRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const printed: unknown[] = [];
  let stderr = '';
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  let onReady: (() => void) | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const p of pending.values()) p.reject(new Error(`the function process exited (${signal ?? code}) before answering:\n${stderr}`));
      pending.clear();
      resolve({ code, signal });
    });
  });

  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      let parsed: Json;
      try {
        parsed = JSON.parse(line);
      } catch {
        printed.push(line);
        continue;
      }
      if (parsed?.__runner === 'ready') onReady?.();
      else if (parsed?.__runner === 'answer') {
        const p = pending.get(parsed.id);
        pending.delete(parsed.id);
        if (parsed.error !== undefined) p?.reject(new Error(`the handler threw: ${parsed.error}`));
        else p?.resolve(parsed.result);
      } else printed.push(parsed);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));

  await new Promise<void>((resolve, reject) => {
    onReady = resolve;
    void exited.then(({ code, signal }) => reject(new Error(`${handlerString} failed to load (${signal ?? code}):\n${stderr}`)));
  });

  return {
    child,
    printed,
    stderr: () => stderr,
    invoke(event, context = { kind: 'lambda' }) {
      const id = ++nextId;
      const ctx = context.kind === 'lambda' ? { kind: 'lambda', remainingMs: context.remainingMs ?? 28_000 } : context;
      const answer = new Promise<Json>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.stdin?.write(`${JSON.stringify({ id, event, context: ctx })}\n`);
      });
      // An HTTP answer of the bundle is checked against docs/openapi.yaml, as coldStart() does.
      return answer.then((result) => {
        checkHttpAnswerOf(event, result);
        return result;
      });
    },
    fetchLoaded() {
      const id = ++nextId;
      return new Promise<boolean>((resolve, reject) => {
        pending.set(id, { resolve: (v) => resolve(v === true), reject });
        child.stdin?.write(`${JSON.stringify({ id, probe: 'fetchLoaded' })}\n`);
      });
    },
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
