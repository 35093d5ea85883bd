// `http`: starts a job in an external system (AWX/Tower, Jenkins, Rundeck style) and waits for its
// outcome: a callback to PUT /v1/maintenance/{session_id}/{host}/{plugin} with {"state": "DONE" |
// "FAILED"} (Fenix 2020's plug-in callback), or polling a status URL. docs/plugins.md.
//
// Starting a job twice is not harmless, so the plug-in is not idempotent: once the job is started it
// saves where to follow it (resumable), and the attempt after an engine crash follows that job
// instead of starting another. Requests go through the outbound URL policy (SSRF guard).
import { request, type Dispatcher } from 'undici';
import type { ActionPlugin, PluginContext, PluginResult } from '../ports/action-plugin.js';
import { firstError, intError, objectError, stringError } from './metadata.js';

export interface HttpPluginOptions {
  /** undici dispatcher enforcing the URL policy on the address connected to. */
  dispatcher?: Dispatcher;
  /** Refuses a URL at session create (URL_FORBIDDEN). */
  checkUrl?: (url: string, what: string) => Promise<void>;
  /** Per-request time limit (default 30 s). */
  requestTimeoutMs?: number;
}

const SUCCESS = ['successful', 'success', 'succeeded', 'done', 'completed', 'complete', 'ok', 'passed'];
const FAILURE = ['failed', 'failure', 'error', 'errored', 'canceled', 'cancelled', 'aborted', 'timeout', 'timed_out'];
/** Response text kept per request. */
const BODY_BYTES = 4096;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const SECRET_ENV = /^FENIX_SECRET_[A-Z0-9_]+$/;
/** Headers the plug-in sets itself. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'host', 'idempotency-key', 'x-fenix-callback-url', 'x-fenix-run-key']);

type Wait = 'callback' | 'poll';

export function httpPlugin(o: HttpPluginOptions = {}): ActionPlugin {
  const timeoutMs = o.requestTimeoutMs ?? 30_000;

  async function send(method: string, url: string, headers: Record<string, string>, body: unknown, signal: AbortSignal) {
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers: { accept: 'application/json', ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      ...(o.dispatcher && { dispatcher: o.dispatcher }),
    });
    const text = await readBounded(res.body);
    return { status: res.statusCode, headers: res.headers, text };
  }

  return {
    name: 'http',
    description: 'starts a job over HTTP and waits for its callback or polls its status: {"url": "...", "body": {...}, "wait": "callback" | "poll", "status_url": "..."}',
    // Starting a job twice is not harmless; a run that started its job resumes following it.
    idempotent: false,
    async validate(m) {
      const e = firstError(
        urlError(m.url, 'url', false),
        m.method === undefined || m.method === 'POST' || m.method === 'PUT' ? null : 'method must be POST or PUT',
        headersError(m.headers),
        m.wait === undefined || m.wait === 'callback' || m.wait === 'poll' ? null : 'wait must be "callback" or "poll"',
        urlError(m.status_url, 'status_url', true),
        urlError(m.cancel_url, 'cancel_url', true),
        stringError(m.status_field, 'status_field'),
        listError(m.success, 'success'),
        listError(m.failure, 'failure'),
        intError(m.poll_interval_s, 'poll_interval_s', 1, 3600),
        m.body === undefined || typeof m.body === 'object' ? null : 'body must be a JSON object or list',
        objectError(Array.isArray(m.body) ? {} : m.body, 'body'),
      );
      if (e) return e;
      // The policy checks where the URL goes; placeholders are in the path or query, never the
      // address. One made from the job's status URL is checked when it is known (at run time).
      for (const k of ['url', 'status_url', 'cancel_url'] as const)
        if (typeof m[k] === 'string' && !m[k].startsWith('{')) await o.checkUrl?.(fill(m[k], {}, true), `http plug-in ${k}`);
      return null;
    },

    async run(ctx: PluginContext): Promise<PluginResult> {
      const m = ctx.metadata;
      const out: string[] = [];
      const vars: Record<string, string> = {
        host: ctx.host ?? '',
        session_id: ctx.sessionId,
        type: ctx.type,
        attempt: String(ctx.attempt),
        run_key: ctx.runKey,
        callback_url: ctx.callbackUrl ?? '',
      };
      let headers: Record<string, string>;
      try {
        headers = resolveHeaders(m.headers);
      } catch (e) {
        return { ok: false, output: (e as Error).message };
      }
      const wait: Wait = m.wait === 'poll' || (m.wait === undefined && typeof m.status_url === 'string') ? 'poll' : 'callback';
      if (wait === 'callback' && (!ctx.callback || !ctx.callbackUrl)) return { ok: false, output: 'this engine takes no callbacks (its API URL is unknown); use "wait": "poll"' };

      const saved = ctx.savedState;
      let statusUrl: string | null = null;
      if (saved?.resumable === true) {
        statusUrl = typeof saved.statusUrl === 'string' ? saved.statusUrl : null;
        out.push(`attempt ${ctx.attempt}: following the job an earlier attempt started${statusUrl ? ` (${statusUrl})` : ''}`);
      } else {
        const url = fill(m.url as string, vars, true);
        const body = m.body === undefined ? defaultBody(ctx) : fillDeep(m.body, vars);
        const method = (m.method as string | undefined) ?? 'POST';
        let res: Awaited<ReturnType<typeof send>>;
        try {
          res = await send(method, url, { ...headers, 'idempotency-key': ctx.runKey, 'x-fenix-run-key': ctx.runKey, ...(ctx.callbackUrl && { 'x-fenix-callback-url': ctx.callbackUrl }) }, body, ctx.signal);
        } catch (e) {
          return { ok: false, output: `${method} ${url}: ${errorText(e)}` };
        }
        out.push(`${method} ${url}: HTTP ${res.status}${res.text ? `\n${res.text}` : ''}`);
        if (res.status < 200 || res.status >= 300) return { ok: false, output: out.join('\n') };
        if (wait === 'poll') {
          statusUrl = typeof m.status_url === 'string' ? fill(m.status_url, vars, true) : statusUrlOf(res, url);
          if (!statusUrl) return { ok: false, output: `${out.join('\n')}\nthe answer names no status URL (Location, or "url" / "href" / "status_url" in its JSON): set status_url` };
          await o.checkUrl?.(statusUrl, 'the job status URL').catch((e: Error) => {
            throw new Error(`${out.join('\n')}\n${e.message}`);
          });
        }
        // From here on the job exists: a later attempt follows it rather than starting another.
        await ctx.saveState({ resumable: true, statusUrl });
      }

      const outcome = wait === 'callback' ? await awaitCallback(ctx, out) : await poll(ctx, statusUrl!, headers, out);
      if (!outcome && ctx.signal.aborted && typeof m.cancel_url === 'string') {
        const cancel = fill(m.cancel_url, { ...vars, status_url: statusUrl ?? '' }, true);
        const r = await send('POST', cancel, headers, undefined, AbortSignal.timeout(timeoutMs)).then(
          (x) => `HTTP ${x.status}`,
          (e: unknown) => errorText(e),
        );
        out.push(`cancel: POST ${cancel}: ${r}`);
      }
      return { ok: outcome, output: out.join('\n') };
    },
  };

  async function awaitCallback(ctx: PluginContext, out: string[]): Promise<boolean> {
    out.push(`waiting for PUT ${ctx.callbackUrl} {"state": "DONE" | "FAILED"}`);
    try {
      const c = await ctx.callback!(ctx.signal);
      out.push(`callback: ${c.state}${c.output ? `\n${c.output}` : ''}`);
      return c.state === 'DONE';
    } catch {
      return false; // stopped (timeout, abort): the engine says why
    }
  }

  async function poll(ctx: PluginContext, url: string, headers: Record<string, string>, out: string[]): Promise<boolean> {
    const m = ctx.metadata;
    const field = typeof m.status_field === 'string' ? m.status_field : 'status';
    const ok = new Set(((m.success as string[] | undefined) ?? SUCCESS).map((x) => x.toLowerCase()));
    const bad = new Set(((m.failure as string[] | undefined) ?? FAILURE).map((x) => x.toLowerCase()));
    const every = ((m.poll_interval_s as number | undefined) ?? 10) * 1000;
    let transient = 0;
    let last = '';
    for (;;) {
      if (ctx.signal.aborted) return false;
      let res: Awaited<ReturnType<typeof send>> | null = null;
      try {
        res = await send('GET', url, headers, undefined, ctx.signal);
      } catch (e) {
        if (ctx.signal.aborted) return false;
        transient++;
        last = errorText(e);
      }
      if (res) {
        if (res.status === 429 || res.status >= 500) {
          transient++;
          last = `HTTP ${res.status}`;
        } else if (res.status < 200 || res.status >= 300) {
          out.push(`GET ${url}: HTTP ${res.status}${res.text ? `\n${res.text}` : ''}`);
          return false;
        } else {
          const status = statusOf(res.text, field);
          if (status !== null && (ok.has(status) || bad.has(status))) {
            out.push(`GET ${url}: ${field} ${status}${transient ? ` (after ${transient} failed polls, the last: ${last})` : ''}\n${res.text}`);
            return ok.has(status);
          }
        }
      }
      if (!(await sleep(every, ctx.signal))) return false;
    }
  }
}

/** The body sent when the action names none: what a job needs to know, and where to report. */
const defaultBody = (ctx: PluginContext) => ({
  session_id: ctx.sessionId,
  host: ctx.host ?? null,
  type: ctx.type,
  attempt: ctx.attempt,
  run_key: ctx.runKey,
  callback_url: ctx.callbackUrl ?? null,
  metadata: ctx.sessionMetadata,
});

/** `{name}` placeholders replaced (URL-encoded in URLs); unknown names stay as written. */
function fill(s: string, vars: Record<string, string>, url = false): string {
  const whole = (name: string) => name === 'callback_url' || name === 'status_url';
  return s.replace(/\{([a-z_]+)\}/g, (all, name: string) =>
    Object.hasOwn(vars, name) ? (url && !whole(name) ? encodeURIComponent(vars[name]!) : vars[name]!) : url ? (whole(name) ? 'http://placeholder/' : 'x') : all,
  );
}

function fillDeep(v: unknown, vars: Record<string, string>): unknown {
  if (typeof v === 'string') return fill(v, vars);
  if (Array.isArray(v)) return v.map((x) => fillDeep(x, vars));
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillDeep(x, vars)]));
  return v;
}

/** Where to poll, from a job-starting answer: Location, else the JSON's url / href / status_url. */
function statusUrlOf(res: { headers: Record<string, string | string[] | undefined>; text: string }, base: string): string | null {
  const loc = res.headers.location;
  let ref = typeof loc === 'string' ? loc : null;
  if (!ref) {
    try {
      const j = JSON.parse(res.text) as Record<string, unknown>;
      ref = [j.status_url, j.url, j.href].find((x): x is string => typeof x === 'string') ?? null;
    } catch {
      /* not JSON */
    }
  }
  if (!ref) return null;
  try {
    return new URL(ref, base).toString();
  } catch {
    return null;
  }
}

/** The status at a dotted path of a JSON answer, lower-cased; null when there is none. */
function statusOf(text: string, path: string): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  for (const k of path.split('.')) v = typeof v === 'object' && v !== null && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v).toLowerCase() : null;
}

/** Header values as given, or `{"env": "FENIX_SECRET_…"}` from the engine's environment (secrets stay out of sessions). */
function resolveHeaders(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else {
      const name = (v as { env: string }).env;
      const value = process.env[name];
      if (value === undefined) throw new Error(`header ${k}: ${name} is not set in the engine's environment`);
      out[k] = value;
    }
  }
  return out;
}

function headersError(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'headers must be an object {"Name": "value" | {"env": "FENIX_SECRET_NAME"}}';
  for (const [k, x] of Object.entries(v)) {
    if (!HEADER.test(k)) return `headers: ${JSON.stringify(k)} is not a header name`;
    if (OWN_HEADERS.has(k.toLowerCase())) return `headers: ${k} is set by the plug-in`;
    if (typeof x === 'string') {
      if (/[\r\n\0]/.test(x)) return `headers.${k} holds a line break`;
      continue;
    }
    const env = typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 1 ? (x as { env?: unknown }).env : undefined;
    if (typeof env !== 'string' || !SECRET_ENV.test(env)) return `headers.${k} must be a string or {"env": "FENIX_SECRET_NAME"} (a variable of the engine named FENIX_SECRET_*)`;
  }
  return null;
}

function urlError(v: unknown, field: string, optional: boolean): string | null {
  if (v === undefined && optional) return null;
  if (typeof v !== 'string') return `${field} must be an http(s) URL`;
  try {
    const u = new URL(fill(v, {}, true));
    return u.protocol === 'http:' || u.protocol === 'https:' ? null : `${field} must be an http(s) URL`;
  } catch {
    return `${field} must be an http(s) URL`;
  }
}

const listError = (v: unknown, field: string): string | null =>
  v === undefined || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) ? null : `${field} must be a list of status values`;

async function readBounded(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  let more = false;
  for await (const c of body) {
    if (n < BODY_BYTES) chunks.push(c.subarray(0, BODY_BYTES - n));
    else more = true;
    n += c.length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return more || n > BODY_BYTES ? `${text}[... ${n - BODY_BYTES} more bytes]` : text;
}

/** Wait, or stop early when the run is stopped: false then. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    const stop = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}

const errorText = (e: unknown): string => (e instanceof Error ? (e.message || String((e as { code?: unknown }).code ?? e.name)) : String(e));
