// The outbox relay: delivers stored notifications asynchronously, at least once, with retries,
// exponential backoff with jitter and dead letters. At most one delivery per subscription is in
// flight (the store hands out only the head row of each subscription), so per-receiver order is
// kept and a slow or hanging receiver only blocks its own queue.
import type { OutboxRow } from '../domain/model.js';
import { redactText, redactUrl } from '../domain/redact.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { DeliveryResult, Notification, Subscription, Transport } from '../ports/transport.js';

export type RelayStore = Pick<Store, 'dueDeliveries' | 'markDelivered' | 'markFailed' | 'nextDeliveryAt' | 'getSubscription'>;

type LogFn = (obj: object, msg?: string) => void;
/** The slice of a pino Logger the relay uses. */
export interface RelayLogger {
  info: LogFn;
  warn: LogFn;
  debug: LogFn;
  error: LogFn;
}

/** Shortest sleep of the loop: no busy loop when a due time and the store disagree for a moment. */
const MIN_SLEEP_MS = 20;

export interface RelayDeps {
  store: RelayStore;
  transport: Transport;
  clock: Clock;
  log?: RelayLogger;
  /** Who claims rows: unique per relay when several share a database. */
  owner?: string;
}

export interface RelayOptions {
  /** Deliveries in flight at once (each to a different subscription). Default 16. */
  concurrency?: number;
  /** Attempts before a row is dead-lettered. Default 12. */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt. Default 1000 ms. */
  backoffBaseMs?: number;
  /** Longest retry delay. Default 60000 ms. */
  backoffCapMs?: number;
  /** Longest sleep when nothing is due (the relay also wakes on nudge() and finished deliveries). Default 1000 ms. */
  idleMs?: number;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
}

const noop: LogFn = () => undefined;
const SILENT: RelayLogger = { info: noop, warn: noop, debug: noop, error: noop };
/** ± share of the backoff delay. */
const JITTER = 0.2;

export class Relay {
  private readonly store: RelayStore;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly log: RelayLogger;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly idleMs: number;
  private readonly random: () => number;

  /** Subscription id -> its delivery in flight. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Aborts the current sleep of run(). */
  private sleeper: AbortController | null = null;
  /** Set by wake(); a wake between a poll and the sleep that follows it skips that sleep. */
  private woken = false;

  private readonly owner: string;
  constructor(deps: RelayDeps, opts: RelayOptions = {}) {
    this.store = deps.store;
    this.transport = deps.transport;
    this.clock = deps.clock;
    this.owner = deps.owner ?? 'relay';
    this.log = deps.log ?? SILENT;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 16));
    this.maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 12));
    this.baseMs = opts.backoffBaseMs ?? 1000;
    this.capMs = opts.backoffCapMs ?? 60_000;
    this.idleMs = Math.max(1, opts.idleMs ?? 1000);
    this.random = opts.random ?? Math.random;
  }

  /** New rows were written (or time jumped): look for due deliveries now. */
  nudge(): void {
    this.wake();
  }

  /** Deliveries currently in flight. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * One pass: attempts every row that is due now, at most one per subscription (the head of its
   * queue), up to `concurrency` at once, and waits for them. Returns the number of attempts.
   */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<number> {
    const now = this.clock.now();
    const attempted = new Set<string>();
    const mine = new Set<Promise<void>>();
    let count = 0;
    for (;;) {
      const free = this.concurrency - this.inFlight.size;
      if (free <= 0 || signal.aborted) break;
      const rows = this.heads(await this.store.dueDeliveries(now, free, [...attempted, ...this.inFlight.keys()], this.owner));
      const fresh = rows.filter((r) => !attempted.has(r.subscriptionId));
      for (const row of fresh) {
        attempted.add(row.subscriptionId);
        mine.add(this.start(row, signal));
        count++;
      }
      if (fresh.length < free) break; // everything due was handed out
      await Promise.race(this.inFlight.values());
    }
    await Promise.all(mine);
    return count;
  }

  /**
   * Deliver until `signal` aborts. Keeps up to `concurrency` deliveries in flight, never two for
   * one subscription; sleeps until the next due row, a finished delivery or nudge(). On abort,
   * in-flight deliveries are aborted (their rows stay pending, not counted as attempts) and run()
   * resolves once they have settled.
   */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        this.woken = false;
        let ms = this.idleMs;
        try {
          const free = this.concurrency - this.inFlight.size;
          let drained = true;
          if (free > 0) {
            const rows = this.heads(await this.store.dueDeliveries(this.clock.now(), free, [...this.inFlight.keys()], this.owner));
            for (const row of rows) if (!this.inFlight.has(row.subscriptionId)) this.start(row, signal);
            drained = rows.length < free;
          }
          if (signal.aborted) break;
          if (!drained && this.inFlight.size < this.concurrency) continue; // more may be due
          if (drained) {
            // Nothing else is due right now; sleep until the next head row is due. In-flight
            // subscriptions are left out: their completion wakes us.
            const next = await this.store.nextDeliveryAt([...this.inFlight.keys()], this.clock.now(), this.owner);
            // A head that fell due since dueDeliveries ran is taken after a short pause, not idleMs.
            if (next !== null) ms = Math.max(MIN_SLEEP_MS, Math.min(next - this.clock.now(), this.idleMs));
          }
          // else all slots are busy: a completion wakes us.
        } catch (err) {
          this.log.error({ err }, 'outbox relay: store error');
        }
        if (signal.aborted) break;
        if (this.woken) continue;
        await this.sleep(ms);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await Promise.allSettled([...this.inFlight.values()]);
    }
  }

  /** One row per subscription (the lowest id), defending the head-of-line rule. */
  private heads(rows: OutboxRow[]): OutboxRow[] {
    const bySub = new Map<string, OutboxRow>();
    for (const r of rows) {
      const cur = bySub.get(r.subscriptionId);
      if (!cur || r.id < cur.id) bySub.set(r.subscriptionId, r);
    }
    return [...bySub.values()];
  }

  private start(row: OutboxRow, signal: AbortSignal): Promise<void> {
    const p = this.deliver(row, signal)
      .catch((err: unknown) => this.log.error({ err, outboxId: row.id }, 'outbox relay: delivery bookkeeping failed'))
      .finally(() => {
        this.inFlight.delete(row.subscriptionId);
        this.wake();
      });
    this.inFlight.set(row.subscriptionId, p);
    return p;
  }

  private async deliver(row: OutboxRow, signal: AbortSignal): Promise<void> {
    const sub = await this.store.getSubscription(row.subscriptionId);
    if (!sub) {
      const now = this.clock.now();
      this.log.warn(
        { subscriptionId: row.subscriptionId, outboxId: row.id, messageId: row.messageId, error: 'subscription deleted' },
        'notification dead: subscription deleted',
      );
      await this.store.markFailed(row.id, now, 'subscription deleted', null, null);
      return;
    }
    const n: Notification = { messageId: row.messageId, eventType: row.eventType, generated: row.createdAt, payload: row.payload };
    let res: DeliveryResult;
    try {
      res = await this.transport.deliver(sub, n, signal);
    } catch (err) {
      res = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const now = this.clock.now();
    if (res.ok) {
      await this.store.markDelivered(row.id, row.subscriptionId, now, res.status ?? 0);
      this.log.debug({ subscriptionId: sub.id, outboxId: row.id, messageId: row.messageId, status: res.status }, 'notification delivered');
      return;
    }
    // Stopping: the attempt was cut short by us, not by the receiver. Leave the row pending.
    if (signal.aborted) return;
    await this.recordFailure(row, sub, res, now);
  }

  private async recordFailure(row: OutboxRow, sub: Subscription, res: DeliveryResult, now: number): Promise<void> {
    const attempts = row.attempts + 1;
    // Logged and stored: never with the credentials of a URL (a transport's error may quote one).
    const error = redactText(res.error ?? (res.status !== undefined ? `HTTP ${res.status}` : 'delivery failed'));
    const dead = attempts >= this.maxAttempts;
    const nextAttemptAt = dead ? null : now + this.backoff(attempts);
    this.log.warn(
      { subscriptionId: sub.id, url: redactUrl(sub.url), error, status: res.status, outboxId: row.id, messageId: row.messageId, attempts, dead, nextAttemptAt },
      dead ? 'notification delivery failed; giving up' : 'notification delivery failed; will retry',
    );
    await this.store.markFailed(row.id, now, error, res.status ?? null, nextAttemptAt);
  }

  /** Delay before retry after `attempts` failures: min(cap, base·2^(attempts-1)) ±20%. */
  backoff(attempts: number): number {
    const raw = Math.min(this.capMs, this.baseMs * 2 ** Math.max(0, attempts - 1));
    const jitter = 1 + (this.random() * 2 - 1) * JITTER;
    return Math.max(0, Math.round(raw * jitter));
  }

  private wake(): void {
    this.woken = true;
    this.sleeper?.abort();
  }

  private async sleep(ms: number): Promise<void> {
    const ctl = new AbortController();
    this.sleeper = ctl;
    try {
      await this.clock.sleep(ms, ctl.signal);
    } finally {
      if (this.sleeper === ctl) this.sleeper = null;
    }
  }
}
