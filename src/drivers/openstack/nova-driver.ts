// The OpenStack driver (spec §8): Nova for hosts, servers, scheduling and moves; Placement (or the
// hypervisors API) for capacity; Keystone for auth and endpoints.
//
// Guarding moves across restarts. A move's ref encodes what getOperation needs (kind, server, the
// source host, Nova's time when it was started and a hash of the idempotency key), and before the
// move is issued the ref is written into the server's metadata (`fenix_move`). So:
// - startMove with a key whose ref is already in the server's metadata adopts that move and issues
//   nothing (also after a restart, also after it finished);
// - a server already busy with another move (task_state set, VERIFY_RESIZE) is never moved again:
//   a retryable error, or adoption when the metadata says the move is ours;
// - getOperation reads the server, its instance actions (`os-instance-actions`, with the events'
//   `details` from microversion 2.84) and `os-migrations`: the move is done when the server is
//   ACTIVE (or as it was) on another host, failed when Nova recorded an error for the action started
//   at or after the ref's time (the error is Nova's message, e.g. "No valid host was found. ..."),
//   confirmResize is sent once on VERIFY_RESIZE, and a move whose ref is in the metadata but that
//   Nova never received (crash between the two writes) is issued then.
//
// Asking Nova little (issue 10): a well-behaved client of a control plane that serves hundreds of
// computes does not list the cloud on every tick.
// - The inventory (services, capacity, every server) is listed at most every `inventoryRefreshMs`;
//   between listings `watch` answers from what the driver learned itself (moves it saw land,
//   scheduling it changed) and, with `events` (Nova's versioned notifications), from the events.
// - A moving server is read (GET /servers/{id}) only when there is a reason: without events, on a
//   backoff (fast at first, then slower); with events, when an event says a step ended, and at most
//   every `eventSafetyMs` otherwise (an event can be lost). In between getOperation answers from
//   what it last saw, at no cost to Nova.
// - A planned target is passed to Nova (`host` in migrate from 2.56, in os-migrateLive), so the
//   scheduler validates it; where the server lands is checked against it.
import { createHash } from 'node:crypto';
import {
  DriverError,
  type HostInfo,
  type InfraDriver,
  type InstanceInfo,
  type MoveKind,
  type MoveOptions,
  type OpStatus,
  TARGET_REFUSED,
  type WorldChanges,
} from '../../ports/infra-driver.js';
import type { HostType } from '../../domain/states.js';
import { HttpError, type HttpOptions, type HttpResponse } from './http.js';
import { ChangeFeed } from '../change-feed.js';
import type { KeystoneSession } from './keystone.js';
import type { NovaEvent, NovaEventSource } from './nova-events.js';

export const MOVE_METADATA_KEY = 'fenix_move';
/** The microversion asked for unless configured (2.84 gives action event details; < 2.88 keeps hypervisor vCPUs). */
export const DEFAULT_MICROVERSION = '2.87';

export interface OpenStackDriverOptions {
  /** Wanted compute microversion, capped by the server's maximum. Default 2.87. */
  microversion?: string;
  /** Where capacity comes from: placement (default when the catalog has it) or hypervisors. */
  capacity?: 'auto' | 'placement' | 'hypervisors';
  /** First look at a move after it starts, ms; each later look waits 1.5 times longer, up to pollMaxMs. Default 500. */
  pollHintMs?: number;
  /** Longest wait between two looks at a moving server without events, ms. Default 3000. */
  pollMaxMs?: number;
  /** Nova's versioned notifications (nova-events.ts): with them, Nova is asked only when an event says so. */
  events?: NovaEventSource;
  /** With live events: a moving server is still read at least this often, ms (an event may be lost). Default 10000. */
  eventSafetyMs?: number;
  /** The whole inventory is listed again at most this often, ms. Default 10000, or 60000 while events are live. */
  inventoryRefreshMs?: number;
  /** How long to wait for the error event of a migration Nova marked failed, ms. Default 5000. */
  errorGraceMs?: number;
  /** How long inventories (total, reserved, allocation ratio) and the hypervisor list are reused, ms. Default 60000. */
  inventoryTtlMs?: number;
  now?: () => number;
}

interface NovaService {
  id: string | number;
  binary: string;
  host: string;
  status: 'enabled' | 'disabled';
  state?: 'up' | 'down';
  disabled_reason?: string | null;
}

interface NovaServer {
  id: string;
  name: string;
  status: string;
  tenant_id: string;
  'OS-EXT-SRV-ATTR:host'?: string | null;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string | null;
  flavor?: { vcpus?: number; id?: string; original_name?: string };
  addresses?: Record<string, { 'OS-EXT-IPS:type'?: string }[]>;
  metadata?: Record<string, string>;
  fault?: { message?: string; details?: string };
}

interface NovaAction {
  action: string;
  request_id: string;
  start_time: string;
  message: string | null;
  events?: { event: string; result: string | null; details?: string | null; finish_time?: string | null }[];
}

interface NovaMigration {
  id: number;
  status: string;
  migration_type?: string;
  source_compute?: string;
  dest_compute?: string | null;
  instance_uuid: string;
  created_at: string;
}

interface Hypervisor {
  id: string | number;
  hypervisor_hostname: string;
  service?: { host?: string };
  vcpus?: number;
  vcpus_used?: number;
}

interface MoveRef {
  kind: MoveKind;
  instanceId: string;
  /** Nova's time (ms epoch, whole seconds) just before the move was issued. */
  t: number;
  keyHash: string;
  src: string;
  /** The host asked for (the plan's target); absent: Nova's scheduler chose. */
  target?: string;
}

/** What the driver knows of one move between two looks at its server. */
interface MoveWatch {
  /** When Nova is next asked (GET /servers/{id}), unless an event comes first. */
  nextAt: number;
  /** Current wait between looks (backoff without events). */
  interval: number;
  /** An event since the last look says a step of the move ended. */
  dirty: boolean;
  /** confirmResize sent by this process: never twice (a second one is Nova's 400 "not been resized"). */
  confirmed: boolean;
  /** The answer of the last look, repeated until the next one. */
  last: OpStatus | null;
  /** The newest milestone event of the server since the last look (fromEvent may answer from it). */
  seen: InstanceEvent | null;
}

type InstanceEvent = Extract<NovaEvent, { kind: 'instance' }>;

const KIND_CODE: Record<string, MoveKind> = { m: 'MIGRATE', l: 'LIVE_MIGRATE' };
const CODE_OF: Partial<Record<MoveKind, string>> = { MIGRATE: 'm', LIVE_MIGRATE: 'l' };
const ACTION_OF: Partial<Record<MoveKind, string[]>> = { MIGRATE: ['migrate', 'resize'], LIVE_MIGRATE: ['live-migration'] };

export const keyHash = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** `nova-move:<m|l>:<server>:<nova time s>:<key hash>:<source>[@<target>]` (host names have no '@'). */
export function encodeMoveRef(r: MoveRef): string {
  return `nova-move:${CODE_OF[r.kind]}:${r.instanceId}:${Math.floor(r.t / 1000)}:${r.keyHash}:${r.src}${r.target ? `@${r.target}` : ''}`;
}

export function decodeMoveRef(ref: string): MoveRef | null {
  const m = /^nova-move:([ml]):([^:]+):(\d+):([0-9a-f]{12}):([^@]+)(?:@(.+))?$/.exec(ref);
  if (!m) return null;
  return { kind: KIND_CODE[m[1]!]!, instanceId: m[2]!, t: Number(m[3]) * 1000, keyHash: m[4]!, src: m[5]!, ...(m[6] && { target: m[6] }) };
}

/** An event that says a step of a move ended: worth one look at the server. */
const MILESTONE = /(\.error|resize_finish\.end|resize_confirm\.end|resize_revert\.end|live_migration_(post|post_dest|rollback|rollback_dest|abort)\.end|delete\.end)$/;
const isMilestone = (e: InstanceEvent): boolean =>
  MILESTONE.test(e.eventType) || (e.eventType === 'instance.update' && e.taskState === null) || e.state === 'error';

/** The trait nova-compute puts on the resource provider of a disabled service (the scheduler skips it). */
const DISABLED_TRAIT = 'COMPUTE_STATUS_DISABLED';
/** Times an enable is repeated when Nova left the provider marked disabled (schedulableAgain). */
const SYNC_ATTEMPTS = 3;
/** Longest wait for the moves off a host to release their allocations before it is enabled (movesSettled). */
const SETTLE_MS = 5_000;
const SETTLE_POLL_MS = 200;
const DEFAULT_POLL_MS = 500;
const DEFAULT_POLL_MAX_MS = 3_000;
const DEFAULT_EVENT_SAFETY_MS = 10_000;
/**
 * With live events the driver repeats its last answer this soon (cheap). A milestone event is acted on
 * at once (onOperationProgress tells the engine); this bounds the wait when nobody listens.
 */
const EVENT_ANSWER_MS = 300;
/** Outcomes of finished moves kept in memory (a restarted engine asks Nova again). */
const FINISHED_KEPT = 10_000;

/** Nova timestamps have no zone and are UTC. */
const novaTime = (s: string): number => Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);

const cmpVersion = (a: string, b: string): number => {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
};

const BUSY_TASK_STATES = new Set([
  'resize_prep',
  'resize_migrating',
  'resize_migrated',
  'resize_finish',
  'resize_reverting',
  'resize_confirming',
  'migrating',
]);

export class OpenStackDriver implements InfraDriver {
  readonly name = 'openstack';
  /**
   * Moves at once that Nova absorbs without each one slowing down (docs/openstack.md has the
   * measurements): conductor, scheduler and the computes' resize steps are shared.
   */
  readonly moveLimits = { total: 4, perSource: 3, perTarget: 2 };
  private version: Promise<string> | null = null;
  private readonly inflight = new Map<string, Promise<string>>();
  /** key → ref for moves started by this process (Nova's metadata covers restarts). */
  private readonly refs = new Map<string, string>();
  /** ref → when its migration was first seen failed without an error event yet. */
  private readonly settling = new Map<string, number>();
  private readonly now: () => number;
  /** Moves being watched (by ref), and their refs by server. */
  private readonly moves = new Map<string, MoveWatch>();
  /** How recent moves ended (by ref, oldest first, at most FINISHED_KEPT): a repeated poll costs Nova nothing. */
  private readonly finished = new Map<string, OpStatus>();
  private readonly movesOf = new Map<string, Set<string>>();

  // The inventory as last seen, and what changed in it since (watch()).
  private world: { hosts: Map<string, HostInfo>; instances: Map<string, InstanceInfo> } | null = null;
  private listedAt = -Infinity;
  private listing: Promise<void> | null = null;
  /** nova-compute service per host (id, status), from the last os-services answer or event. */
  private readonly services = new Map<string, NovaService>();
  private readonly feed = new ChangeFeed();
  private readonly unsubscribe: (() => void) | undefined;
  /** Told of moves an event says may have moved on (the engine polls them at once). */
  private readonly progress = new Set<(refs: string[]) => void>();

  constructor(
    readonly keystone: KeystoneSession,
    private readonly opts: OpenStackDriverOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.unsubscribe = opts.events?.subscribe((e) => this.onEvent(e));
  }

  private get eventsLive(): boolean {
    return this.opts.events?.live === true;
  }

  // ---------------------------------------------------------------- HTTP

  /** The negotiated microversion: the wanted one capped by the endpoint's maximum. */
  microversion(): Promise<string> {
    this.version ??= (async () => {
      const want = this.opts.microversion ?? DEFAULT_MICROVERSION;
      const res = await this.keystone.request<{ version?: { version?: string; min_version?: string } }>('compute', '', { accept: [300] });
      const max = res.body?.version?.version;
      if (!max) return '2.1'; // an endpoint without microversions
      return cmpVersion(want, max) <= 0 ? want : max;
    })().catch((err: unknown) => {
      this.version = null;
      throw err;
    });
    return this.version;
  }

  private async nova<T = unknown>(path: string, o: HttpOptions & { version?: string } = {}): Promise<HttpResponse<T>> {
    const v = o.version ?? (await this.microversion());
    return this.keystone.request<T>('compute', path, {
      ...o,
      headers: { 'openstack-api-version': `compute ${v}`, 'x-openstack-nova-api-version': v, ...o.headers },
    });
  }

  private placement<T = unknown>(path: string): Promise<HttpResponse<T>> {
    return this.keystone.request<T>('placement', path, { headers: { 'openstack-api-version': 'placement 1.14' } });
  }

  private async atLeast(v: string): Promise<boolean> {
    return cmpVersion(await this.microversion(), v) >= 0;
  }

  // ---------------------------------------------------------------- hosts

  private async listServices(query = ''): Promise<NovaService[]> {
    const all = (await this.nova<{ services: NovaService[] }>(`/os-services${query}`)).body.services;
    for (const svc of all) if (svc.binary === 'nova-compute') this.services.set(svc.host, svc);
    return all;
  }

  async listHosts(): Promise<HostInfo[]> {
    const [services, first] = await Promise.all([this.listServices(), this.capacity()]);
    let capacity = first;
    if (this.hvCache && services.some((s) => s.binary === 'nova-compute' && !capacity.has(s.host))) {
      this.hvCache = null; // a compute host the cached hypervisor list does not know yet
      capacity = await this.capacity();
    }
    const hosts = new Map<string, HostInfo>();
    const rank: Record<HostType, number> = { compute: 2, controller: 1, other: 0 };
    for (const s of services) {
      const type: HostType | null = s.binary === 'nova-compute' ? 'compute' : s.binary === 'nova-conductor' ? 'controller' : null;
      if (!type) continue;
      const cur = hosts.get(s.host);
      if (cur && rank[cur.type] >= rank[type]) continue;
      const cap = type === 'compute' ? capacity.get(s.host) : undefined;
      hosts.set(s.host, { name: s.host, type, vcpus: cap?.vcpus ?? 0, vcpusUsed: cap?.used ?? 0, enabled: s.status === 'enabled' });
    }
    return [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async hypervisors(): Promise<Hypervisor[]> {
    // vcpus / vcpus_used are gone from 2.88 on: ask with at most 2.87 when they are wanted.
    const v = await this.microversion();
    const version = cmpVersion(v, '2.87') > 0 ? '2.87' : v;
    return (await this.nova<{ hypervisors: Hypervisor[] }>('/os-hypervisors/detail', { version })).body.hypervisors;
  }

  private capacityMode: Promise<'placement' | 'hypervisors'> | null = null;
  /** Placement mode: slow-changing facts, reused for inventoryTtlMs (usages are always read). */
  private hvCache: { at: number; hvs: Hypervisor[] } | null = null;
  private readonly invCache = new Map<string, { at: number; vcpus: number }>();

  /** host → {vcpus, used}: schedulable vCPUs ((total − reserved) × allocation ratio) and allocated ones. */
  private async capacity(): Promise<Map<string, { vcpus: number; used: number }>> {
    this.capacityMode ??= (async () => {
      const m = this.opts.capacity ?? 'auto';
      if (m !== 'auto') return m;
      return (await this.keystone.hasService('placement')) ? 'placement' : 'hypervisors';
    })();
    const mode = await this.capacityMode;
    const ttl = this.opts.inventoryTtlMs ?? 60_000;
    let hvs: Hypervisor[];
    if (mode === 'placement' && this.hvCache && this.now() - this.hvCache.at < ttl) hvs = this.hvCache.hvs;
    else {
      hvs = await this.hypervisors();
      if (mode === 'placement') this.hvCache = { at: this.now(), hvs };
    }
    const out = new Map<string, { vcpus: number; used: number }>();
    const add = (host: string, vcpus: number, used: number) => {
      const cur = out.get(host) ?? { vcpus: 0, used: 0 };
      out.set(host, { vcpus: cur.vcpus + vcpus, used: cur.used + used });
    };
    if (mode === 'hypervisors') {
      for (const h of hvs) add(h.service?.host ?? h.hypervisor_hostname, h.vcpus ?? 0, h.vcpus_used ?? 0);
      return out;
    }
    // From microversion 2.53 a hypervisor's id is its compute node uuid = its resource provider.
    const withUuid = hvs.filter((h) => typeof h.id === 'string');
    const rps =
      withUuid.length === hvs.length
        ? withUuid.map((h) => ({ uuid: String(h.id), host: h.service?.host ?? h.hypervisor_hostname }))
        : (await this.placement<{ resource_providers: { uuid: string; name: string }[] }>('/resource_providers')).body.resource_providers.map(
            (p) => ({ uuid: p.uuid, host: hvs.find((h) => h.hypervisor_hostname === p.name)?.service?.host ?? p.name }),
          );
    await Promise.all(
      rps.map(async ({ uuid, host }) => {
        const cached = this.invCache.get(uuid);
        const fresh = cached && this.now() - cached.at < ttl;
        const [vcpus, use] = await Promise.all([
          fresh
            ? cached.vcpus
            : this.placement<{ inventories: Record<string, { total: number; reserved: number; allocation_ratio: number }> }>(
                `/resource_providers/${uuid}/inventories`,
              ).then((inv) => {
                const v = inv.body.inventories.VCPU;
                const n = v ? Math.floor((v.total - v.reserved) * v.allocation_ratio) : 0;
                this.invCache.set(uuid, { at: this.now(), vcpus: n });
                return n;
              }),
          this.placement<{ usages: Record<string, number> }>(`/resource_providers/${uuid}/usages`),
        ]);
        add(host, vcpus, use.body.usages.VCPU ?? 0);
      }),
    );
    return out;
  }

  async setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void> {
    // The service as the events keep it (no request), else as Nova says now.
    let svc = this.eventsLive ? this.services.get(host) : undefined;
    if (!svc) {
      svc = (await this.listServices(`?binary=nova-compute&host=${encodeURIComponent(host)}`)).find((s) => s.host === host);
      if (!svc) {
        // Not a compute host: nothing schedules onto it. Unknown altogether: say so.
        const any = (await this.listServices(`?host=${encodeURIComponent(host)}`)).some((s) => s.host === host);
        if (any) return;
        throw new DriverError(`host not found: ${host}`, false, 'NOT_FOUND');
      }
    }
    const want = enabled ? 'enabled' : 'disabled';
    // Already as wanted: nothing to do (an operator's disabled_reason is kept, never overwritten).
    if (svc.status === want) return;
    const rps = enabled ? await this.providersOf(host) : [];
    if (enabled) await this.movesSettled(host, rps);
    await this.putService(svc, host, enabled, reason);
    this.services.set(host, { ...svc, status: want, disabled_reason: enabled ? null : reason });
    this.setHostEnabled(host, enabled);
    if (enabled) await this.schedulableAgain(svc, host, reason, rps);
  }

  /** The resource providers of a compute host (placement mode, 2.53+: hypervisor ids are their uuids); [] otherwise. */
  private async providersOf(host: string): Promise<string[]> {
    if ((await this.capacityMode) !== 'placement' || !(await this.atLeast('2.53'))) return [];
    return (this.hvCache?.hvs ?? []).filter((h) => typeof h.id === 'string' && (h.service?.host ?? h.hypervisor_hostname) === host).map((h) => String(h.id));
  }

  /**
   * Before a host is enabled again, the moves off it must be over in Nova too. A move is done for
   * the engine once its server runs on the target, but the source host deletes the move's
   * allocation (held by the migration) just after; enabling the host at that moment makes Nova's
   * own sync of the disabled trait fail (see schedulableAgain). So while placement holds
   * allocations on the host of consumers other than the servers on it, wait: a read every
   * SETTLE_POLL_MS, at most SETTLE_MS (a server booted there unseen also counts; then go on).
   */
  private async movesSettled(host: string, rps: string[]): Promise<void> {
    if (!rps.length || !this.world) return;
    const until = Date.now() + SETTLE_MS; // real time: the waits are real
    for (;;) {
      const on = new Set([...this.world.instances.values()].filter((i) => i.host === host).map((i) => i.id));
      const held = await Promise.all(
        rps.map((uuid) =>
          this.placement<{ allocations: Record<string, unknown> }>(`/resource_providers/${uuid}/allocations`).then(
            (r) => Object.keys(r.body.allocations ?? {}),
            () => [] as string[],
          ),
        ),
      );
      if (held.flat().every((consumer) => on.has(consumer)) || Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
  }

  private async putService(svc: NovaService, host: string, enabled: boolean, reason: string): Promise<void> {
    if (await this.atLeast('2.53')) {
      const body = enabled ? { status: 'enabled' } : { status: 'disabled', disabled_reason: reason };
      await this.nova(`/os-services/${svc.id}`, { method: 'PUT', body });
    } else if (enabled) {
      await this.nova('/os-services/enable', { method: 'PUT', body: { host, binary: 'nova-compute' } });
    } else {
      await this.nova('/os-services/disable-log-reason', { method: 'PUT', body: { host, binary: 'nova-compute', disabled_reason: reason } });
    }
  }

  /**
   * An enabled compute service is schedulable only once its resource provider has lost the
   * COMPUTE_STATUS_DISABLED trait, which nova-compute removes while Nova answers the PUT (an RPC
   * call). Nova does that once, best effort: when something else changes the provider at that
   * moment (the source host of a move just confirmed deleting the move's allocation), placement
   * answers 409, nova-compute logs a warning and leaves the trait until its periodic task, a minute
   * or more later, and the scheduler finds no room on the host meanwhile. So the trait is read back
   * (one placement request) and, when it stayed, the service is disabled and enabled again, which
   * makes Nova sync it again: at most SYNC_ATTEMPTS times, then Nova's periodic task is left to it.
   * movesSettled avoids the known cause; this catches any other.
   */
  private async schedulableAgain(svc: NovaService, host: string, reason: string, rps: string[]): Promise<void> {
    if (!rps.length) return;
    const stillDisabled = async () => {
      const traits = await Promise.all(
        rps.map((uuid) => this.placement<{ traits: string[] }>(`/resource_providers/${uuid}/traits`).then((r) => r.body.traits, () => [] as string[])),
      );
      return traits.some((t) => t.includes(DISABLED_TRAIT));
    };
    for (let attempt = 0; attempt < SYNC_ATTEMPTS && (await stillDisabled()); attempt++) {
      await this.putService(svc, host, false, reason);
      await this.putService(svc, host, true, reason);
    }
  }

  // ---------------------------------------------------------------- the inventory, watched

  /**
   * What changed since `cursor`. The whole inventory is listed when there is none yet, when the
   * cursor is not ours or too old (then `full`), or when the last listing is older than
   * inventoryRefreshMs; otherwise the answer costs Nova nothing: it is what the driver saw change.
   */
  async watch(cursor: string | null): Promise<WorldChanges> {
    const refreshMs = this.opts.inventoryRefreshMs ?? (this.eventsLive ? 60_000 : 10_000);
    if (!this.world || this.now() - this.listedAt >= refreshMs) await this.relist();
    const { hosts, instances } = this.world!;
    return this.feed.answer(cursor, { host: (n) => hosts.get(n), instance: (id) => instances.get(id), hosts: () => hosts.values(), instances: () => instances.values() });
  }

  /** List services, capacity and every server; note what differs from what was known. Single-flight. */
  private relist(): Promise<void> {
    this.listing ??= (async () => {
      const [hosts, instances] = await Promise.all([this.listHosts(), this.listInstances()]);
      const old = this.world;
      this.world = { hosts: new Map(hosts.map((h) => [h.name, h])), instances: new Map(instances.map((i) => [i.id, i])) };
      this.listedAt = this.now();
      if (!old) return;
      for (const h of hosts) {
        const o = old.hosts.get(h.name);
        if (!o || o.enabled !== h.enabled || o.vcpus !== h.vcpus || o.vcpusUsed !== h.vcpusUsed || o.type !== h.type) this.feed.noteHost(h.name);
      }
      for (const i of instances) {
        const o = old.instances.get(i.id);
        if (!o || o.host !== i.host || o.vcpus !== i.vcpus || o.name !== i.name || o.floatingIp !== i.floatingIp || o.liveMigratable !== i.liveMigratable)
          this.feed.noteInstance(i.id);
      }
      for (const id of old.instances.keys()) if (!this.world.instances.has(id)) this.feed.noteInstance(id);
    })().finally(() => {
      this.listing = null;
    });
    return this.listing;
  }

  private setHostEnabled(host: string, enabled: boolean): void {
    const h = this.world?.hosts.get(host);
    if (!h || h.enabled === enabled) return;
    this.world!.hosts.set(host, { ...h, enabled });
    this.feed.noteHost(host);
  }

  /** A server seen somewhere (an answer or an event): move it in the inventory, its vCPUs with it. */
  private placeServer(id: string, host: string | null, patch: Partial<InstanceInfo> = {}): void {
    if (!this.world) return;
    const { instances } = this.world;
    const cur = instances.get(id);
    if (!host) return;
    const next: InstanceInfo | undefined = cur
      ? Object.assign({}, cur, patch, { host }) // kept for every server: copied field by field (a spread gives each its own hidden class)
      : patch.projectId !== undefined
        ? { id, name: patch.name ?? id, projectId: patch.projectId, host, vcpus: patch.vcpus ?? 1, floatingIp: false, liveMigratable: patch.liveMigratable ?? true }
        : undefined;
    if (!next) return;
    if (cur && cur.host === next.host && cur.liveMigratable === next.liveMigratable && cur.vcpus === next.vcpus && cur.name === next.name) return;
    if (cur && cur.host !== next.host) this.shiftUsage(cur.host, -cur.vcpus);
    if (!cur || cur.host !== next.host) this.shiftUsage(next.host, next.vcpus);
    instances.set(id, next);
    this.feed.noteInstance(id);
  }

  private forgetServer(id: string): void {
    const cur = this.world?.instances.get(id);
    if (!cur) return;
    this.world!.instances.delete(id);
    this.shiftUsage(cur.host, -cur.vcpus);
    this.feed.noteInstance(id);
  }

  /** Placement's usage moves with the server (until the next listing reads it again). */
  private shiftUsage(host: string, vcpus: number): void {
    const h = this.world?.hosts.get(host);
    if (!h || h.type !== 'compute') return;
    this.world!.hosts.set(host, { ...h, vcpusUsed: Math.max(0, h.vcpusUsed + vcpus) });
    this.feed.noteHost(host);
  }

  private onEvent(e: NovaEvent): void {
    if (e.kind === 'service') {
      if (e.binary !== 'nova-compute') return;
      const svc = this.services.get(e.host);
      if (svc) this.services.set(e.host, { ...svc, status: e.disabled ? 'disabled' : 'enabled', disabled_reason: e.disabledReason });
      this.setHostEnabled(e.host, !e.disabled);
      return;
    }
    // Gone: deleted (nova-compute re-announces servers deleted long ago, `state: deleted`, every 300 s
    // from its periodic task: never bring them back) or soft-deleted.
    if (e.eventType === 'instance.delete.end' || e.state === 'deleted' || e.state === 'soft-delete') this.forgetServer(e.uuid);
    else
      this.placeServer(e.uuid, e.host, {
        ...(e.tenantId !== null && { projectId: e.tenantId }),
        ...(e.name !== null && { name: e.name }),
        ...(e.vcpus !== null && { vcpus: e.vcpus }),
        ...(e.state !== null && { liveMigratable: e.state === 'active' || e.state === 'paused' }),
      });
    if (!isMilestone(e)) return;
    const refs = [...(this.movesOf.get(e.uuid) ?? [])];
    for (const ref of refs) Object.assign(this.moves.get(ref)!, { dirty: true, seen: e });
    if (refs.length) for (const l of this.progress) l(refs);
  }

  onOperationProgress(listener: (refs: string[]) => void): () => void {
    this.progress.add(listener);
    return () => this.progress.delete(listener);
  }

  // ---------------------------------------------------------------- servers

  async listInstances(filter: { hosts?: string[]; projectId?: string } = {}): Promise<InstanceInfo[]> {
    if (filter.hosts && filter.hosts.length === 0) return [];
    const q = new URLSearchParams({ all_tenants: '1' });
    if (filter.projectId !== undefined) q.set('project_id', filter.projectId);
    const queries: URLSearchParams[] = [];
    if (filter.hosts?.length === 1) {
      q.set('host', filter.hosts[0]!);
      queries.push(q);
    } else queries.push(q);
    const servers = (await Promise.all(queries.map((qq) => this.allServers(qq)))).flat();
    const hosts = filter.hosts ? new Set(filter.hosts) : null;
    const out: InstanceInfo[] = [];
    for (const s of servers) {
      const host = s['OS-EXT-SRV-ATTR:host'];
      if (!host || s.status === 'DELETED' || s.status === 'SOFT_DELETED') continue;
      if (hosts && !hosts.has(host)) continue;
      if (filter.projectId !== undefined && s.tenant_id !== filter.projectId) continue;
      out.push(this.toInstance(s, host));
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** One server by id (GET /servers/{id}): its owner and host, for ownership checks. */
  async getInstance(id: string): Promise<InstanceInfo | undefined> {
    const r = await this.server(id);
    const host = r?.server['OS-EXT-SRV-ATTR:host'];
    if (!r || !host || r.server.status === 'DELETED' || r.server.status === 'SOFT_DELETED') return undefined;
    return this.toInstance(r.server, host);
  }

  private toInstance(s: NovaServer, host: string): InstanceInfo {
    const floating = Object.values(s.addresses ?? {}).some((addrs) => addrs.some((a) => a['OS-EXT-IPS:type'] === 'floating'));
    return {
      id: s.id,
      name: s.name,
      projectId: s.tenant_id,
      host,
      vcpus: s.flavor?.vcpus ?? 1,
      floatingIp: floating,
      liveMigratable: s.status === 'ACTIVE' || s.status === 'PAUSED',
    };
  }

  /** Every page of GET /servers/detail. */
  private async allServers(q: URLSearchParams): Promise<NovaServer[]> {
    const out: NovaServer[] = [];
    let path: string | null = `/servers/detail?${q.toString()}`;
    for (let page = 0; path && page < 1000; page++) {
      const res: HttpResponse<{ servers: NovaServer[]; servers_links?: { rel: string; href: string }[] }> = await this.nova(path);
      out.push(...res.body.servers);
      const next = res.body.servers_links?.find((l) => l.rel === 'next')?.href;
      if (!next || res.body.servers.length === 0) break;
      const u = new URL(next);
      path = `/servers/detail${u.search}`;
    }
    return out;
  }

  private async server(id: string): Promise<{ server: NovaServer; date: number } | null> {
    const res = await this.nova<{ server: NovaServer }>(`/servers/${encodeURIComponent(id)}`, { accept: [404] });
    if (res.status === 404) return null;
    const date = Date.parse(res.headers.date ?? '');
    return { server: res.body.server, date: Number.isFinite(date) ? date : this.now() };
  }

  private async action(id: string, body: unknown): Promise<void> {
    await this.nova(`/servers/${encodeURIComponent(id)}/action`, { method: 'POST', body });
  }

  // ---------------------------------------------------------------- moves

  async startMove(instanceId: string, kind: MoveKind, key: string, opts: MoveOptions = {}): Promise<string> {
    const known = this.refs.get(key);
    if (known) return known;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.doStartMove(instanceId, kind, key, opts.target).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const ref = await p;
    this.refs.set(key, ref);
    this.watchMove(ref, instanceId);
    return ref;
  }

  /** Start watching a move: first look after pollHintMs (events may call it earlier). */
  private watchMove(ref: string, instanceId: string): MoveWatch {
    let w = this.moves.get(ref);
    if (w) return w;
    const first = this.opts.pollHintMs ?? DEFAULT_POLL_MS;
    // With live events the first look waits for the event that ends a step (or the safety interval).
    const wait = this.eventsLive ? (this.opts.eventSafetyMs ?? DEFAULT_EVENT_SAFETY_MS) : first;
    w = { nextAt: this.now() + wait, interval: first, dirty: false, confirmed: false, last: null, seen: null };
    this.moves.set(ref, w);
    let refs = this.movesOf.get(instanceId);
    if (!refs) this.movesOf.set(instanceId, (refs = new Set()));
    refs.add(ref);
    return w;
  }

  private unwatchMove(ref: string, instanceId: string): void {
    this.moves.delete(ref);
    const refs = this.movesOf.get(instanceId);
    refs?.delete(ref);
    if (refs?.size === 0) this.movesOf.delete(instanceId);
  }

  private async doStartMove(instanceId: string, kind: MoveKind, key: string, target: string | undefined): Promise<string> {
    if (kind !== 'MIGRATE' && kind !== 'LIVE_MIGRATE') throw new DriverError(`${kind} is not supported by Nova`, false, 'UNSUPPORTED');
    if (!/^[0-9a-fA-F-]{1,64}$/.test(instanceId)) throw new DriverError(`instance not found: ${instanceId}`, false, 'NOT_FOUND');
    const got = await this.server(instanceId);
    if (!got) throw new DriverError(`instance not found: ${instanceId}`, false, 'NOT_FOUND');
    const { server, date } = got;
    const hash = keyHash(key);
    const mine = server.metadata?.[MOVE_METADATA_KEY];
    const prev = mine ? decodeMoveRef(mine) : null;
    if (prev && prev.keyHash === hash && prev.instanceId === instanceId) return mine!; // adopted: issued before (maybe by an earlier process)

    const task = server['OS-EXT-STS:task_state'] ?? null;
    if ((task && BUSY_TASK_STATES.has(task)) || server.status === 'VERIFY_RESIZE' || server.status === 'MIGRATING') {
      throw new DriverError(`instance ${instanceId} is busy (status ${server.status}, task_state ${task}); not moving it twice`, true, 'BUSY');
    }
    if (server.status === 'ERROR') {
      throw new DriverError(`instance ${instanceId} is in ERROR: ${server.fault?.message ?? 'no fault recorded'}`, false, 'INSTANCE_ERROR');
    }
    const src = server['OS-EXT-SRV-ATTR:host'];
    if (!src) throw new DriverError(`instance ${instanceId} is on no host (status ${server.status})`, false, 'NO_HOST');
    if (target === src) throw new DriverError(`instance ${instanceId} is already on ${target}`, false, 'REFUSED');
    const ref = encodeMoveRef({ kind, instanceId, t: Math.floor(date / 1000) * 1000, keyHash: hash, src, ...(target !== undefined && { target }) });
    // Record first, then issue: a crash in between is healed by getOperation (it issues the move).
    await this.nova(`/servers/${encodeURIComponent(instanceId)}/metadata/${MOVE_METADATA_KEY}`, {
      method: 'PUT',
      body: { meta: { [MOVE_METADATA_KEY]: ref } },
    });
    try {
      await this.issue(instanceId, kind, target);
    } catch (err) {
      if (err instanceof HttpError && !err.retryable) {
        // Refused at once (e.g. 400 no valid host for a forced host): nothing started; forget the ref.
        await this.nova(`/servers/${encodeURIComponent(instanceId)}/metadata/${MOVE_METADATA_KEY}`, { method: 'DELETE', accept: [404] }).catch(
          () => undefined,
        );
        const refused = `Nova refused to ${kind === 'MIGRATE' ? 'migrate' : 'live-migrate'} ${instanceId}${target ? ` to ${target}` : ''}: ${err.message}`;
        throw new DriverError(target ? `${TARGET_REFUSED}: ${refused}` : refused, false, 'REFUSED');
      }
      throw err;
    }
    return ref;
  }

  /**
   * The move itself. A target goes to Nova as `host`, which its scheduler validates (capacity, filters,
   * a disabled service): a cold migration takes one from microversion 2.56; a live one always did
   * (never `force`, so the scheduler still checks it from 2.30). Without 2.56 a planned cold
   * migration is left to the scheduler, and getOperation fails it if it lands elsewhere.
   */
  private async issue(instanceId: string, kind: MoveKind, target?: string): Promise<void> {
    if (kind === 'MIGRATE') await this.action(instanceId, { migrate: target !== undefined && (await this.atLeast('2.56')) ? { host: target } : null });
    else {
      const host = target ?? null;
      const body = (await this.atLeast('2.25')) ? { host, block_migration: 'auto' } : { host, block_migration: false, disk_over_commit: false };
      await this.action(instanceId, { 'os-migrateLive': body });
    }
  }

  async startHostMaintenance(host: string, _key: string): Promise<string> {
    // On OpenStack the action plug-ins upgrade the host; there is nothing for Nova to do.
    return `nova-host:${host}`;
  }

  async getOperation(ref: string): Promise<OpStatus> {
    if (ref.startsWith('nova-host:')) return { status: 'done' };
    const r = decodeMoveRef(ref);
    if (!r) throw new DriverError(`operation not found: ${ref}`, false, 'NOT_FOUND');
    const ended = this.finished.get(ref);
    if (ended) return { ...ended };
    const w = this.watchMove(ref, r.instanceId);
    const now = this.now();
    // No reason to ask Nova yet: the last answer again (free), and when to come back.
    if (!w.dirty && now < w.nextAt) {
      const last = w.last ?? { status: 'running' as const }; // just started: nothing to see yet
      return { ...last, expectedAt: this.eventsLive ? Math.min(w.nextAt, now + EVENT_ANSWER_MS) : w.nextAt };
    }
    w.dirty = false;
    const seen = w.seen;
    w.seen = null;
    const { st, soon } = (seen && (await this.fromEvent(r, ref, w, seen))) ?? (await this.look(r, ref, w));
    if (st.status !== 'running') {
      this.unwatchMove(ref, r.instanceId);
      this.finished.set(ref, st);
      if (this.finished.size > FINISHED_KEPT) this.finished.delete(this.finished.keys().next().value!);
      return { ...st };
    }
    const first = this.opts.pollHintMs ?? DEFAULT_POLL_MS;
    // Near the end (finish, verify, confirm) look again soon; otherwise back off. With events, the
    // event that ends the step brings the next look; the safety interval covers a lost one.
    const max = this.opts.pollMaxMs ?? DEFAULT_POLL_MAX_MS;
    w.interval = soon ? first : Math.min(Math.ceil(w.interval * 1.5), max);
    // With events, the end of a late step (a confirmation under way) comes as an event too: look
    // only if it has not come after the longest poll wait.
    const wait = this.eventsLive ? (soon ? max : (this.opts.eventSafetyMs ?? DEFAULT_EVENT_SAFETY_MS)) : w.interval;
    w.nextAt = this.now() + wait;
    w.last = st;
    return { ...st, expectedAt: this.eventsLive ? Math.min(w.nextAt, this.now() + EVENT_ANSWER_MS) : w.nextAt };
  }

  /** One look at a moving server (and, once it has settled, at what Nova recorded of the move). */
  private async look(r: MoveRef, ref: string, w: MoveWatch): Promise<{ st: OpStatus; soon?: boolean }> {
    const got = await this.server(r.instanceId);
    if (!got) {
      this.forgetServer(r.instanceId);
      return { st: { status: 'failed', error: `Instance ${r.instanceId} was deleted.` } };
    }
    const s = got.server;
    const host = s['OS-EXT-SRV-ATTR:host'] ?? undefined;
    if (host) this.placeServer(s.id, host, { liveMigratable: s.status === 'ACTIVE' || s.status === 'PAUSED' });
    const task = s['OS-EXT-STS:task_state'] ?? null;
    const late = s.status === 'VERIFY_RESIZE' || task === 'resize_finish' || task === 'resize_confirming' || task === 'resize_migrated';
    const running = (soon = late): { st: OpStatus; soon: boolean } => ({ st: { status: 'running', ...(host && { host }) }, soon });
    if (s.status === 'ERROR') return { st: { status: 'failed', error: s.fault?.message ?? `instance ${r.instanceId} went to ERROR`, ...(host && { host }) } };

    if (s.status === 'VERIFY_RESIZE') {
      // Confirm once, when Nova waits for it (no task under way), and only a move of ours.
      if (!task && s.metadata?.[MOVE_METADATA_KEY] === ref) await this.confirmOnce(r, w);
      return running(true);
    }
    if (task) return running();
    // Settled. Where is it?
    if (host && host !== r.src) return { st: this.landed(r, ref, host) };
    // Still on its source: what did Nova record for the action we issued?
    const act = await this.findAction(r);
    if (act) {
      if (act.failed) {
        this.settling.delete(ref);
        return { st: { status: 'failed', error: this.refusal(r, act.error), ...(host && { host }) } };
      }
      // Nova finished the action without moving the server and without an error event: look at the migration.
      const mig = await this.findMigration(r);
      if (mig && ['error', 'failed', 'cancelled'].includes(mig.status)) {
        // Nova resets the server and the migration before it closes the action's event with its
        // error: give the event a few seconds to land, so the cause (e.g. NoValidHost) is reported.
        const first = this.settling.get(ref) ?? this.now();
        this.settling.set(ref, first);
        if (this.now() - first < (this.opts.errorGraceMs ?? 5_000)) return running(true);
        this.settling.delete(ref);
        return { st: { status: 'failed', error: `Nova ${r.kind === 'MIGRATE' ? 'migration' : 'live migration'} ${mig.id} ended with status ${mig.status}`, ...(host && { host }) } };
      }
      if (mig && ['completed', 'confirmed', 'finished', 'done'].includes(mig.status)) {
        return { st: { status: 'failed', error: `migration ${mig.id} ${mig.status} but the server is still on ${r.src}`, ...(host && { host }) } };
      }
      return running(true); // the action is recorded but its task has not been set yet
    }
    // No action since the ref's time: the move was recorded but never reached Nova (a crash between
    // the two writes). Issue it now, once, if the ref is still the server's current move.
    if (s.metadata?.[MOVE_METADATA_KEY] === ref && (s.status === 'ACTIVE' || s.status === 'SHUTOFF' || s.status === 'PAUSED')) {
      await this.issue(r.instanceId, r.kind, r.target);
      return running(false);
    }
    return { st: { status: 'failed', error: `no ${r.kind} of instance ${r.instanceId} was recorded by Nova`, ...(host && { host }) } };
  }

  /**
   * What a milestone event tells on its own, when it is all a look would learn; null: look at the
   * server. Nova sends the event once it has saved the state the event carries, and this one names
   * this move (the server's `fenix_move` is this ref, so it is no late event of an earlier move of
   * the server) and a host other than the source: waiting for confirmation there (VERIFY_RESIZE is
   * vm_state `resized`), or settled there. Saves a GET per step of every move, and the time to make it.
   */
  private async fromEvent(r: MoveRef, ref: string, w: MoveWatch, e: InstanceEvent): Promise<{ st: OpStatus; soon?: boolean } | null> {
    if (e.metadata?.[MOVE_METADATA_KEY] !== ref || !e.host || e.host === r.src || e.taskState !== null) return null;
    if (e.state === 'resized' && r.kind === 'MIGRATE') {
      await this.confirmOnce(r, w);
      return { st: { status: 'running', host: e.host }, soon: true };
    }
    if (e.state === 'active') return { st: this.landed(r, ref, e.host) };
    return null;
  }

  /** confirmResize, once per move: a second one is Nova's 400 "Instance has not been resized". */
  private async confirmOnce(r: MoveRef, w: MoveWatch): Promise<void> {
    if (r.kind !== 'MIGRATE' || w.confirmed) return;
    w.confirmed = true;
    await this.action(r.instanceId, { confirmResize: null }).catch((err: unknown) => {
      if (!(err instanceof HttpError && (err.status === 409 || err.status === 400))) {
        w.confirmed = false; // not sent (network, 5xx): again at the next look
        throw err;
      }
    });
  }

  /** A move whose server settled on `host`, not its source: done, unless the plan named another host. */
  private landed(r: MoveRef, ref: string, host: string): OpStatus {
    this.settling.delete(ref);
    // The planned target, validated by Nova's scheduler: anywhere else is not what was asked.
    if (r.target && host !== r.target) return { status: 'failed', error: `landed on ${host}, not on the planned ${r.target}`, host };
    return { status: 'done', host };
  }

  /** Nova's error for a move; when it refused the planned target, said so (the workflow plans again). */
  private refusal(r: MoveRef, error: string): string {
    return r.target && /no valid host/i.test(error) ? `${TARGET_REFUSED}: Nova refused ${r.target}: ${error}` : error;
  }

  /** The instance action of this move (the newest of its kind started at or after the ref's time). */
  private async findAction(r: MoveRef): Promise<{ failed: boolean; error: string } | null> {
    const names = ACTION_OF[r.kind] ?? [];
    const res = await this.nova<{ instanceActions: NovaAction[] }>(`/servers/${encodeURIComponent(r.instanceId)}/os-instance-actions`);
    const acts = res.body.instanceActions
      .filter((a) => names.includes(a.action) && novaTime(a.start_time) >= r.t)
      .sort((a, b) => novaTime(b.start_time) - novaTime(a.start_time));
    const a = acts[0];
    if (!a) return null;
    const detail = await this.nova<{ instanceAction: NovaAction }>(
      `/servers/${encodeURIComponent(r.instanceId)}/os-instance-actions/${encodeURIComponent(a.request_id)}`,
    );
    const events = detail.body.instanceAction.events ?? [];
    const bad = events.filter((e) => e.result === 'Error');
    const failed = a.message === 'Error' || bad.length > 0;
    if (!failed) return { failed: false, error: '' };
    // The most specific message: an event's details (2.84+), else the event names.
    const details = bad.map((e) => e.details).find((d): d is string => typeof d === 'string' && d.length > 0);
    const error = details ?? `Nova ${a.action} failed (${bad.map((e) => e.event).join(', ') || a.message})`;
    return { failed: true, error };
  }

  private async findMigration(r: MoveRef): Promise<NovaMigration | null> {
    const q = (await this.atLeast('2.59')) ? `?instance_uuid=${encodeURIComponent(r.instanceId)}` : '';
    const res = await this.nova<{ migrations: NovaMigration[] }>(`/os-migrations${q}`);
    const type = r.kind === 'MIGRATE' ? ['migration', 'resize'] : ['live-migration'];
    const ms = res.body.migrations
      .filter((m) => m.instance_uuid === r.instanceId && novaTime(m.created_at) >= r.t && (!m.migration_type || type.includes(m.migration_type)))
      .sort((a, b) => novaTime(b.created_at) - novaTime(a.created_at));
    return ms[0] ?? null;
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
  }
}
