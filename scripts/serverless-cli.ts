/**
 * Runs the project's osls (`serverless`) CLI with the local environment:
 * the pinned Node, the repository as the service directory, stage `local`,
 * and no AWS credentials of the developer's (only the local dummy ones), so
 * nothing a local run does can reach a real AWS account.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOCAL_STAGE } from './local-env.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SERVERLESS_BIN = fileURLToPath(new URL('../node_modules/.bin/serverless', import.meta.url));

export function localProcessEnv(localEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Real credentials, profiles and endpoints stay out of local runs.
    if (key.startsWith('AWS_')) continue;
    env[key] = value;
  }
  return {
    ...env,
    ...localEnv,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
}

/** `serverless <args> --stage local`, output straight to this terminal. */
export function runServerless(args: string[], localEnv: Record<string, string>): ChildProcess {
  return spawnServerless(args, LOCAL_STAGE, localEnv, 'inherit');
}

/** `serverless <args> --stage <stage>` in the same credential-free environment; `pipe` hands its output to the caller. */
export function spawnServerless(args: string[], stage: string, env: Record<string, string>, output: 'inherit' | 'pipe'): ChildProcess {
  return spawn(process.execPath, [SERVERLESS_BIN, ...args, '--stage', stage], {
    cwd: ROOT,
    env: localProcessEnv(env),
    stdio: output === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
}

export function exitCodeOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once('error', () => resolve(1));
    child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Stops a child still running: SIGTERM, then SIGKILL after a grace period. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exitCodeOf(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}
