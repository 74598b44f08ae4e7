/**
 * Runs the register handler once, in a process of its own, so that a test
 * can kill it mid-flight (SIGKILL: no finally, no rollback). The event is
 * argv[2] (JSON); the Lambda deadline is REMAINING_MS from now. Prints the
 * answer as one JSON line.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lambdaContext } from './harness.ts';

const { handler } = (await import('../../functions/register-runtime/handler.ts')) as {
  handler: (e: APIGatewayProxyEventV2, c: ReturnType<typeof lambdaContext>) => Promise<unknown>;
};
const event = JSON.parse(process.argv[2] ?? '{}') as APIGatewayProxyEventV2;
const result = await handler(event, lambdaContext(Number(process.env.REMAINING_MS ?? 28_000)));
process.stdout.write(`${JSON.stringify(result)}\n`);
