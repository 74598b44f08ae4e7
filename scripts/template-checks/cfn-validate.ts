/**
 * AWS's CloudFormation Validate engine (Rust/WASM: the registry's provider
 * schemas, ~180 rules ported from cfn-lint, and the project's Guard rules),
 * the build that ships inside aws-cdk-lib 2.278.0 (engine 1.17.1). It is
 * not exported by aws-cdk-lib, so it is loaded by path from aws-cdk-lib's
 * own node_modules; aws-cdk-lib is pinned exactly for that reason.
 *
 * Strict: warnings (enum mismatches among them) count as errors. INFO
 * diagnostics are not findings. Start-up takes seconds: one engine per run.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Finding, Json } from './types.ts';

const require = createRequire(import.meta.url);

interface Diagnostic {
  ruleId: string;
  severity: string;
  message: string;
  source?: string;
  entity?: { logicalId?: string };
  propertyPath?: string;
}
interface Engine {
  validateTemplate(template: unknown, config?: Record<string, unknown>): { diagnostics: Diagnostic[] };
  free(): void;
}
interface ValidateModule {
  RegoEngine: new (config?: { guardRules?: unknown[] }) => Engine;
  RuleFile: new (path: string) => unknown;
  TemplateContent: new (content: string, name?: string) => unknown;
  version(): string;
}

export function loadValidateModule(): ValidateModule {
  const cdkRoot = dirname(require.resolve('aws-cdk-lib/package.json'));
  return require(join(cdkRoot, 'node_modules/@aws/cloudformation-validate')) as ValidateModule;
}

export class CfnValidate {
  private readonly engine: Engine;
  readonly version: string;

  constructor(
    private readonly module: ValidateModule,
    guardFiles: string[],
  ) {
    this.engine = new module.RegoEngine({ guardRules: guardFiles.map((f) => new module.RuleFile(f)) });
    this.version = module.version();
  }

  static create(guardFiles: string[]): CfnValidate {
    return new CfnValidate(loadValidateModule(), guardFiles);
  }

  validate(template: Json, name: string): Finding[] {
    const report = this.engine.validateTemplate(new this.module.TemplateContent(JSON.stringify(template, null, 1), name), {
      detailLevel: 'STANDARD',
      severityLevel: 'WARN',
      strict: true,
    });
    return report.diagnostics.map((d) => ({
      tool: d.source === 'GUARD' ? 'guard' : 'cfn-validate',
      id: d.ruleId,
      resource: d.entity?.logicalId,
      message: `${d.message}${d.propertyPath ? ` (at ${d.propertyPath})` : ''}`,
    }));
  }

  free(): void {
    this.engine.free();
  }
}
