/**
 * Starts one DynamoDB Local for the whole test run; each test file creates
 * its own set of tables in it (see test/support/dynamo.ts), so files never
 * see each other's rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type LocalDynamo, startDynamoDbLocal } from '../../infra/local-stack.ts';
import { uncoveredAnswers } from './contract.ts';

let dynamo: LocalDynamo | undefined;

let coverageDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startDynamoDbLocal({ onProgress: (m) => console.log(`[global-setup] ${m}`) });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  coverageDir = mkdtempSync(join(tmpdir(), 'gm-contract-coverage-'));
  project.provide('contractCoverageDir', coverageDir);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
  if (coverageDir) {
    reportContractCoverage(coverageDir);
    rmSync(coverageDir, { recursive: true, force: true });
  }
}

/**
 * Lists the answers docs/openapi.yaml documents that no test of this run
 * produced (a report, not a failure: a run of a single file covers little).
 */
function reportContractCoverage(dir: string): void {
  const { seen, missing } = uncoveredAnswers(dir);
  if (seen === 0) return;
  const lines = missing.length === 0 ? ['every documented answer was produced'] : [`${missing.length} documented answers no test produced:`, ...missing];
  console.log(`[contract coverage] ${lines.join('\n  ')}`);
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    contractCoverageDir: string;
  }
}
