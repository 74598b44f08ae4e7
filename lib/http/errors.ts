/**
 * The one table from an error code to its HTTP status, for every route.
 * A code without a status here does not compile.
 */
import type { ErrorCode } from '../domain/errors.ts';

export const ERROR_STATUS = {
  invalid_request: 400,
  engine_version_not_found: 404,
  runtime_not_found: 404,
  route_not_found: 404,
  conflict: 409,
  request_in_progress: 409,
  engine_version_exists: 409,
  idempotency_key_reused: 422,
  internal_error: 500,
  engine_validation_error: 502,
  engine_protocol_violation: 502,
  engine_unreachable: 502,
  service_unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

export type HttpErrorCode = ErrorCode;
