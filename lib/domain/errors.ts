/**
 * The stable error codes of Game Master's contract. Other services key on
 * these strings: add, never rename. Their HTTP statuses live at the edge
 * (lib/http/errors.ts): the domain does not know HTTP.
 */
export const ERROR_CODES = [
  'invalid_request',
  'engine_version_not_found',
  'runtime_not_found',
  'route_not_found',
  'conflict',
  'request_in_progress',
  'engine_version_exists',
  'idempotency_key_reused',
  'internal_error',
  'engine_validation_error',
  'engine_protocol_violation',
  'engine_unreachable',
  'service_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes a registration outcome (op log, metric, response) can carry. */
export type RegisterErrorCode =
  | 'invalid_request'
  | 'engine_version_not_found'
  | 'conflict'
  | 'internal_error'
  | 'engine_validation_error'
  | 'engine_protocol_violation'
  | 'engine_unreachable'
  | 'service_unavailable';

export type EngineErrorCode = 'engine_validation_error' | 'engine_protocol_violation' | 'engine_unreachable';
