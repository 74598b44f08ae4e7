/**
 * The README and docs/ keep their promises to a reader: every relative
 * link points to a file of the repository, every `#anchor` to a heading
 * (GitHub's anchor rules), and every `npm run <script>` they name exists in
 * package.json. `<!-- merge: ... -->` markers (and every other HTML
 * comment) are ignored.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

const pages = [join(root, 'README.md'), ...markdownFiles(join(root, 'docs'))];
const withoutComments = (text: string) => text.replace(/<!--[\s\S]*?-->/g, '');
const withoutCode = (text: string) => text.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = withoutComments(markdown).replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  for (const match of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const slug = (match[1] as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative link targets of a page: inline links outside code. */
function linksOf(markdown: string): string[] {
  const text = withoutCode(withoutComments(markdown));
  return [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

describe('documentation links and commands', () => {
  it('finds the README and the docs pages', () => {
    expect(pages.length).toBeGreaterThan(5);
  });

  it('computes GitHub anchors', () => {
    expect([...anchorsOf('# Quick start\n## `npm run smoke`: a check\n## Quick start\n```\n# not a heading\n```')]).toEqual([
      'quick-start',
      'npm-run-smoke-a-check',
      'quick-start-1',
    ]);
  });

  for (const page of pages) {
    const name = relative(root, page);
    const text = readFileSync(page, 'utf8');

    it(`${name}: relative links and anchors resolve`, () => {
      const broken: string[] = [];
      for (const link of linksOf(text)) {
        const [path, anchor] = link.split('#', 2) as [string, string | undefined];
        const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
        if (!target.startsWith(root) || !existsSync(target)) {
          broken.push(`${link}: no such file`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading with that anchor`);
        }
      }
      expect(broken).toEqual([]);
    });

    it(`${name}: every npm run script it names exists`, () => {
      const named = [...withoutComments(text).matchAll(/npm run ([A-Za-z][\w:.-]*)/g)].map((m) => m[1] as string);
      expect(named.filter((s) => !scripts.includes(s))).toEqual([]);
    });
  }
});
