/**
 * What the register bundle may not hold: built with the deployed esbuild
 * settings (serverless.yml custom.esbuild), its metafile lists every
 * package that went in. `undici` was the engine client's transport (the
 * engine client connects over node:http now): this guards against it
 * coming back into the bundle.
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
  it('holds no undici', async () => {
    const entry = fileURLToPath(new URL('../../functions/register-runtime/handler.ts', import.meta.url));
    const built = await buildLikeDeployed(entry, out);
    const packages = bytesByPackage(built.metafile).map(([name]) => name);
    expect(packages).toContain('ky');
    expect(packages).not.toContain('undici');
  });
});
