/**
 * readRuntime (API Gateway HTTP API, payload 2.0):
 *   GET /internal/v1/runtimes/{game_id}             the record and its players
 *   GET /internal/v1/runtimes/{game_id}/operations  the operation log, newest first
 *   GET /internal/v1/runtimes?status=starting       registrations by state, oldest first
 * Adapts each route's path and query to the use case and its outcome to
 * the answer (lib/http/responses.ts); it only reads. Configuration and
 * clients are built once, at cold start.
 */
import { loadConfig } from '../../lib/config.ts';
import { resultAnswer } from '../../lib/http/responses.ts';
import { param, routedHandler } from '../../lib/http/router.ts';
import { buildRuntimeReads } from '../../lib/wiring.ts';

const reads = buildRuntimeReads(loadConfig());

export const handler = routedHandler([
  {
    method: 'GET',
    path: '/internal/v1/runtimes',
    handler: async (event) =>
      resultAnswer(
        await reads.listStarting({
          status: param(event.queryStringParameters, 'status'),
          olderThanS: param(event.queryStringParameters, 'older_than_s'),
          limit: param(event.queryStringParameters, 'limit'),
          cursor: param(event.queryStringParameters, 'cursor'),
        }),
      ),
  },
  {
    method: 'GET',
    path: '/internal/v1/runtimes/{game_id}',
    handler: async (event) => resultAnswer(await reads.getRuntime(param(event.pathParameters, 'game_id'))),
  },
  {
    method: 'GET',
    path: '/internal/v1/runtimes/{game_id}/operations',
    handler: async (event) =>
      resultAnswer(
        await reads.listOperations({
          gameId: param(event.pathParameters, 'game_id'),
          limit: param(event.queryStringParameters, 'limit'),
          cursor: param(event.queryStringParameters, 'cursor'),
        }),
      ),
  },
]);
