// A small JSON-over-HTTP helper for the OpenStack APIs (undici). Maps transport failures and HTTP
// errors to DriverError: network errors, timeouts, 5xx, 429 and 409 are retryable; other 4xx are not.
import { request, type Dispatcher } from 'undici';
import { DriverError } from '../../ports/infra-driver.js';

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
}

export interface HttpOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: unknown;
  /** Statuses that are returned instead of thrown (2xx always are). */
  accept?: number[];
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

const flatHeaders = (h: Record<string, string | string[] | undefined>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

/**
 * The message of an OpenStack error body: `{"badRequest": {"message": ...}}` (Nova),
 * `{"error": {"message": ...}}` (Keystone), `{"errors": [{"detail": ...}]}` (Placement), or text.
 */
export function openStackMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim().slice(0, 500) || undefined;
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.errors)) {
    const e = b.errors[0] as { detail?: unknown; title?: unknown } | undefined;
    if (e && typeof e.detail === 'string') return e.detail;
  }
  for (const v of Object.values(b)) {
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
  }
  return typeof b.message === 'string' ? b.message : undefined;
}

export class HttpError extends DriverError {
  constructor(
    message: string,
    retryable: boolean,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message, retryable, status === 404 ? 'NOT_FOUND' : status === 0 ? 'UNREACHABLE' : `HTTP_${status}`);
    this.name = 'HttpError';
  }
}

export async function httpJson<T = unknown>(url: string, o: HttpOptions = {}): Promise<HttpResponse<T>> {
  const method = o.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'fenix', ...o.headers };
  let payload: string | undefined;
  if (o.body !== undefined) {
    payload = JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  const timeoutMs = o.timeoutMs ?? 30_000;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(timeoutMs),
      ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new HttpError(`${method} ${url}: ${why}`, true, 0, null);
  }
  const text = await res.body.text();
  let body: unknown = text;
  if (text && /json/i.test(String(res.headers['content-type'] ?? ''))) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } else if (!text) body = null;
  const out: HttpResponse<T> = { status: res.statusCode, headers: flatHeaders(res.headers), body: body as T };
  if ((res.statusCode >= 200 && res.statusCode < 300) || o.accept?.includes(res.statusCode)) return out;
  const msg = openStackMessage(body) ?? `HTTP ${res.statusCode}`;
  const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 409 || res.statusCode === 408;
  throw new HttpError(`${method} ${new URL(url).pathname}: ${res.statusCode} ${msg}`, retryable, res.statusCode, body);
}
