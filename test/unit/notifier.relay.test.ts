import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import type { OutboxRow } from '../../src/domain/model.js';
import type { RelayLogger, RelayStore } from '../../src/notifier/relay.js';
import { Relay } from '../../src/notifier/relay.js';
import type { DeliveryResult, Notification, Subscription, Transport } from '../../src/ports/transport.js';

// --- in-memory fake of the store slice the relay uses -------------------------------------------

class FakeOutbox implements RelayStore {
  rows: OutboxRow[] = [];
  subs = new Map<string, Subscription>();
  private nextId = 1;

  addSub(id: string, over: Partial<Subscription> = {}): Subscription {
    const s: Subscription = {
      id,
      projectId: 'p1',
      url: `http://${id}.example/hook`,
      eventTypes: ['maintenance.scheduled'],
      format: 'json',
      secret: null,
      createdAt: 0,
      delivered: 0,
      ...over,
    };
    this.subs.set(id, s);
    return s;
  }

  add(subscriptionId: string, at: number, payload: Record<string, unknown> = {}): OutboxRow {
    const id = this.nextId++;
    const row: OutboxRow = {
      id,
      messageId: `m${id}`,
      sessionId: 's1',
      subscriptionId,
      eventType: 'maintenance.scheduled',
      payload,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: at,
      lastError: null,
      lastStatus: null,
      createdAt: at,
      deliveredAt: null,
    };
    this.rows.push(row);
    return row;
  }

  row(id: number): OutboxRow {
    return this.rows.find((r) => r.id === id)!;
  }

  // head-of-line: the oldest pending row of each subscription, if it is due
  async dueDeliveries(now: number, limit: number, exclude: string[]): Promise<OutboxRow[]> {
    const heads = new Map<string, OutboxRow>();
    for (const r of this.rows) {
      if (r.status !== 'pending') continue;
      const h = heads.get(r.subscriptionId);
      if (!h || r.id < h.id) heads.set(r.subscriptionId, r);
    }
    return [...heads.values()]
      .filter((r) => r.nextAttemptAt <= now && !exclude.includes(r.subscriptionId))
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async markDelivered(id: number, subscriptionId: string, now: number, status: number): Promise<void> {
    const r = this.row(id);
    Object.assign(r, { status: 'delivered', deliveredAt: now, lastStatus: status, attempts: r.attempts + 1 });
    const s = this.subs.get(subscriptionId);
    if (s) s.delivered++;
  }

  async markFailed(id: number, _now: number, error: string, status: number | null, next: number | null): Promise<void> {
    const r = this.row(id);
    r.attempts++;
    r.lastError = error;
    r.lastStatus = status;
    if (next === null) r.status = 'dead';
    else r.nextAttemptAt = next;
  }

  async nextDeliveryAt(): Promise<number | null> {
    const pending = this.rows.filter((r) => r.status === 'pending');
    return pending.length ? Math.min(...pending.map((r) => r.nextAttemptAt)) : null;
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    const s = this.subs.get(id);
    return s ? { ...s } : undefined;
  }
}

// --- fake transport ---------------------------------------------------------------------------

type Behaviour = (sub: Subscription, n: Notification, signal: AbortSignal) => Promise<DeliveryResult> | DeliveryResult;

class FakeTransport implements Transport {
  calls: { sub: string; messageId: string; n: Notification }[] = [];
  behaviour = new Map<string, Behaviour>();
  constructor(private fallback: Behaviour = () => ({ ok: true, status: 200 })) {}

  async deliver(sub: Subscription, n: Notification, signal: AbortSignal): Promise<DeliveryResult> {
    this.calls.push({ sub: sub.id, messageId: n.messageId, n });
    return (this.behaviour.get(sub.id) ?? this.fallback)(sub, n, signal);
  }
}

const hang: Behaviour = (_s, _n, signal) =>
  new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'aborted' }), { once: true }));

const fail500: Behaviour = () => ({ ok: false, status: 500, error: 'HTTP 500' });

function recordingLog() {
  const warns: Record<string, unknown>[] = [];
  const log: RelayLogger = {
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    warn: (obj) => void warns.push(obj as Record<string, unknown>),
  };
  return { log, warns };
}

function setup(opts: ConstructorParameters<typeof Relay>[1] = {}, fallback?: Behaviour) {
  const clock = new ManualClock();
  const store = new FakeOutbox();
  const transport = new FakeTransport(fallback);
  const { log, warns } = recordingLog();
  const relay = new Relay({ store, transport, clock, log }, { random: () => 0.5, ...opts });
  return { clock, store, transport, relay, warns, t0: clock.now() };
}

// --- tests ------------------------------------------------------------------------------------

describe('Relay.runOnce', () => {
  it('delivers due rows and records success', async () => {
    const { store, transport, relay, t0 } = setup();
    store.addSub('a');
    store.addSub('b');
    const r1 = store.add('a', t0 - 5000, { state: 'MAINTENANCE' });
    const r2 = store.add('b', t0);
    store.add('b', t0 + 1); // not due yet

    expect(await relay.runOnce()).toBe(2);
    expect(store.row(r1.id)).toMatchObject({ status: 'delivered', lastStatus: 200, deliveredAt: t0 });
    expect(store.row(r2.id).status).toBe('delivered');
    expect(store.subs.get('a')!.delivered).toBe(1);
    const n = transport.calls.find((c) => c.sub === 'a')!.n;
    expect(n).toEqual({ messageId: r1.messageId, eventType: 'maintenance.scheduled', generated: t0 - 5000, payload: { state: 'MAINTENANCE' } });
    expect(await relay.runOnce()).toBe(0);
  });

  it('retries with exponential backoff and jitter', async () => {
    const { clock, store, transport, relay, warns, t0 } = setup({ backoffBaseMs: 1000, backoffCapMs: 5000, maxAttempts: 100 }, fail500);
    store.addSub('a');
    const row = store.add('a', t0);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(await relay.runOnce()).toBe(1);
      const r = store.row(row.id);
      expect(r.status).toBe('pending');
      expect(r.attempts).toBe(i + 1);
      expect(r.lastError).toBe('HTTP 500');
      expect(r.lastStatus).toBe(500);
      const d = r.nextAttemptAt - clock.now();
      delays.push(d);
      clock.advance(d - 1);
      expect(await relay.runOnce()).toBe(0); // not due yet
      clock.advance(1);
    }
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(transport.calls).toHaveLength(5);
    expect(warns).toHaveLength(5);
    expect(warns[0]).toMatchObject({ subscriptionId: 'a', url: 'http://a.example/hook', error: 'HTTP 500' });
  });

  it('applies ±20% jitter', () => {
    const mk = (x: number) => new Relay({ store: new FakeOutbox(), transport: new FakeTransport(), clock: new ManualClock() }, { random: () => x });
    expect(mk(0).backoff(1)).toBe(800);
    expect(mk(0.5).backoff(1)).toBe(1000);
    expect(mk(0.999999).backoff(1)).toBe(1200);
    expect(mk(0.5).backoff(3)).toBe(4000);
    expect(mk(0.5).backoff(30)).toBe(60_000);
    expect(mk(1 - 1e-9).backoff(30)).toBe(72_000);
  });

  it('dead-letters after maxAttempts', async () => {
    const { clock, store, transport, relay, warns, t0 } = setup({ maxAttempts: 3 }, fail500);
    store.addSub('a');
    const row = store.add('a', t0);
    for (let i = 0; i < 3; i++) {
      expect(await relay.runOnce()).toBe(1);
      clock.advance(120_000);
    }
    expect(store.row(row.id)).toMatchObject({ status: 'dead', attempts: 3, lastError: 'HTTP 500' });
    expect(warns.at(-1)).toMatchObject({ dead: true, nextAttemptAt: null });
    expect(await relay.runOnce()).toBe(0);
    expect(transport.calls).toHaveLength(3);
  });

  it('dead-letters rows of a deleted subscription without sending', async () => {
    const { store, transport, relay, t0 } = setup();
    const row = store.add('gone', t0);
    expect(await relay.runOnce()).toBe(1);
    expect(store.row(row.id)).toMatchObject({ status: 'dead', lastError: 'subscription deleted' });
    expect(transport.calls).toHaveLength(0);
  });

  it('keeps per-subscription order: the second row waits for the first', async () => {
    const { clock, store, transport, relay, t0 } = setup({ backoffBaseMs: 1000 });
    store.addSub('a');
    const first = store.add('a', t0);
    const second = store.add('a', t0);
    let failFirst = true;
    transport.behaviour.set('a', (_s, n) => (n.messageId === first.messageId && failFirst ? fail500(_s, n, new AbortController().signal) : { ok: true, status: 200 }));

    expect(await relay.runOnce()).toBe(1); // first fails
    expect(store.row(second.id).status).toBe('pending');
    expect(await relay.runOnce()).toBe(0); // second is due but blocked behind the first
    expect(transport.calls.map((c) => c.messageId)).toEqual([first.messageId]);

    failFirst = false;
    clock.advance(1000);
    expect(await relay.runOnce()).toBe(1);
    expect(store.row(first.id).status).toBe('delivered');
    expect(store.row(second.id).status).toBe('pending');
    expect(await relay.runOnce()).toBe(1);
    expect(store.row(second.id).status).toBe('delivered');
    expect(transport.calls.map((c) => c.messageId)).toEqual([first.messageId, first.messageId, second.messageId]);
  });

  it('never sends two rows of one subscription at once, even if the store returns both', async () => {
    const { store, transport, relay, t0 } = setup();
    store.addSub('a');
    const first = store.add('a', t0);
    store.add('a', t0);
    const due = store.dueDeliveries.bind(store);
    store.dueDeliveries = async (now, limit, exclude) => {
      const rows = await due(now, limit, exclude);
      return rows.length ? store.rows.filter((r) => r.status === 'pending' && !exclude.includes(r.subscriptionId)) : rows;
    };
    expect(await relay.runOnce()).toBe(1);
    expect(transport.calls.map((c) => c.messageId)).toEqual([first.messageId]);
  });

  it('respects concurrency across many subscriptions', async () => {
    const { store, transport, relay, t0 } = setup({ concurrency: 2 });
    let inFlight = 0;
    let peak = 0;
    transport.behaviour.clear();
    const slow: Behaviour = async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { ok: true, status: 200 };
    };
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      store.addSub(id);
      store.add(id, t0);
      transport.behaviour.set(id, slow);
    }
    expect(await relay.runOnce()).toBe(5);
    expect(peak).toBe(2);
    expect(store.rows.every((r) => r.status === 'delivered')).toBe(true);
  });
});

describe('Relay.run', () => {
  it('a hanging receiver only blocks its own queue; abort stops promptly', async () => {
    const { store, transport, relay, t0 } = setup({ concurrency: 4 });
    store.addSub('slow');
    store.addSub('fast');
    transport.behaviour.set('slow', hang);
    const stuck = store.add('slow', t0);
    store.add('slow', t0);
    const f1 = store.add('fast', t0);

    const ctl = new AbortController();
    const running = relay.run(ctl.signal);
    await vi.waitFor(() => expect(store.row(f1.id).status).toBe('delivered'));

    // new work for the fast receiver is picked up on nudge while the slow one still hangs
    const f2 = store.add('fast', t0);
    relay.nudge();
    await vi.waitFor(() => expect(store.row(f2.id).status).toBe('delivered'));
    expect(relay.inFlightCount).toBe(1);
    expect(transport.calls.filter((c) => c.sub === 'slow')).toHaveLength(1);

    const t = Date.now();
    ctl.abort();
    await running;
    expect(Date.now() - t).toBeLessThan(1000);
    // the aborted attempt is not counted; the row stays pending for the next run
    expect(store.row(stuck.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(relay.inFlightCount).toBe(0);
  });

  it('sleeps until the next retry is due, then delivers', async () => {
    const { clock, store, transport, relay, t0 } = setup({ backoffBaseMs: 1000, idleMs: 60_000 });
    store.addSub('a');
    let n = 0;
    transport.behaviour.set('a', () => (n++ === 0 ? { ok: false, status: 503, error: 'HTTP 503' } : { ok: true, status: 200 }));
    const row = store.add('a', t0);

    const ctl = new AbortController();
    const running = relay.run(ctl.signal);
    await vi.waitFor(() => expect(store.row(row.id).attempts).toBe(1));
    await vi.waitFor(() => expect(clock.nextSleeper()).toBe(t0 + 1000));
    expect(store.row(row.id).status).toBe('pending');

    clock.advance(1000);
    await vi.waitFor(() => expect(store.row(row.id).status).toBe('delivered'));
    ctl.abort();
    await running;
  });

  it('wakes on nudge when new rows arrive', async () => {
    const { store, relay, t0 } = setup({ idleMs: 3_600_000 });
    store.addSub('a');
    const ctl = new AbortController();
    const running = relay.run(ctl.signal);
    await new Promise((r) => setTimeout(r, 10));
    const row = store.add('a', t0);
    relay.nudge();
    await vi.waitFor(() => expect(store.row(row.id).status).toBe('delivered'));
    ctl.abort();
    await running;
  });

  it('keeps going after a store error', async () => {
    const { store, relay, t0 } = setup({ idleMs: 10 });
    store.addSub('a');
    const row = store.add('a', t0);
    const due = store.dueDeliveries.bind(store);
    let failures = 1;
    store.dueDeliveries = async (...args) => {
      if (failures-- > 0) throw new Error('database is locked');
      return due(...args);
    };
    const ctl = new AbortController();
    const running = relay.run(ctl.signal);
    await new Promise((r) => setTimeout(r, 5));
    relay.nudge();
    await vi.waitFor(() => expect(store.row(row.id).status).toBe('delivered'));
    ctl.abort();
    await running;
  });
});
