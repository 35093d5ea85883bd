// A tiny HTTP client for the Fenix /v1 API (and the absolute URLs the engine hands out in
// notifications). cli/ speaks HTTP only: nothing here knows about the engine.

export const DEFAULT_API = 'http://127.0.0.1:12347';

/** The API base from an option, then FENIX_API, then the default; without a trailing slash. */
export function resolveApi(api?: string | null): string {
  const base = api || process.env.FENIX_API || DEFAULT_API;
  return base.replace(/\/+$/, '');
}

/** The token from an option, then FENIX_TOKEN; undefined when neither is set. */
export function resolveToken(token?: string | null): string | undefined {
  return token || process.env.FENIX_TOKEN || undefined;
}

/** A non-2xx answer (code/message from the API's `{"error": {...}}` body) or a transport failure. */
export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RawResponse {
  status: number;
  /** Parsed JSON when the body is JSON, else the text (or null when empty). */
  body: unknown;
}

export interface FenixHttpOptions {
  /** API base URL; see resolveApi. */
  api?: string;
  token?: string;
  /** Per-request timeout (headers and body), default 30 s. */
  timeoutMs?: number;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class FenixHttp {
  readonly api: string;
  readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: FenixHttpOptions = {}) {
    this.api = resolveApi(opts.api);
    this.token = opts.token || undefined;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** An absolute URL as is, or a path (with or without `/v1`) under the API base. */
  url(pathOrUrl: string): string {
    if (/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
    return this.api + (pathOrUrl.startsWith('/') ? pathOrUrl : `/${pathOrUrl}`);
  }

  /** One request; never throws for an HTTP status, only for transport failures (as ApiError status 0). */
  async raw(method: Method, pathOrUrl: string, body?: unknown, signal?: AbortSignal): Promise<RawResponse> {
    const url = this.url(pathOrUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['x-auth-token'] = this.token;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    try {
      // Loaded on the first request: `fenix --help` and `--version` need no HTTP client.
      const { request } = await import('undici');
      const res = await request(url, {
        method,
        headers,
        body: payload,
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      return { status: res.statusCode, body: parseBody(text) };
    } catch (err) {
      if (signal?.aborted) throw err;
      const e = err as { code?: string; message?: string };
      const why = e.code && !String(e.message).includes(e.code) ? `${e.code} ${e.message}` : String(e.message);
      throw new ApiError(0, 'CONNECTION_FAILED', `${method} ${url}: ${why}`);
    }
  }

  /** One request; returns the parsed body of a 2xx answer, throws ApiError otherwise. */
  async call<T = unknown>(method: Method, pathOrUrl: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.raw(method, pathOrUrl, body, signal);
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw toApiError(res);
  }

  get<T = unknown>(pathOrUrl: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>('GET', pathOrUrl, undefined, signal);
  }
  post<T = unknown>(pathOrUrl: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.call<T>('POST', pathOrUrl, body, signal);
  }
  put<T = unknown>(pathOrUrl: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.call<T>('PUT', pathOrUrl, body, signal);
  }
  delete<T = unknown>(pathOrUrl: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>('DELETE', pathOrUrl, undefined, signal);
  }
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The ApiError for a non-2xx response: the API's error code/message when present. */
export function toApiError(res: RawResponse): ApiError {
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (err && typeof err === 'object') {
    const code = typeof err.code === 'string' ? err.code : `HTTP_${res.status}`;
    const message = typeof err.message === 'string' ? err.message : JSON.stringify(err);
    return new ApiError(res.status, code, message, res.body);
  }
  const text = typeof res.body === 'string' ? res.body : res.body == null ? '' : JSON.stringify(res.body);
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 500) || `HTTP ${res.status}`, res.body);
}

/** `error CODE: message` for any error (ApiError or not). */
export function formatError(err: unknown): string {
  if (err instanceof ApiError) return `error ${err.code}: ${err.message}`;
  if (err instanceof Error) return `error ${err.name === 'Error' ? 'ERROR' : err.name}: ${err.message}`;
  return `error ERROR: ${String(err)}`;
}
