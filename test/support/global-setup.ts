/**
 * Starts one DynamoDB Local for the whole test run; each test file creates
 * its own set of tables in it (see test/support/dynamo.ts), so files never
 * see each other's rows.
 */
import type { TestProject } from 'vitest/node';
import { type LocalDynamo, startDynamoDbLocal } from '../../infra/local-stack.ts';

let dynamo: LocalDynamo | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startDynamoDbLocal({ onProgress: (m) => console.log(`[global-setup] ${m}`) });
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
