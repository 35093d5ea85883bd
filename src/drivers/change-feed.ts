// A driver's change feed for `InfraDriver.watch` (ports/infra-driver.ts): the hosts and instances
// that changed, by change number, answered in O(changes). The driver notes each change as it sees
// it; `answer` builds the reply from the driver's current view. A cursor is `<epoch>:<change number>`:
// one of another process, or older than what is kept, gets the whole world.
import { randomUUID } from 'node:crypto';
import type { HostInfo, InstanceInfo, WorldChanges } from '../ports/infra-driver.js';

/** What the feed reads the current state from. */
export interface FeedView {
  host(name: string): HostInfo | undefined;
  instance(id: string): InstanceInfo | undefined;
  hosts(): Iterable<HostInfo>;
  instances(): Iterable<InstanceInfo>;
}

export class ChangeFeed {
  private readonly epoch = randomUUID().slice(0, 8);
  /** Entry k is change number base + k + 1: `h<host>` or `i<instance id>`. */
  private log: string[] = [];
  private base = 0;

  constructor(private readonly limit = 100_000) {}

  noteHost(name: string): void {
    this.note(`h${name}`);
  }

  noteInstance(id: string): void {
    this.note(`i${id}`);
  }

  /** What changed since `cursor` (copies of the current values; instances gone are `removed`). */
  answer(cursor: string | null, view: FeedView): WorldChanges {
    const seq = this.base + this.log.length;
    const m = cursor ? /^([0-9a-f]{8}):(\d+)$/.exec(cursor) : null;
    const since = m && m[1] === this.epoch ? Number(m[2]) : null;
    const next = `${this.epoch}:${seq}`;
    if (since === null || since < this.base || since > seq)
      return { cursor: next, full: true, hosts: [...view.hosts()].map((h) => ({ ...h })), instances: [...view.instances()].map((i) => ({ ...i })), removed: [] };
    const hosts = new Set<string>();
    const ids = new Set<string>();
    for (let k = since - this.base; k < this.log.length; k++) {
      const e = this.log[k]!;
      (e[0] === 'h' ? hosts : ids).add(e.slice(1));
    }
    const out: WorldChanges = { cursor: next, full: false, hosts: [], instances: [], removed: [] };
    for (const h of hosts) {
      const info = view.host(h);
      if (info) out.hosts.push({ ...info });
    }
    for (const id of ids) {
      const i = view.instance(id);
      if (i) out.instances.push({ ...i });
      else out.removed.push(id);
    }
    return out;
  }

  private note(entry: string): void {
    this.log.push(entry);
    if (this.log.length > this.limit) {
      const drop = this.log.length - Math.floor(this.limit / 2);
      this.log = this.log.slice(drop);
      this.base += drop;
    }
  }
}
