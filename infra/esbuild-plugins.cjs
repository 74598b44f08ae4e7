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

module.exports = [esmPackageJson];
