/**
 * `npm ci` on the Node versions docs/development.md accepts: under Node 24 (the
 * pinned one) no package's `engines` refuses it; under an older system
 * Node the EBADENGINE warnings npm prints are expected, and docs/development.md's
 * Requirements say so and why.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// npm's own range checker (installed with the tool chain).
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } };

const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as { packages: Record<string, { engines?: { node?: string }; version?: string; optional?: boolean }> };
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
const readme = readFileSync(`${ROOT}docs/development.md`, 'utf8');

/** The installed packages (and the project, '') whose engines.node refuses `version`. */
function refusing(version: string): string[] {
  return Object.entries(lock.packages)
    .filter(([, p]) => !p.optional && typeof p.engines?.node === 'string' && !semver.satisfies(version, p.engines.node))
    .map(([path]) => path.replace(/^.*node_modules\//, ''));
}

describe('npm ci and the engines of the packages', () => {
  it('the pinned Node, and any Node 24 the project accepts, satisfies every engines.node: no EBADENGINE there', () => {
    const pinned = lock.packages['node_modules/node']?.version as string;
    expect(pinned).toMatch(/^24\./);
    expect(semver.satisfies(pinned, pkg.engines.node)).toBe(true);
    expect(refusing(pinned)).toEqual([]);
    expect(refusing(semver.minVersion(pkg.engines.node).version)).toEqual([]);
  });

  it('under an older Node some packages warn, and docs/development.md says that is expected, and why', () => {
    expect(readme).toMatch(/\| Node\.js ≥ 20 with npm \|/);
    expect(refusing('20.20.0')).toEqual(expect.arrayContaining(['', 'vitest']));
    const row = readme.split('\n').find((l) => l.startsWith('| Node.js ≥ 20 with npm |')) as string;
    expect(row).toContain('EBADENGINE');
    expect(row).toMatch(/expected and harmless/);
    expect(row).toMatch(/Under Node 24 there are none/);
  });
});
