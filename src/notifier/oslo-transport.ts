// oslo.messaging notifications on AMQP (RabbitMQ), spec §7: what oslo.messaging's rabbit driver does
// for `Notifier.info()` with the messagingv2 driver, so Ceilometer, AODH or any oslo notification
// listener receives Fenix's events as from the original service:
// - a topic exchange named by `control_exchange` (default "openstack"), durable false, auto-delete
//   false (oslo's amqp_durable_queues / amqp_auto_delete defaults);
// - routing key `<topic>.<priority>` = `notifications.info`, and a queue of that name bound to it,
//   declared by the publisher as oslo does, so nothing is lost before a consumer exists;
// - the body is the 2.0 envelope (`oslo.version`, `oslo.message`) of src/notifier/oslo.ts, with
//   oslo's `_unique_id` (the message id) so oslo listeners drop redeliveries.
// Publishing uses a confirm channel: a delivery is `ok` once the broker has taken the message, so
// the relay's at-least-once bookkeeping holds. Connection trouble is a failed delivery (retried).
import { amqpUrlOf } from '../config/amqp-url.js';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Store } from '../ports/store.js';
import type { DeliveryResult, Notification, Subscription, Transport } from '../ports/transport.js';
import { buildOsloMessage, OSLO_TOPIC } from './oslo.js';

/** Subscriptions whose url starts with this are delivered on the oslo.messaging bus. */
export const OSLO_URL_SCHEME = 'oslo:';
export const OSLO_ADMIN_SUBSCRIPTION_ID = 'oslo-messaging-admin';

export interface OsloTransportOptions {
  /** amqp://user:pass@host:5672/vhost, or an oslo transport_url (rabbit://…; the first host is used). */
  url: string;
  /** oslo.messaging's control_exchange. Default "openstack". */
  exchange?: string;
  /** Notification topic; the routing key is `<topic>.info`. Default "notifications". */
  topic?: string;
  /** oslo's amqp_durable_queues. Default false. */
  durable?: boolean;
  /** Publish confirmation limit, ms. Default 10000. */
  timeoutMs?: number;
}

/** The url a subscription on the oslo bus carries (no credentials: the transport holds them). */
export function osloSubscriptionUrl(exchange = 'openstack', topic = 'notifications'): string {
  return `${OSLO_URL_SCHEME}//${exchange}/${topic}.info`;
}

export const isOsloSubscription = (sub: Pick<Subscription, 'url'>): boolean => sub.url.startsWith(OSLO_URL_SCHEME);

export class OsloTransport implements Transport {
  readonly exchange: string;
  readonly routingKey: string;
  private readonly url: string;
  private readonly durable: boolean;
  private readonly timeoutMs: number;
  private conn: Promise<{ model: ChannelModel; ch: ConfirmChannel }> | null = null;
  private closed = false;

  constructor(opts: OsloTransportOptions) {
    this.url = amqpUrlOf(opts.url);
    this.exchange = opts.exchange ?? 'openstack';
    this.routingKey = `${opts.topic ?? OSLO_TOPIC.replace(/\.info$/, '')}.info`;
    this.durable = opts.durable ?? false;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The AMQP body of one notification (JSON text of the 2.0 envelope). */
  static body(n: Notification): string {
    const msg = { ...buildOsloMessage(n), _unique_id: n.messageId.replace(/-/g, '') };
    return JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(msg) });
  }

  private channel(): Promise<{ model: ChannelModel; ch: ConfirmChannel }> {
    this.conn ??= (async () => {
      const model = await amqp.connect(this.url, { timeout: this.timeoutMs });
      const reset = () => {
        this.conn = null;
      };
      model.on('close', reset);
      model.on('error', reset);
      try {
        const ch = await model.createConfirmChannel();
        ch.on('close', () => {
          reset();
          model.close().catch(() => undefined);
        });
        ch.on('error', () => undefined); // followed by 'close'
        const opts = { durable: this.durable, autoDelete: false };
        await ch.assertExchange(this.exchange, 'topic', opts);
        await ch.assertQueue(this.routingKey, opts);
        await ch.bindQueue(this.routingKey, this.exchange, this.routingKey);
        return { model, ch };
      } catch (err) {
        await model.close().catch(() => undefined);
        throw err;
      }
    })().catch((err: unknown) => {
      this.conn = null;
      throw err;
    });
    return this.conn;
  }

  async deliver(_sub: Subscription, n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    if (signal.aborted || this.closed) return { ok: false, error: 'aborted' };
    try {
      const { ch } = await this.channel();
      const content = Buffer.from(OsloTransport.body(n));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no broker confirmation after ${this.timeoutMs} ms`)), this.timeoutMs);
        ch.publish(
          this.exchange,
          this.routingKey,
          content,
          { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, messageId: n.messageId },
          (err: unknown) => {
            clearTimeout(timer);
            if (err) reject(err instanceof Error ? err : new Error('broker nacked the message'));
            else resolve();
          },
        );
      });
      return { ok: true, status: 0 };
    } catch (err) {
      this.conn = null;
      return { ok: false, error: `oslo.messaging publish to ${this.exchange}/${this.routingKey}: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = null;
    if (c) await c.then((x) => x.model.close()).catch(() => undefined);
  }
}

/** Webhooks for http(s) subscriptions, the oslo bus for `oslo:` ones. */
export class RoutingTransport implements Transport {
  constructor(
    private readonly webhook: Transport,
    private readonly oslo: Transport | null,
  ) {}

  deliver(sub: Subscription, n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    if (isOsloSubscription(sub)) {
      if (!this.oslo) return Promise.resolve({ ok: false, error: 'oslo.messaging is not configured (--notify-amqp)' });
      return this.oslo.deliver(sub, n, signal);
    }
    return this.webhook.deliver(sub, n, signal);
  }
}

/**
 * Make sure the infrastructure events (maintenance.host, maintenance.session) go to the bus: one
 * admin subscription with an `oslo:` url, created once (fixed id).
 */
export async function ensureOsloAdminSubscription(
  store: Pick<Store, 'getSubscription' | 'createSubscription'>,
  opts: { exchange?: string; topic?: string; now: number },
): Promise<Subscription> {
  const have = await store.getSubscription(OSLO_ADMIN_SUBSCRIPTION_ID);
  if (have) return have;
  const sub: Subscription = {
    id: OSLO_ADMIN_SUBSCRIPTION_ID,
    projectId: null,
    url: osloSubscriptionUrl(opts.exchange, opts.topic),
    eventTypes: ['maintenance.host', 'maintenance.session'],
    format: 'json',
    secret: null,
    createdAt: opts.now,
    delivered: 0,
  };
  await store.createSubscription(sub);
  return sub;
}
export { amqpUrlOf };
