/**
 * `npm run check:template [-- path/to/template.json]`: checks the packaged
 * CloudFormation template before anything is deployed, offline.
 *
 * Without a path it packages first (`serverless package --stage ci`, no AWS
 * credentials: the stage with the deployed defaults, as the deploy tests
 * use) and checks .serverless/cloudformation-template-update-stack.json.
 * Exits 1 on any finding that infra/template-checks/allow-list.yml does not
 * allow; prints the Control Tower report as advice. What each check does and
 * how to allow a finding: docs/operations.md, "Checking the template before a deploy".
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exitCodeOf, spawnServerless } from './serverless-cli.ts';
import { controlTowerAdvisory, describeFinding, ROOT, TemplateChecker } from './template-checks/index.ts';

const DEFAULT_TEMPLATE = join(ROOT, '.serverless/cloudformation-template-update-stack.json');
const PACKAGE_STAGE = 'ci';

/** Resolves when `serverless package` is done; runs in a child process, so the engine starts meanwhile. */
async function packageService(): Promise<void> {
  const started = performance.now();
  const child = spawnServerless(['package'], PACKAGE_STAGE, { CI: 'true' }, 'pipe');
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const code = await exitCodeOf(child);
  if (code !== 0) throw new Error(`serverless package --stage ${PACKAGE_STAGE} failed (exit ${code}):\n${output}`);
  process.stdout.write(`packaged (stage ${PACKAGE_STAGE}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

async function main(): Promise<number> {
  const started = performance.now();
  const arg = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const packaged = arg ? Promise.resolve() : packageService();
  // The engine starts (seconds of WebAssembly compilation) while serverless packages.
  const checker = TemplateChecker.create();
  let failed: boolean;
  try {
    await packaged;
    const path = arg ? resolve(arg) : DEFAULT_TEMPLATE;
    const template = JSON.parse(readFileSync(path, 'utf8'));
    // The Control Tower report runs in its own process meanwhile.
    const advisory = controlTowerAdvisory(path, template);
    const report = await checker.check(template, path);
    const out: string[] = [`check:template ${path}`, `  CloudFormation Validate ${checker.engineVersion} (strict) with infra/template-checks/project.guard, project checks, cdk-nag (AwsSolutions, Serverless)`];
    for (const [stage, seconds] of Object.entries(report.timings)) out.push(`  ${stage}: ${seconds.toFixed(1)} s`);
    out.push(`  ${report.allowed.length} findings allowed by infra/template-checks/allow-list.yml`);
    const used = new Set(report.allowed.map((a) => a.entry));
    const unused = checker.allowList.filter((e) => !used.has(e));
    for (const entry of unused) out.push(`  note: allow-list entry ${entry.tool} ${entry.id} matched nothing (remove it if the finding is gone for good)`);
    const ct = await advisory;
    out.push('', 'Control Tower proactive controls (advice, not failing):');
    if (ct.unavailable) out.push(`  not run: ${ct.unavailable}`);
    else if (ct.failed.length === 0) out.push('  every control passes');
    for (const f of ct.failed) out.push(`  [${f.control}] ${f.rule}: ${f.resources.join(', ')}`);
    out.push('');
    failed = report.findings.length > 0;
    if (failed) {
      out.push(`${report.findings.length} finding(s) not on the allow-list:`);
      for (const f of report.findings) out.push(`  ${describeFinding(f)}`);
    } else {
      out.push('no findings outside the allow-list');
    }
    out.push(`check:template took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    checker.free();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`check:template: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
