// One place maps errors to HTTP: FenixError codes to their status, framework errors to 4xx with a
// stable code, anything else to 500 INTERNAL (logged; never caused by a client's input).
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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

/**
 * A request Node's HTTP parser refused before any route saw it (a malformed request line, headers
 * over 16 KiB, a request that did not arrive in time): answered in the API's error shape, then the
 * connection is closed. A HEAD request gets no body: its client would read one as the next answer.
 */
export function clientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const message = status === 408 ? 'the request did not arrive in time' : status === 431 ? 'the request line and headers are too large' : 'malformed HTTP request';
  const head = Buffer.isBuffer(err.rawPacket) && err.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = head ? '' : JSON.stringify(errorBody('BAD_REQUEST', message));
  if (socket.writable)
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

/**
 * CONNECT (a proxy tunnel) is no part of the API: 405 and close, rather than Node's silent drop.
 * Node hands the socket over without its error listener, so one is added: a reset must not crash.
 */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  const body = JSON.stringify(errorBody('BAD_REQUEST', 'CONNECT is not supported'));
  socket.end(`HTTP/1.1 405 ${STATUS_CODES[405]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
