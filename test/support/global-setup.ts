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

let dynamo: LocalDynamo | undefined;

let coverageDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startDynamoDbLocal({ onProgress: (m) => console.log(`[global-setup] ${m}`) });
  project.provide('dynamoEndpoint', dynamo.endpoint);
  coverageDir = mkdtempSync(join(tmpdir(), 'gm-contract-coverage-'));
  project.provide('contractCoverageDir', coverageDir);
  // For the summary reporter (this process), which reports the coverage before the closing line.
  process.env.CONTRACT_COVERAGE_DIR = coverageDir;
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
  if (coverageDir) rmSync(coverageDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    contractCoverageDir: string;
  }
}
