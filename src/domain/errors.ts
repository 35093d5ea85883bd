// The closed registry of stable error codes (spec §3). api/ maps them to HTTP in one place.

export const ERROR_CODES = {
  BAD_REQUEST: 400,
  BODY_TOO_DEEP: 400,
  VALIDATION_FAILED: 400,
  INVALID_REPLY_STATE: 400,
  UNKNOWN_INSTANCE_ACTION: 400,
  /** A webhook or download URL whose target the outbound URL policy refuses (SSRF guard). */
  URL_FORBIDDEN: 400,
  /** An action's metadata its plug-in cannot run with (a missing command, a bad timeout, ...). */
  INVALID_PLUGIN_METADATA: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  PROJECT_NOT_IN_SESSION: 404,
  INSTANCE_NOT_FOUND: 404,
  SUBSCRIPTION_NOT_FOUND: 404,
  CONSTRAINT_NOT_FOUND: 404,
  SIMULATOR_UNAVAILABLE: 404,
  STATE_CONFLICT: 409,
  NO_CAPACITY: 409,
  UNKNOWN_HOSTS: 422,
  HOSTS_BUSY: 409,
  MAINTENANCE_AT_TOO_SOON: 422,
  UNKNOWN_PLUGIN: 422,
  UNKNOWN_WORKFLOW: 422,
  NO_HOSTS: 422,
  INFRASTRUCTURE_UNAVAILABLE: 503,
  TOO_MANY_STREAMS: 503,
  INTERNAL: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class FenixError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'FenixError';
  }
  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export const fail = (code: ErrorCode, message: string, details?: unknown): never => {
  throw new FenixError(code, message, details);
};
