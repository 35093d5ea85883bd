// The oslo.messaging notification envelope (message format 2.0), as Ceilometer consumes it from
// the `notifications.info` topic. Only the envelope; the AMQP transport is separate.
import type { Notification } from '../ports/transport.js';
import { osloTimestamp } from './time.js';

export const OSLO_TOPIC = 'notifications.info';

export interface OsloMessage {
  message_id: string;
  publisher_id: 'fenix';
  event_type: string;
  priority: 'INFO';
  payload: Record<string, unknown>;
  /** `YYYY-MM-DD HH:MM:SS.ffffff`, UTC, as oslo's str(timeutils.utcnow()). */
  timestamp: string;
}

export interface OsloEnvelope {
  'oslo.version': '2.0';
  /** JSON text of an OsloMessage. */
  'oslo.message': string;
}

export function buildOsloMessage(n: Notification): OsloMessage {
  return {
    message_id: n.messageId,
    publisher_id: 'fenix',
    event_type: n.eventType,
    priority: 'INFO',
    payload: n.payload,
    timestamp: osloTimestamp(n.generated),
  };
}

export function buildOsloEnvelope(n: Notification): OsloEnvelope {
  return { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(buildOsloMessage(n)) };
}
