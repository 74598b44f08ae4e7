/**
 * The written allow-list (infra/template-checks/allow-list.yml): every
 * finding that is accepted, each with its reason. A finding is allowed when
 * an entry names its tool and rule id (`*` in an id matches any text, for
 * ids that carry the stage name) and, when the entry lists resources, the
 * finding is about one of them.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Finding, Tool } from './types.ts';

export interface AllowEntry {
  tool: Tool;
  id: string;
  resources?: string[];
  reason: string;
}

const TOOLS = new Set<Tool>(['cfn-validate', 'guard', 'cdk-nag', 'project']);

export function loadAllowList(file: string): AllowEntry[] {
  const entries = parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(entries)) throw new Error(`${file}: a list of entries`);
  entries.forEach((e: Partial<AllowEntry>, i) => {
    const where = `${file}: entry ${i + 1} (${e?.id ?? '?'})`;
    if (!e || !TOOLS.has(e.tool as Tool)) throw new Error(`${where}: tool is one of ${[...TOOLS].join(', ')}`);
    if (typeof e.id !== 'string' || !e.id) throw new Error(`${where}: no id`);
    if (typeof e.reason !== 'string' || e.reason.trim().length < 20) throw new Error(`${where}: every allowed finding needs its reason`);
    if (e.resources !== undefined && (!Array.isArray(e.resources) || e.resources.length === 0)) throw new Error(`${where}: resources is a non-empty list`);
  });
  return entries as AllowEntry[];
}

const globToRegExp = (glob: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

export function allowing(entries: AllowEntry[], finding: Finding): AllowEntry | undefined {
  return entries.find(
    (e) =>
      e.tool === finding.tool &&
      globToRegExp(e.id).test(finding.id) &&
      (e.resources === undefined || (finding.resource !== undefined && e.resources.includes(finding.resource))),
  );
}
