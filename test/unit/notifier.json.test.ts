import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildJsonEvent, signatureHeaders, verifySignature } from '../../src/notifier/json-format.js';
import type { Notification } from '../../src/ports/transport.js';

const note: Notification = {
  messageId: 'm-1',
  eventType: 'maintenance.session',
  generated: Date.UTC(2026, 0, 1, 10, 0, 0),
  payload: { session_id: 's1', state: 'MAINTENANCE', percent_done: 10 },
};

describe('json format', () => {
  it('builds the event', () => {
    expect(buildJsonEvent(note)).toEqual({
      event_type: 'maintenance.session',
      message_id: 'm-1',
      generated: '2026-01-01T10:00:00.000Z',
      payload: { session_id: 's1', state: 'MAINTENANCE', percent_done: 10 },
    });
  });

  it('signs the body with HMAC-SHA256 when there is a secret', () => {
    const body = JSON.stringify(buildJsonEvent(note));
    const h = signatureHeaders(body, 'k3y');
    const want = createHmac('sha256', 'k3y').update(body).digest('hex');
    expect(h).toEqual({ 'X-Fenix-Signature': `sha256=${want}` });
    expect(verifySignature(body, 'k3y', h['X-Fenix-Signature'])).toBe(true);
    expect(verifySignature(`${body} `, 'k3y', h['X-Fenix-Signature'])).toBe(false);
    expect(verifySignature(body, 'other', h['X-Fenix-Signature'])).toBe(false);
    expect(verifySignature(body, 'k3y', 'sha256=00')).toBe(false);
    expect(verifySignature(body, 'k3y', undefined)).toBe(false);
  });

  it('adds no header without a secret', () => {
    expect(signatureHeaders('{}', null)).toEqual({});
    expect(signatureHeaders('{}', '')).toEqual({});
  });
});
