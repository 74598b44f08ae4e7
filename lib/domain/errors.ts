/**
 * The stable error codes of the register-runtime contract and the one
 * table that turns a code into an HTTP status. Other services key on these
 * strings: add, never rename.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  engine_version_not_found: 404,
  conflict: 409,
  request_in_progress: 409,
  idempotency_key_reused: 422,
  internal_error: 500,
  engine_validation_error: 502,
  engine_protocol_violation: 502,
  engine_unreachable: 502,
  service_unavailable: 503,
} as const;

export type HttpErrorCode = keyof typeof ERROR_STATUS;

/** Codes that only the reconciler writes to the operation log. */
export type ReconcilerErrorCode = 'registration_abandoned';

/** Codes a registration outcome (op log, metric, response) can carry. */
export type RegisterErrorCode = Exclude<HttpErrorCode, 'request_in_progress' | 'idempotency_key_reused'>;

export type EngineErrorCode = 'engine_validation_error' | 'engine_protocol_violation' | 'engine_unreachable';
