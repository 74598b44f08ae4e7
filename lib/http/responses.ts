/**
 * The one place that turns an outcome into an HTTP answer. Every answer is
 * JSON; error bodies are `{"error":{"code":"...","message":"..."}}`.
 */
import { ERROR_STATUS, type HttpErrorCode } from './errors.ts';
import type { Outcome } from '../domain/outcome.ts';
import type { RegisterOutcome } from '../register-runtime/register-runtime.ts';

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Header names as the contract writes them (HTTP compares them case-insensitively). */
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

export function errorAnswer(code: HttpErrorCode, message: string, headers: Record<string, string> = {}): HttpAnswer {
  return {
    statusCode: ERROR_STATUS[code],
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ error: { code, message } }),
  };
}

/** A JSON answer with this status and body. */
export function jsonAnswer(statusCode: number, body: unknown): HttpAnswer {
  return { statusCode, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

export function outcomeAnswer(outcome: RegisterOutcome): HttpAnswer {
  if (!outcome.ok) return errorAnswer(outcome.code, outcome.message);
  return jsonAnswer(201, outcome.record);
}

/** A read or admin outcome: 201 when the call created the value, else 200; errors by ERROR_STATUS. */
export function resultAnswer<T>(outcome: Outcome<T>): HttpAnswer {
  if (!outcome.ok) return errorAnswer(outcome.code, outcome.message);
  return jsonAnswer(outcome.created === true ? 201 : 200, outcome.value);
}
