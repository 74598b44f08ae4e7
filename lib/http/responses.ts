/**
 * The one place that turns an outcome into an HTTP answer. Every answer is
 * JSON; error bodies are `{"error":{"code":"...","message":"..."}}`.
 */
import { ERROR_STATUS, type HttpErrorCode } from './errors.ts';
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

export function outcomeAnswer(outcome: RegisterOutcome): HttpAnswer {
  if (!outcome.ok) return errorAnswer(outcome.code, outcome.message);
  return { statusCode: 201, headers: { ...JSON_HEADERS }, body: JSON.stringify(outcome.record) };
}
