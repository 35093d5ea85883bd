// The JSON body parser of the API and the simulator service: small on purpose, so a process that
// serves the simulator alone (the engine thread) does not load the API with it.
import { FenixError } from '../domain/errors.js';

/** Deepest nesting a JSON body may have: far beyond any real request, far below a stack overflow. */
export const MAX_JSON_DEPTH = 32;

/**
 * Nesting depth of JSON text, counted without parsing it (brackets outside strings), stopping as
 * soon as `limit` is passed: O(length), no recursion, so a hostile body costs one linear scan.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** JSON bodies; an empty body with a JSON content type (DELETE, GET) is no body, not an error. */
export const jsonBody = (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void): void => {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (!text.trim()) return done(null, undefined);
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
    return done(new FenixError('BODY_TOO_DEEP', `body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
  try {
    done(null, JSON.parse(text));
  } catch (e) {
    done(new FenixError('BAD_REQUEST', `body is not valid JSON: ${(e as Error).message}`), undefined);
  }
};
