/**
 * reconcileStarting: every minute on an EventBridge schedule, one at a time
 * (reserved concurrency 1). Reclaims `starting` records older than
 * STARTING_TIMEOUT_S; answers { examined, reclaimed }.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../lib/config.ts';
import { logger } from '../../lib/powertools.ts';
import type { ReconcileResult } from '../../lib/reconcile-starting/reconcile-starting.ts';
import { buildReconciler } from '../../lib/wiring.ts';

const reconciler = buildReconciler(loadConfig());

export const handler = middy<unknown, ReconcileResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .handler(async (_event, context) => {
    // The run's time budget is the function's own remaining time (no
    // context, as in a local invoke: no budget).
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined;
    const result = await reconciler.run(remaining);
    logger.info('reconcile starting records', { ...result });
    return result;
  });
