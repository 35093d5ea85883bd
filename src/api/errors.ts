// One place maps errors to HTTP: FenixError codes to their status, framework errors to 4xx with a
// stable code, anything else to 500 INTERNAL (logged; never caused by a client's input).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FenixError, type ErrorCode } from '../domain/errors.js';
import { DriverError } from '../ports/infra-driver.js';

export function errorBody(code: ErrorCode | string, message: string, details?: unknown) {
  return { error: { code, message, ...(details !== undefined && { details }) } };
}

export function handleError(err: FastifyError | FenixError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof FenixError) return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
  if (err instanceof DriverError) {
    // The infrastructure said no: a passing outage is 503 (try again), anything else our fault.
    if (err.retryable) return reply.code(503).header('retry-after', '5').send(errorBody('INFRASTRUCTURE_UNAVAILABLE', err.message));
    req.log.error({ err }, 'infrastructure error');
    return reply.code(500).send(errorBody('INTERNAL', `infrastructure error: ${err.message}`));
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const msg = fe.validation
      .map((v) => `${where}${v.instancePath || ''} ${v.message ?? 'is invalid'}${v.params && 'additionalProperty' in v.params ? ` (${String(v.params.additionalProperty)})` : ''}`)
      .join('; ');
    return reply.code(400).send(errorBody('VALIDATION_FAILED', msg));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code = fe.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : fe.statusCode === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST';
    return reply.code(fe.statusCode).send(errorBody(code, fe.message));
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send(errorBody('INTERNAL', 'internal error; see the service log for request ' + req.id));
}

export function notFound(req: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
