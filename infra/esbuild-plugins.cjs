// esbuild plugins for serverless-esbuild (custom.esbuild.plugins in
// serverless.yml). CommonJS because serverless-esbuild loads this file with
// require().
'use strict';

const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

/**
 * The bundles are ES modules with a `.js` extension. serverless-esbuild never
 * ships the project's package.json, so without a marker Lambda's loader would
 * take them for CommonJS (and rely on Node's module-syntax detection).
 * `{"type":"module"}` beside each bundle makes Lambda, serverless-offline and
 * `serverless invoke local` all load them as ES modules.
 */
const esmPackageJson = {
  name: 'esm-package-json',
  setup(build) {
    build.onEnd((result) => {
      const outdir = build.initialOptions.outdir;
      if (result.errors.length > 0 || !outdir || build.initialOptions.format !== 'esm') return;
      mkdirSync(outdir, { recursive: true });
      writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
    });
  },
};

/**
 * `import … from 'node:http'` in an ES module makes Node build that
 * module's ESM namespace, which reads every export of node:http, among them
 * the lazy `WebSocket`, `CloseEvent` and `MessageEvent` getters: they load
 * Node's own fetch (its bundled undici and web streams), tens of ms of CPU
 * at every cold start, for nothing this service uses (measured: docs/performance.md,
 * "The cold start"). Middy's util (the routers' functions) and the SDK's HTTP
 * handler (for an http: endpoint) import node:http that way, and so does the
 * engine client. This plugin resolves every import of `node:http` (or
 * `http`) in the bundle to a small module that takes the same exports from
 * `process.getBuiltinModule('node:http')`, which reads no getter. A named
 * import it does not list fails the build (esbuild checks ES module
 * exports), so nothing is silently undefined; the getters (`globalAgent`,
 * `maxHeaderSize`, the WebSocket classes) are left out on purpose.
 */
const HTTP_EXPORTS = [
  'Agent',
  'ClientRequest',
  'IncomingMessage',
  'METHODS',
  'OutgoingMessage',
  'STATUS_CODES',
  'Server',
  'ServerResponse',
  'createServer',
  'get',
  'request',
  'setMaxIdleHTTPParsers',
  'validateHeaderName',
  'validateHeaderValue',
];

const nodeHttpWithoutFetch = {
  name: 'node-http-without-fetch',
  setup(build) {
    build.onResolve({ filter: /^(node:)?http$/ }, (args) => ({ path: args.path, namespace: 'node-http-without-fetch' }));
    build.onLoad({ filter: /.*/, namespace: 'node-http-without-fetch' }, () => ({
      contents: [
        "const http = process.getBuiltinModule('node:http');",
        'export default http;',
        `export const { ${HTTP_EXPORTS.join(', ')} } = http;`,
      ].join('\n'),
      loader: 'js',
    }));
  },
};

module.exports = [esmPackageJson, nodeHttpWithoutFetch];
