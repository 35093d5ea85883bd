// The plain JSON format (spec §7) and its HMAC signature header.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Notification } from '../ports/transport.js';

export interface JsonEvent {
  event_type: string;
  message_id: string;
  /** ISO 8601 UTC with milliseconds and `Z`, e.g. `2026-01-01T10:00:00.000Z`. */
  generated: string;
  payload: Record<string, unknown>;
}

export function buildJsonEvent(n: Notification): JsonEvent {
  return {
    event_type: n.eventType,
    message_id: n.messageId,
    generated: new Date(n.generated).toISOString(),
    payload: n.payload,
  };
}

export const SIGNATURE_HEADER = 'X-Fenix-Signature';

/**
 * Headers that sign a request body. With a secret: `X-Fenix-Signature: sha256=<hex>`, where <hex>
 * is the HMAC-SHA256 (key = the subscription's secret, UTF-8) of the exact body bytes sent.
 * A receiver recomputes it over the raw body and compares in constant time (see verifySignature).
 * Without a secret: no headers.
 */
export function signatureHeaders(body: string, secret: string | null): Record<string, string> {
  if (!secret) return {};
  return { [SIGNATURE_HEADER]: `sha256=${hmacHex(body, secret)}` };
}

/** Receiver side of signatureHeaders: true when `header` is the signature of `body`. */
export function verifySignature(body: string, secret: string, header: string | undefined | null): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const got = Buffer.from(header.slice('sha256='.length), 'hex');
  const want = Buffer.from(hmacHex(body, secret), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

const hmacHex = (body: string, secret: string): string => createHmac('sha256', secret).update(body, 'utf8').digest('hex');
