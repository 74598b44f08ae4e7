/**
 * cdk-nag 3 (the AwsSolutions and Serverless packs) on the packaged template,
 * through aws-cdk-lib/cloudformation-include. The findings come back from
 * the synthesis' validation report; which of them do not apply is said in
 * the allow-list file, one finding at a time, with the reason
 * (allow-list.ts), not in code.
 *
 * aws-cdk-lib's own built-in CloudFormation Validate pass is turned off: the
 * run already has one engine (cfn-validate.ts), and one is enough.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Finding, Json } from './types.ts';

interface Report {
  pluginReports?: { pluginName: string; violations: { ruleName: string; description: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

const STACK = 'Checked';
const INCLUDE = 'Template';

export function cdkNagFindings(template: Json): Finding[] {
  const dir = mkdtempSync(join(tmpdir(), 'gm-cdk-nag-'));
  try {
    const templateFile = join(dir, 'template.json');
    writeFileSync(templateFile, JSON.stringify(template));
    const outdir = join(dir, 'cdk.out');
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new Stack(app, STACK);
    try {
      new CfnInclude(stack, INCLUDE, { templateFile });
    } catch (error) {
      return [{ tool: 'cdk-nag', id: 'cdk-nag/include', message: `the template cannot be read as CloudFormation: ${(error as Error).message}` }];
    }
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    // Synthesis prints the whole violation report with console.error; the
    // findings are read from the report file instead.
    const consoleError = console.error;
    console.error = () => {};
    try {
      app.synth();
    } catch (error) {
      if (!existsSync(join(outdir, 'validation-report.json'))) {
        return [{ tool: 'cdk-nag', id: 'cdk-nag/synth', message: `synthesis failed: ${(error as Error).message.split('\n')[0]}` }];
      }
    } finally {
      console.error = consoleError;
    }
    const reportFile = join(outdir, 'validation-report.json');
    if (!existsSync(reportFile)) return [];
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    const findings: Finding[] = [];
    for (const plugin of report.pluginReports ?? []) {
      for (const violation of plugin.violations) {
        for (const construct of violation.violatingConstructs) {
          const [, scope, logicalId] = construct.constructPath.split('/');
          findings.push({
            tool: 'cdk-nag',
            id: violation.ruleName,
            resource: scope === INCLUDE ? logicalId : construct.constructPath,
            message: `${violation.description} (${violation.severity})`,
          });
        }
      }
    }
    return findings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
