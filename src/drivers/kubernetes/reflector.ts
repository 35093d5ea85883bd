// A list-then-watch cache of one resource (nodes, pods), as every Kubernetes controller keeps one:
// list once, then follow the watch from the list's resourceVersion; a watch that ends is resumed
// from the last version seen, one that is too old (410 Gone) or fails is followed by a fresh list,
// whose difference with the cache is reported as updates and deletions. Only facts are kept
// (objects.ts), keyed as the caller says (pods by uid: a StatefulSet's replacement has the same name).
//
// Not the client library's ListWatch: that one keys objects by name, stops for good on the first
// error, and has no bound on a watch whose connection died silently.
import type { Watch } from '@kubernetes/client-node';

export interface ReflectorHandlers<F> {
  /** A new or changed object (`old` undefined when new). */
  upsert(old: F | undefined, next: F): void;
  remove(old: F): void;
}

export interface ReflectorOptions<F> {
  /** Watch path, e.g. /api/v1/pods. */
  path: string;
  /** Every object (all pages) and the list's resourceVersion. */
  list: () => Promise<{ items: unknown[]; resourceVersion: string }>;
  facts: (raw: unknown) => F;
  key: (f: F) => string;
  version: (f: F) => string;
  handlers: ReflectorHandlers<F>;
  /** The server ends each watch after this many seconds (and the client gives up 30 s later). Default 240. */
  watchSeconds?: number;
  /** First and longest wait before trying again after a failure, ms. Defaults 500 and 10000. */
  retryMs?: number;
  retryMaxMs?: number;
}

/**
 * Whether `a` is a later resourceVersion than `b`. Versions are opaque by contract; every API server
 * backed by etcd issues them as increasing integers, which is what this compares (anything else:
 * assume later). Needed because a write's answer lands in the cache before older watch events.
 */
export function laterVersion(a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return a !== b;
  return a.length !== b.length ? a.length > b.length : a > b;
}

export class Reflector<F> {
  readonly items = new Map<string, F>();
  private version = '';
  private synced = false;
  private stopped = true;
  private abort: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** The last failure (for messages), cleared by a successful list. */
  lastError: unknown = null;

  constructor(
    private readonly watch: Watch,
    private readonly o: ReflectorOptions<F>,
  ) {}

  get isSynced(): boolean {
    return this.synced;
  }

  /** Start following (once). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.o.path}: stopped`));
  }

  /** Resolves once the first list is in; rejects with the error of the next failed attempt before that. */
  ready(): Promise<void> {
    if (this.synced) return Promise.resolve();
    this.start();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** An object this process just wrote (a PATCH answer): in the cache now, unless the cache has a later one. */
  apply(raw: unknown): F {
    const f = this.o.facts(raw);
    const k = this.o.key(f);
    const old = this.items.get(k);
    if (old && !laterVersion(this.o.version(f), this.o.version(old))) return old;
    this.items.set(k, f);
    this.o.handlers.upsert(old, f);
    return f;
  }

  private async run(): Promise<void> {
    let wait = this.o.retryMs ?? 500;
    while (!this.stopped) {
      try {
        if (!this.version) await this.relist();
        await this.follow();
        wait = this.o.retryMs ?? 500;
      } catch (err) {
        if (this.stopped) return;
        this.lastError = err;
        this.version = ''; // after a failure, list afresh: events may have been missed
        for (const w of this.waiters.splice(0)) w.reject(err);
        await new Promise<void>((r) => {
          this.wake = r;
          this.timer = setTimeout(r, wait);
        });
        wait = Math.min(wait * 2, this.o.retryMaxMs ?? 10_000);
      }
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.o.list();
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const raw of items) {
      const f = this.o.facts(raw);
      const k = this.o.key(f);
      seen.add(k);
      const old = this.items.get(k);
      if (old && this.o.version(old) === this.o.version(f)) continue;
      this.items.set(k, f);
      this.o.handlers.upsert(old, f);
    }
    for (const [k, old] of this.items)
      if (!seen.has(k)) {
        this.items.delete(k);
        this.o.handlers.remove(old);
      }
    this.version = resourceVersion;
    this.lastError = null;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.waiters.splice(0)) w.resolve();
    }
  }

  /** One watch, until the server ends it (resolves) or it fails (rejects; 410 Gone asks for a list). */
  private follow(): Promise<void> {
    const seconds = this.o.watchSeconds ?? 240;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let gone = false;
      let expired = false;
      const end = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        if (gone) this.version = '';
        if (err && !gone && !expired && !this.stopped) reject(err);
        else resolve();
      };
      // A connection that died without a word never ends the watch: give up on it after its term.
      const guard = setTimeout(() => {
        expired = true; // resumed from the last version seen, like a watch the server ended
        this.abort?.abort();
      }, (seconds + 30) * 1000);
      const onEvent = (type: string, raw: unknown) => {
        if (settled) return;
        if (type === 'ERROR') {
          const code = (raw as { code?: number } | null)?.code;
          gone = true; // 410 (too old) or another failure: list afresh either way
          if (code !== 410) this.lastError = new Error(`${this.o.path}: watch error ${JSON.stringify(raw).slice(0, 300)}`);
          return;
        }
        const version = (raw as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          if (version) this.version = version;
          return;
        }
        const f = this.o.facts(raw);
        const k = this.o.key(f);
        const old = this.items.get(k);
        if (type === 'DELETED') {
          if (old) {
            this.items.delete(k);
            this.o.handlers.remove(old);
          }
        } else if (!old || laterVersion(this.o.version(f), this.o.version(old))) {
          this.items.set(k, f);
          this.o.handlers.upsert(old, f);
        }
        if (version) this.version = version;
      };
      this.watch
        .watch(this.o.path, { resourceVersion: this.version, allowWatchBookmarks: true, timeoutSeconds: seconds }, onEvent, (err: unknown) => {
          const status = (err as { statusCode?: number } | null)?.statusCode;
          if (status === 410) gone = true;
          end(err);
        })
        .then((ac) => {
          this.abort = ac;
          if (this.stopped || settled) ac.abort();
        })
        .catch(end);
    });
  }
}
