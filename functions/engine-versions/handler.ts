/**
 * engineVersions (API Gateway HTTP API, payload 2.0), the only writer of
 * the engine-versions table:
 *   PUT /internal/v1/engine-versions/{version}  register an image under a new version
 *   GET /internal/v1/engine-versions/{version}  one version
 *   GET /internal/v1/engine-versions            every version, a page at a time
 * Adapts each route to the use case and its outcome to the answer
 * (lib/http/responses.ts). Configuration and clients are built once, at
 * cold start.
 */
import { loadConfig } from '../../lib/config.ts';
import { resultAnswer } from '../../lib/http/responses.ts';
import { param, routedHandler, sourceRef } from '../../lib/http/router.ts';
import { buildEngineVersions } from '../../lib/wiring.ts';

const versions = buildEngineVersions(loadConfig());

export const handler = routedHandler([
  {
    method: 'PUT',
    path: '/internal/v1/engine-versions/{version}',
    handler: async (event, context) =>
      resultAnswer(
        await versions.register({
          version: param(event.pathParameters, 'version'),
          body: event.body,
          isBase64Encoded: event.isBase64Encoded === true,
          sourceRef: sourceRef(event, context),
        }),
      ),
  },
  {
    method: 'GET',
    path: '/internal/v1/engine-versions/{version}',
    handler: async (event) => resultAnswer(await versions.get(param(event.pathParameters, 'version'))),
  },
  {
    method: 'GET',
    path: '/internal/v1/engine-versions',
    handler: async (event) =>
      resultAnswer(await versions.list({ limit: param(event.queryStringParameters, 'limit'), cursor: param(event.queryStringParameters, 'cursor') })),
  },
]);
