// The AODH alarm body (spec §7): what existing VNFMs parse. Exactly the keys AODH's event alarm
// notifier POSTs, with the Fenix event in `reason_data.event` and its payload flattened to traits.
import { createHash, createHmac } from 'node:crypto';
import type { Notification, Subscription } from '../ports/transport.js';
import { canonicalJson } from './canonical-json.js';
import { toPythonLiteral } from './python-literal.js';
import { isoMicros, isoSeconds, parseIsoSeconds } from './time.js';

/** Ceilometer trait data types. */
export const DTYPE = { text: 1, int: 2, float: 3, datetime: 4 } as const;
export type TraitDtype = (typeof DTYPE)[keyof typeof DTYPE];
export type Trait = [name: string, dtype: TraitDtype, value: string | number];

/** Longest text trait value (Ceilometer's column size). */
export const MAX_TRAIT_TEXT = 255;

/** Payload keys always sent as datetimes when they hold an ISO time. */
const DATETIME_KEYS = new Set(['actions_at', 'reply_at']);

export interface AodhEvent {
  message_id: string;
  event_type: string;
  /** `YYYY-MM-DDTHH:MM:SS.ffffff`, UTC without zone, as Ceilometer events carry it. */
  generated: string;
  traits: Trait[];
  raw: Record<string, never>;
  message_signature: string;
}

export interface AodhAlarm {
  alarm_name: string;
  alarm_id: string;
  severity: 'low';
  previous: 'insufficient data' | 'alarm';
  current: 'alarm';
  reason: string;
  reason_data: { type: 'event'; event: AodhEvent };
}

export function buildAodhAlarm(sub: Subscription, n: Notification): AodhAlarm {
  const unsigned = {
    message_id: n.messageId,
    event_type: n.eventType,
    generated: isoMicros(n.generated),
    traits: toTraits(n.payload),
    raw: {} as Record<string, never>,
  };
  const event: AodhEvent = { ...unsigned, message_signature: eventSignature(unsigned, sub.secret) };
  return {
    alarm_name: `fenix-${n.eventType}-${sub.id.slice(0, 8)}`,
    alarm_id: sub.id,
    severity: 'low',
    previous: sub.delivered === 0 ? 'insufficient data' : 'alarm',
    current: 'alarm',
    reason: `Event <id=${n.messageId},event_type=${n.eventType}> hits the query <query=[]>.`,
    reason_data: { type: 'event', event },
  };
}

/**
 * `message_signature`: hex HMAC-SHA256 (key = the subscription's secret) of the canonical JSON
 * (sorted keys, no whitespace) of the event without `message_signature`; plain SHA-256 of the same
 * text when the subscription has no secret.
 */
export function eventSignature(event: Omit<AodhEvent, 'message_signature'>, secret: string | null): string {
  const text = canonicalJson(event);
  return secret ? createHmac('sha256', secret).update(text).digest('hex') : createHash('sha256').update(text).digest('hex');
}

/** One `[name, dtype, value]` per non-null payload key, sorted by name. */
export function toTraits(payload: Record<string, unknown>): Trait[] {
  const traits: Trait[] = [];
  for (const name of Object.keys(payload).sort()) {
    const t = toTrait(name, payload[name]);
    if (t) traits.push(t);
  }
  return traits;
}

function toTrait(name: string, v: unknown): Trait | null {
  if (v === null || v === undefined || typeof v === 'function' || typeof v === 'symbol') return null;
  if (typeof v === 'string') {
    if (DATETIME_KEYS.has(name) || name.endsWith('_at')) {
      const t = parseIsoSeconds(v);
      if (t !== null) return [name, DTYPE.datetime, isoSeconds(t)];
    }
    return [name, DTYPE.text, cut(v)];
  }
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return [name, DTYPE.int, v];
    if (Number.isFinite(v)) return [name, DTYPE.float, v];
    return [name, DTYPE.text, toPythonLiteral(v)];
  }
  // booleans, lists, objects, bigints: Python literal text
  return [name, DTYPE.text, cut(toPythonLiteral(v))];
}

/** Cut to 255 characters (code points, so a surrogate pair is never split). */
function cut(s: string): string {
  if (s.length <= MAX_TRAIT_TEXT) return s;
  return Array.from(s).slice(0, MAX_TRAIT_TEXT).join('');
}
