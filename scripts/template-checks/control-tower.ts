/**
 * AWS Control Tower's proactive controls (237 cfn-guard rules, shipped with
 * the cfn-guard 3.1.1 binary in @cdklabs/cdk-validator-cfnguard) as an
 * advisory report: printed, never failing. Several are compliance choices
 * this project does not make (customer KMS keys, 365-day log retention,
 * Lambda in a VPC), and some rules cannot evaluate Fn::Join (false
 * positives). Only the rule folders of the services the template uses are
 * evaluated.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import type { Json } from './types.ts';

const require = createRequire(import.meta.url);

export interface ControlTowerResult {
  /** One line per failed control: `[CT.SQS.PR.1] sqs_dlq_check: SnapshotDeadLetterQueue`. */
  failed: { control: string; rule: string; resources: string[] }[];
  /** Set when the report could not be made (no binary for this platform, ...). */
  unavailable?: string;
}

const SERVICE_FOLDERS: Record<string, string> = {
  ApiGatewayV2: 'apigateway',
  CloudWatch: 'cloudwatch',
  Logs: 'cloudwatch',
  DynamoDB: 'dynamodb',
  IAM: 'identityandaccessmanagement',
  Lambda: 'lambda',
  S3: 's3',
  SQS: 'sqs',
  KMS: 'keymanagementservice',
};

export function controlTowerAdvisory(templatePath: string, template: Json): Promise<ControlTowerResult> {
  const root = dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
  const platform = process.platform === 'darwin' ? 'macos' : 'ubuntu';
  const binary = join(root, 'bin', platform, arch() === 'arm64' ? 'aarch64' : 'x86_64', 'cfn-guard');
  if (!existsSync(binary)) return Promise.resolve({ failed: [], unavailable: `no cfn-guard binary at ${binary}` });
  const rulesRoot = join(root, 'rules/control-tower/cfn-guard');
  const services = new Set(Object.values<Json>(template.Resources ?? {}).map((r) => String(r.Type).split('::')[1] ?? ''));
  const folders = [...new Set([...services].map((s) => SERVICE_FOLDERS[s]).filter((f): f is string => !!f))].filter((f) =>
    readdirSync(rulesRoot).includes(f),
  );
  const args = ['validate', '-d', templatePath, '--output-format', 'json', '--show-summary', 'none', '--structured', ...folders.flatMap((f) => ['-r', join(rulesRoot, f)])];
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (error) => resolve({ failed: [], unavailable: error.message }));
    child.on('close', (code) => {
      // 0: all pass, 19: some rules failed; anything else is cfn-guard failing.
      if (code !== 0 && code !== 19) {
        resolve({ failed: [], unavailable: `cfn-guard exited ${code}: ${err.trim().split('\n')[0]}` });
        return;
      }
      try {
        resolve({ failed: parse(out) });
      } catch (error) {
        resolve({ failed: [], unavailable: `cfn-guard output not understood: ${(error as Error).message}` });
      }
    });
  });
}

function parse(output: string): ControlTowerResult['failed'] {
  const reports = JSON.parse(output) as Json[];
  const failed: ControlTowerResult['failed'] = [];
  for (const report of reports) {
    for (const entry of report.not_compliant ?? []) {
      const text = JSON.stringify(entry);
      const control = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(text)?.[1] ?? '';
      const resources = [...new Set([...text.matchAll(/\/Resources\/([A-Za-z0-9]+)/g)].map((m) => m[1] as string))];
      failed.push({ control, rule: entry.Rule?.name ?? '?', resources });
    }
  }
  return failed.sort((a, b) => a.control.localeCompare(b.control));
}
