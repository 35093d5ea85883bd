// Where notifications go. A transport delivers one outbox row to one subscription.
import type { EventType } from '../domain/states.js';

export type SubscriptionFormat = 'aodh' | 'json';

export interface Subscription {
  id: string;
  /** null for admin subscriptions (maintenance.host, maintenance.session). */
  projectId: string | null;
  url: string;
  eventTypes: EventType[];
  format: SubscriptionFormat;
  secret: string | null;
  createdAt: number;
  /** Successful deliveries so far (the AODH `previous` field depends on the first one). */
  delivered: number;
}

/** One notification as stored in the outbox. */
export interface Notification {
  messageId: string;
  eventType: EventType;
  /** ms epoch when the event was generated. */
  generated: number;
  payload: Record<string, unknown>;
}

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status or transport-specific code. */
  status?: number;
  error?: string;
}

export interface Transport {
  deliver(sub: Subscription, n: Notification, signal: AbortSignal): Promise<DeliveryResult>;
}
