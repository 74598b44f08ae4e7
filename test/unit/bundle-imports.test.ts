/**
 * What the register bundle may not hold: built with the deployed esbuild
 * settings (serverless.yml custom.esbuild), its metafile lists every
 * package that went in. `undici` (an Agent with a checked lookup) and then
 * `ky` (over a fetch of our own) were the engine client's transport; it
 * calls node:http directly now (lib/adapters/pinned-http.ts): this guards
 * against either coming back into the bundle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLikeDeployed, bytesByPackage } from '../../scripts/bench/bundle-figures.ts';

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
