import { describe, expect, it } from 'vitest';
import { buildOsloEnvelope } from '../../src/notifier/oslo.js';
import type { Notification } from '../../src/ports/transport.js';

describe('oslo envelope', () => {
  it('wraps the notification as oslo.messaging 2.0', () => {
    const n: Notification = {
      messageId: 'm-1',
      eventType: 'maintenance.host',
      generated: Date.UTC(2026, 0, 1, 10, 0, 5, 42),
      payload: { host: 'compute-1', state: 'IN_MAINTENANCE', session_id: 's1', project_id: 'admin' },
    };
    const env = buildOsloEnvelope(n);
    expect(Object.keys(env).sort()).toEqual(['oslo.message', 'oslo.version']);
    expect(env['oslo.version']).toBe('2.0');
    expect(typeof env['oslo.message']).toBe('string');
    expect(JSON.parse(env['oslo.message'])).toEqual({
      message_id: 'm-1',
      publisher_id: 'fenix',
      event_type: 'maintenance.host',
      priority: 'INFO',
      payload: n.payload,
      timestamp: '2026-01-01 10:00:05.042000',
    });
  });
});
