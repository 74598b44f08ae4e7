/**
 * The written allow-list of check:template (infra/template-checks/allow-list.yml):
 * every entry is well formed and gives its reason, and an entry allows only
 * the findings it names (scripts/template-checks/allow-list.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AllowEntry, allowing, loadAllowList } from '../../scripts/template-checks/allow-list.ts';
import { ALLOW_LIST_FILE } from '../../scripts/template-checks/index.ts';

describe('Module: allow-list', () => {
  it('loads the project allow-list: every entry names a tool, a rule and a reason', () => {
    const entries = loadAllowList(ALLOW_LIST_FILE);
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(entry.reason.length, entry.id).toBeGreaterThan(40);
  });

  it('allows a finding only for its tool, its rule and its resources', () => {
    const entries: AllowEntry[] = [
      { tool: 'cdk-nag', id: 'AwsSolutions-SQS3', resources: ['Queue'], reason: 'the queue is the dead-letter queue itself' },
      { tool: 'cdk-nag', id: 'AwsSolutions-IAM5[Resource::arn:logs:/aws/lambda/game-master-*:*]', reason: 'own log streams only, named at run time' },
    ];
    expect(allowing(entries, { tool: 'cdk-nag', id: 'AwsSolutions-SQS3', resource: 'Queue', message: '' })).toBe(entries[0]);
    expect(allowing(entries, { tool: 'cdk-nag', id: 'AwsSolutions-SQS3', resource: 'OtherQueue', message: '' })).toBeUndefined();
    expect(allowing(entries, { tool: 'guard', id: 'AwsSolutions-SQS3', resource: 'Queue', message: '' })).toBeUndefined();
    expect(allowing(entries, { tool: 'cdk-nag', id: 'AwsSolutions-IAM5[Resource::arn:logs:/aws/lambda/game-master-ci-x:*]', resource: 'Role', message: '' })).toBe(entries[1]);
    expect(allowing(entries, { tool: 'cdk-nag', id: 'AwsSolutions-IAM5[Resource::*]', resource: 'Role', message: '' })).toBeUndefined();
  });

  it.each([
    ['no reason', '- {tool: cdk-nag, id: AwsSolutions-S1}'],
    ['a reason too short to be one', '- {tool: cdk-nag, id: AwsSolutions-S1, reason: fine}'],
    ['an unknown tool', '- {tool: checkov, id: CKV_AWS_1, reason: "a reason long enough to read as one"}'],
    ['an empty resource list', '- {tool: cdk-nag, id: AwsSolutions-S1, resources: [], reason: "a reason long enough to read as one"}'],
  ])('refuses an entry with %s', (_what, yaml) => {
    const dir = mkdtempSync(join(tmpdir(), 'gm-allow-'));
    try {
      const file = join(dir, 'allow.yml');
      writeFileSync(file, yaml);
      expect(() => loadAllowList(file)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
