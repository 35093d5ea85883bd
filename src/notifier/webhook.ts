// HTTP webhook transport: one POST per notification, body by the subscription's format.
// Never throws; every outcome is a DeliveryResult the relay records.
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { redactText } from '../domain/redact.js';
import type { DeliveryResult, Notification, Subscription, Transport } from '../ports/transport.js';
import { buildAodhAlarm } from './aodh.js';
import { buildJsonEvent, signatureHeaders } from './json-format.js';

export interface WebhookOptions {
  /** Per-request limit for connect + response + body, ms. Default 10000. */
  timeoutMs?: number;
  /** undici dispatcher (connection pool); default the global one. The service passes UrlPolicy.dispatcher(). */
  dispatcher?: Dispatcher;
  /** Response bytes read (and discarded) before the connection is dropped instead. Default 64 KiB. */
  maxResponseBytes?: number;
}

export const USER_AGENT = 'fenix';

export class WebhookTransport implements Transport {
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly maxResponseBytes: number;

  constructor(opts: WebhookOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.dispatcher = opts.dispatcher;
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024;
  }

  /** The request body for a subscription: AODH alarm or plain JSON event. */
  static body(sub: Subscription, n: Notification): string {
    return JSON.stringify(sub.format === 'aodh' ? buildAodhAlarm(sub, n) : buildJsonEvent(n));
  }

  async deliver(sub: Subscription, n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    if (signal.aborted) return { ok: false, error: 'aborted' };
    let body: string;
    try {
      body = WebhookTransport.body(sub, n);
    } catch (err) {
      return { ok: false, error: `cannot encode notification: ${describe(err)}` };
    }

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`timeout after ${this.timeoutMs} ms`)), this.timeoutMs);
    const both = AbortSignal.any([signal, timeout.signal]);
    try {
      const res = await request(sub.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          ...signatureHeaders(body, sub.secret),
        },
        body,
        signal: both,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      // Always drain (or drop) the response so the connection is released.
      await res.body.dump({ limit: this.maxResponseBytes, signal: both }).catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { ok: true, status };
      return { ok: false, status, error: `HTTP ${status}` };
    } catch (err) {
      if (timeout.signal.aborted && !signal.aborted) return { ok: false, error: `timeout after ${this.timeoutMs} ms` };
      if (signal.aborted) return { ok: false, error: 'aborted' };
      return { ok: false, error: describe(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A useful message even for errors with an empty one (AggregateError of a multi-address connect); never with credentials. */
function describe(err: unknown): string {
  return redactText(message(err));
}

function message(err: unknown): string {
  if (err instanceof Error) {
    if (err.message) return err.message;
    const code = (err as { code?: unknown }).code;
    const inner = err instanceof AggregateError ? err.errors.find((e: unknown) => e instanceof Error && e.message) : undefined;
    if (inner instanceof Error) return inner.message;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return String(err);
}
