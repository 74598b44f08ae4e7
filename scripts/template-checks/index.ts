/**
 * `npm run check:template`, as a module: one checker (one WASM engine) that
 * checks any number of packaged templates (the CLI checks one; the mutation
 * test, test/deploy/template-mutations.test.ts, checks dozens).
 *
 * Order: CloudFormation Validate with the project's Guard rules, then the
 * project's own checks, then cdk-nag (cloudformation-include throws on a
 * broken Ref, which the engine has already reported by then). Every finding
 * not on the allow-list fails the check. The Control Tower report is
 * advisory and separate (controlTowerAdvisory).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type AllowEntry, allowing, loadAllowList } from './allow-list.ts';
import { cdkNagFindings } from './cdk-nag.ts';
import { CfnValidate } from './cfn-validate.ts';
import { type EmittedMetric, emittedMetrics } from './emitted-metrics.ts';
import { projectFindings } from './project-checks.ts';
import type { Finding, Json } from './types.ts';

export { controlTowerAdvisory } from './control-tower.ts';
export { describeFinding, type Finding } from './types.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GUARD_FILE = fileURLToPath(new URL('../../infra/template-checks/project.guard', import.meta.url));
export const ALLOW_LIST_FILE = fileURLToPath(new URL('../../infra/template-checks/allow-list.yml', import.meta.url));
const OPENAPI_FILE = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));

export interface CheckReport {
  /** Findings not on the allow-list: the check fails when there is any. */
  findings: Finding[];
  /** Findings the allow-list accepts, with the entry that does. */
  allowed: { finding: Finding; entry: AllowEntry }[];
  /** Seconds spent per tool. */
  timings: Record<string, number>;
}

export interface CheckOptions {
  /** Stop after the first tool that reports a finding not allowed (the mutation test: rejected is enough). */
  stopAtFirstRejection?: boolean;
}

/** The route keys docs/openapi.yaml documents: `GET /internal/v1/runtimes/{game_id}`, ... */
export function documentedRouteKeys(file = OPENAPI_FILE): string[] {
  const doc = parse(readFileSync(file, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => methods.has(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

export class TemplateChecker {
  private readonly emittedCache = new Map<string, EmittedMetric[]>();

  private constructor(
    private readonly engine: CfnValidate,
    readonly allowList: AllowEntry[],
    private readonly routeKeys: string[],
  ) {}

  static create(options: { guardFiles?: string[]; allowListFile?: string } = {}): TemplateChecker {
    const allowList = loadAllowList(options.allowListFile ?? ALLOW_LIST_FILE);
    return new TemplateChecker(CfnValidate.create(options.guardFiles ?? [GUARD_FILE]), allowList, documentedRouteKeys());
  }

  get engineVersion(): string {
    return this.engine.version;
  }

  /** What the code emits, under each (namespace, service) the template's functions are configured with. */
  private emitted(template: Json): EmittedMetric[] {
    const metrics: EmittedMetric[] = [];
    const seen = new Set<string>();
    for (const resource of Object.values<Json>(template?.Resources ?? {})) {
      if (resource?.Type !== 'AWS::Lambda::Function') continue;
      const env = resource.Properties?.Environment?.Variables ?? {};
      const namespace = String(env.POWERTOOLS_METRICS_NAMESPACE ?? '');
      const service = String(env.POWERTOOLS_SERVICE_NAME ?? '');
      const key = `${namespace}\n${service}`;
      if (!namespace || !service || seen.has(key)) continue;
      seen.add(key);
      if (!this.emittedCache.has(key)) this.emittedCache.set(key, emittedMetrics(namespace, service));
      metrics.push(...(this.emittedCache.get(key) ?? []));
    }
    return metrics;
  }

  async check(template: Json, name: string, options: CheckOptions = {}): Promise<CheckReport> {
    const report: CheckReport = { findings: [], allowed: [], timings: {} };
    const stages: [string, () => Finding[] | Promise<Finding[]>][] = [
      ['cfn-validate + guard', () => this.engine.validate(template, name)],
      ['project checks', () => projectFindings(template, { routeKeys: this.routeKeys, emitted: this.emitted(template) })],
      ['cdk-nag', () => cdkNagFindings(template)],
    ];
    for (const [stage, run] of stages) {
      const started = performance.now();
      for (const finding of await run()) {
        const entry = allowing(this.allowList, finding);
        if (entry) report.allowed.push({ finding, entry });
        else report.findings.push(finding);
      }
      report.timings[stage] = (performance.now() - started) / 1000;
      if (options.stopAtFirstRejection && report.findings.length > 0) break;
    }
    return report;
  }

  free(): void {
    this.engine.free();
  }
}
