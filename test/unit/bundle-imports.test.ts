/**
 * What the register bundle may not hold: built with the deployed esbuild
 * settings (serverless.yml custom.esbuild), its metafile lists every
 * package that went in. `undici` (an Agent with a checked lookup) and then
 * `ky` (over a fetch of our own) were the engine client's transport; it
 * calls node:http directly now (lib/adapters/pinned-http.ts): this guards
 * against either coming back into the bundle.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLikeDeployed, bytesByPackage, HTTP_PLUGIN } from '../../scripts/bench/bundle-figures.ts';

const out = mkdtempSync(join(tmpdir(), 'gm-bundle-imports-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('Bundle: registerRuntime', () => {
  it('holds neither undici nor ky', async () => {
    const entry = fileURLToPath(new URL('../../functions/register-runtime/handler.ts', import.meta.url));
    const built = await buildLikeDeployed(entry, out);
    const packages = bytesByPackage(built.metafile).map(([name]) => name);
    expect(packages).toContain('@aws-sdk/client-dynamodb');
    expect(packages).not.toContain('undici');
    expect(packages).not.toContain('ky');
  });
});

describe('esbuild plugin: node:http without Node\'s fetch (infra/esbuild-plugins.cjs)', () => {
  /** Builds `source` like a deployed bundle (or without the plugin) and imports it in a fresh Node process. */
  async function buildAndImport(name: string, source: string, withoutPlugins: string[] = []) {
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    const entry = join(dir, 'entry.mjs');
    writeFileSync(entry, source);
    const built = await buildLikeDeployed(entry, join(dir, 'out'), undefined, withoutPlugins);
    const script = `const m = await import(${JSON.stringify(`file://${built.file}`)}); process.stdout.write(JSON.stringify({ value: await m.value(), fetchLoaded: process.moduleLoadList.some((x) => x.includes('internal/deps/undici')) }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { value: unknown; fetchLoaded: boolean };
  }

  const SOURCE = [
    "import http, { STATUS_CODES, Agent } from 'node:http';",
    "import { request } from 'http';",
    "export const value = async () => [STATUS_CODES[404], typeof new Agent().destroy, request === http.request, typeof (await import('node:http')).default.createServer];",
  ].join('\n');

  it('gives bundled code the real node:http exports (static, bare and dynamic imports) without loading Node\'s fetch', async () => {
    // Act
    const result = await buildAndImport('with-plugin', SOURCE);
    // Assess
    expect(result).toEqual({ value: ['Not Found', 'function', true, 'function'], fetchLoaded: false });
  });

  it('is what keeps the fetch out: the same bundle built without it loads Node\'s fetch at import', async () => {
    // Act
    const result = await buildAndImport('without-plugin', SOURCE, [HTTP_PLUGIN]);
    // Assess
    expect(result).toEqual({ value: ['Not Found', 'function', true, 'function'], fetchLoaded: true });
  });

  it('fails the build on a node:http export it does not provide, instead of leaving it undefined', async () => {
    // Prepare
    const dir = join(out, 'unknown-export');
    mkdirSync(dir, { recursive: true });
    const entry = join(dir, 'entry.mjs');
    writeFileSync(entry, "import { globalAgent } from 'node:http';\nexport const value = () => globalAgent;\n");
    // Act / Assess
    await expect(buildLikeDeployed(entry, join(dir, 'out'))).rejects.toThrow(/globalAgent/);
  });
});
