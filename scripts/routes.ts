/**
 * The HTTP routes of serverless.yml, read from the file itself (so the
 * local scripts and tests never keep a second list): which function serves
 * a route key (`GET /internal/v1/runtimes/{game_id}`), and where its
 * handler module is.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const SERVERLESS_YML = fileURLToPath(new URL('../serverless.yml', import.meta.url));

export interface HttpRoute {
  routeKey: string;
  /** The serverless.yml function name (`readRuntime`). */
  functionName: string;
  /** The handler module, relative to the repository (`functions/read-runtime/handler.ts`). */
  handlerModule: string;
}

interface FunctionDef {
  handler: string;
  events?: { httpApi?: { method: string; path: string } }[];
}

/** CloudFormation's short tags, kept as plain values: only the routes are read here. */
const CFN_TAGS = ['!GetAtt', '!Sub', '!Ref', '!If', '!Equals', '!Join', '!Select', '!Split'].map((tag) => ({
  tag,
  resolve: (value: unknown) => ({ [tag]: value }),
}));

export function httpRoutes(): HttpRoute[] {
  const doc = parse(readFileSync(SERVERLESS_YML, 'utf8'), { customTags: CFN_TAGS }) as { functions: Record<string, FunctionDef> };
  const routes: HttpRoute[] = [];
  for (const [functionName, fn] of Object.entries(doc.functions)) {
    const handlerModule = `${fn.handler.replace(/\.[^.]+$/, '')}.ts`;
    for (const event of fn.events ?? []) {
      if (event.httpApi) routes.push({ routeKey: `${event.httpApi.method} ${event.httpApi.path}`, functionName, handlerModule });
    }
  }
  return routes;
}

/** The route serving an event's routeKey, or undefined. */
export function routeFor(routeKey: string | undefined): HttpRoute | undefined {
  return httpRoutes().find((r) => r.routeKey === routeKey);
}
