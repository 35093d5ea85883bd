// Nova's versioned notifications (`--nova-notifications <transport url>`), consumed from the cloud's
// RabbitMQ so the driver learns what changed instead of asking: `instance.*` (a server's host,
// state and task state as each step of a move starts and ends) and `service.update` (a compute
// service enabled or disabled). See docs/openstack.md for what the messages look like.
//
// How we listen without disturbing anyone: Nova publishes on the topic exchange `nova` (oslo's
// control_exchange for Nova) with routing keys `versioned_notifications.<priority>`. We bind a queue
// of our own (server-named, exclusive, deleted with our connection) to it, so other consumers of the
// shared `versioned_notifications.info` queue (Ceilometer, Searchlight) still get every message. A
// lost connection is retried with backoff; while it is down `live` is false and the driver polls
// as it would without notifications (nothing is missed for long: it also refreshes the inventory).
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { amqpUrlOf } from '../../config/amqp-url.js';

export type NovaEvent =
  | {
      kind: 'instance';
      eventType: string;
      uuid: string;
      /** The compute host the payload names (during a move: the source until it lands). */
      host: string | null;
      /** vm_state (active, resized, error, …) and task_state (resize_migrating, …, null). */
      state: string | null;
      taskState: string | null;
      tenantId: string | null;
      name: string | null;
      vcpus: number | null;
      /** The server's metadata as saved with this state (strings only; null when the payload has none). */
      metadata: Record<string, string> | null;
    }
  | { kind: 'service'; eventType: string; host: string; binary: string; disabled: boolean; disabledReason: string | null };

/** What the driver needs of an event source: whether it is connected now, and its events. */
export interface NovaEventSource {
  readonly live: boolean;
  subscribe(listener: (e: NovaEvent) => void): () => void;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
/** The string entries of an object (Nova's metadata is a dict of strings). */
const strings = (v: unknown): Record<string, string> | null => {
  const o = obj(v);
  return o && Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));
};
/** `{nova_object.data: {...}}` → its data (versioned payloads are serialized Nova objects). */
const data = (v: unknown): Obj | null => obj(obj(v)?.['nova_object.data']) ?? null;

/** One AMQP body (the oslo 2.0 envelope, or a bare message) → a NovaEvent, or null when not one of ours. */
export function parseNovaNotification(body: string): NovaEvent | null {
  let msg: Obj | null;
  try {
    const outer = obj(JSON.parse(body));
    const inner = outer && typeof outer['oslo.message'] === 'string' ? JSON.parse(outer['oslo.message']) : outer;
    msg = obj(inner);
  } catch {
    return null;
  }
  const eventType = str(msg?.event_type);
  const p = data(msg?.payload);
  if (!eventType || !p) return null;
  if (eventType.startsWith('instance.')) {
    const uuid = str(p.uuid);
    if (!uuid) return null;
    const flavor = data(p.flavor);
    return {
      kind: 'instance',
      eventType,
      uuid,
      host: str(p.host),
      state: str(p.state),
      taskState: str(p.task_state),
      tenantId: str(p.tenant_id),
      name: str(p.display_name),
      vcpus: typeof flavor?.vcpus === 'number' ? flavor.vcpus : null,
      metadata: strings(p.metadata),
    };
  }
  if (eventType.startsWith('compute_task.')) {
    // The conductor's failures (e.g. compute_task.migrate_server.error: NoValidHost) name the server.
    const uuid = str(p.instance_uuid);
    if (!uuid) return null;
    return { kind: 'instance', eventType, uuid, host: null, state: str(p.state), taskState: null, tenantId: null, name: null, vcpus: null, metadata: null };
  }
  if (eventType === 'service.update') {
    const host = str(p.host);
    const binary = str(p.binary);
    if (!host || !binary) return null;
    return { kind: 'service', eventType, host, binary, disabled: p.disabled === true, disabledReason: str(p.disabled_reason) };
  }
  return null;
}

export interface NovaNotificationsOptions {
  /** An oslo transport_url (rabbit://user:pass@host:5672/) or amqp:// URL. */
  url: string;
  /** Nova's control_exchange. Default "nova". */
  exchange?: string;
  /** Nova's versioned notification topic. Default "versioned_notifications". */
  topic?: string;
  onError?: (err: Error) => void;
}

export class NovaNotifications implements NovaEventSource {
  private readonly listeners = new Set<(e: NovaEvent) => void>();
  private readonly url: string;
  private readonly exchange: string;
  private readonly topic: string;
  private conn: ChannelModel | null = null;
  private closed = false;
  private retryMs = 500;
  private timer: NodeJS.Timeout | null = null;
  private connected = false;

  constructor(private readonly opts: NovaNotificationsOptions) {
    this.url = amqpUrlOf(opts.url);
    this.exchange = opts.exchange ?? 'nova';
    this.topic = opts.topic ?? 'versioned_notifications';
  }

  get live(): boolean {
    return this.connected;
  }

  subscribe(listener: (e: NovaEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connect (resolves once bound, or rejects on the first failure; later failures reconnect). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url, { timeout: 10_000 });
    if (this.closed) {
      await conn.close().catch(() => {});
      return;
    }
    this.conn = conn;
    conn.on('error', () => {}); // 'close' follows
    conn.on('close', () => {
      this.connected = false;
      this.conn = null;
      if (!this.closed) this.reconnectLater();
    });
    const ch: Channel = await conn.createChannel();
    // oslo's rabbit driver declares its exchanges non-durable and not auto-deleted: the same here,
    // or RabbitMQ refuses the second declaration with PRECONDITION_FAILED.
    await ch.assertExchange(this.exchange, 'topic', { durable: false, autoDelete: false });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    for (const priority of ['info', 'warn', 'error']) await ch.bindQueue(q.queue, this.exchange, `${this.topic}.${priority}`);
    await ch.consume(q.queue, (m) => this.deliver(m), { noAck: true });
    this.connected = true;
    this.retryMs = 500;
  }

  private deliver(m: ConsumeMessage | null): void {
    if (!m) return;
    const e = parseNovaNotification(m.content.toString('utf8'));
    if (!e) return;
    for (const l of this.listeners) l(e);
  }

  private reconnectLater(): void {
    if (this.timer || this.closed) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().catch((err: Error) => {
        this.opts.onError?.(err);
        this.reconnectLater();
      });
    }, wait);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    if (this.timer) clearTimeout(this.timer);
    await this.conn?.close().catch(() => {});
    this.conn = null;
  }
}
