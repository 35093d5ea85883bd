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
//   confirmResize is sent on VERIFY_RESIZE, and a move whose ref is in the metadata but that Nova
//   never received (crash between the two writes) is issued then.
import { createHash } from 'node:crypto';
import {
  DriverError,
  type HostInfo,
  type InfraDriver,
  type InstanceInfo,
  type MoveKind,
  type OpStatus,
} from '../../ports/infra-driver.js';
import type { HostType } from '../../domain/states.js';
import { HttpError, type HttpOptions, type HttpResponse } from './http.js';
import type { KeystoneSession } from './keystone.js';

export const MOVE_METADATA_KEY = 'fenix_move';
/** The microversion asked for unless configured (2.84 gives action event details; < 2.88 keeps hypervisor vCPUs). */
export const DEFAULT_MICROVERSION = '2.87';

export interface OpenStackDriverOptions {
  /** Wanted compute microversion, capped by the server's maximum. Default 2.87. */
  microversion?: string;
  /** Where capacity comes from: placement (default when the catalog has it) or hypervisors. */
  capacity?: 'auto' | 'placement' | 'hypervisors';
  /** Poll hint for a running move that has just started, ms (a quarter of it near its end). Default 1000. */
  pollHintMs?: number;
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
}

const KIND_CODE: Record<string, MoveKind> = { m: 'MIGRATE', l: 'LIVE_MIGRATE' };
const CODE_OF: Partial<Record<MoveKind, string>> = { MIGRATE: 'm', LIVE_MIGRATE: 'l' };
const ACTION_OF: Partial<Record<MoveKind, string[]>> = { MIGRATE: ['migrate', 'resize'], LIVE_MIGRATE: ['live-migration'] };

export const keyHash = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 12);

export function encodeMoveRef(r: MoveRef): string {
  return `nova-move:${CODE_OF[r.kind]}:${r.instanceId}:${Math.floor(r.t / 1000)}:${r.keyHash}:${r.src}`;
}

export function decodeMoveRef(ref: string): MoveRef | null {
  const m = /^nova-move:([ml]):([^:]+):(\d+):([0-9a-f]{12}):(.+)$/.exec(ref);
  if (!m) return null;
  return { kind: KIND_CODE[m[1]!]!, instanceId: m[2]!, t: Number(m[3]) * 1000, keyHash: m[4]!, src: m[5]! };
}

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
  private version: Promise<string> | null = null;
  private readonly inflight = new Map<string, Promise<string>>();
  /** key → ref for moves started by this process (Nova's metadata covers restarts). */
  private readonly refs = new Map<string, string>();
  /** ref → when its migration was first seen failed without an error event yet. */
  private readonly settling = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    readonly keystone: KeystoneSession,
    private readonly opts: OpenStackDriverOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
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

  private async services(query = ''): Promise<NovaService[]> {
    return (await this.nova<{ services: NovaService[] }>(`/os-services${query}`)).body.services;
  }

  async listHosts(): Promise<HostInfo[]> {
    const [services, first] = await Promise.all([this.services(), this.capacity()]);
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
    const svc = (await this.services(`?binary=nova-compute&host=${encodeURIComponent(host)}`)).find((s) => s.host === host);
    if (!svc) {
      // Not a compute host: nothing schedules onto it. Unknown altogether: say so.
      const any = (await this.services(`?host=${encodeURIComponent(host)}`)).some((s) => s.host === host);
      if (any) return;
      throw new DriverError(`host not found: ${host}`, false, 'NOT_FOUND');
    }
    const want = enabled ? 'enabled' : 'disabled';
    // Already as wanted: nothing to do (an operator's disabled_reason is kept, never overwritten).
    if (svc.status === want) return;
    if (await this.atLeast('2.53')) {
      const body = enabled ? { status: 'enabled' } : { status: 'disabled', disabled_reason: reason };
      await this.nova(`/os-services/${svc.id}`, { method: 'PUT', body });
    } else if (enabled) {
      await this.nova('/os-services/enable', { method: 'PUT', body: { host, binary: 'nova-compute' } });
    } else {
      await this.nova('/os-services/disable-log-reason', { method: 'PUT', body: { host, binary: 'nova-compute', disabled_reason: reason } });
    }
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

  async startMove(instanceId: string, kind: MoveKind, key: string): Promise<string> {
    const known = this.refs.get(key);
    if (known) return known;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.doStartMove(instanceId, kind, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const ref = await p;
    this.refs.set(key, ref);
    return ref;
  }

  private async doStartMove(instanceId: string, kind: MoveKind, key: string): Promise<string> {
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
    const ref = encodeMoveRef({ kind, instanceId, t: Math.floor(date / 1000) * 1000, keyHash: hash, src });
    // Record first, then issue: a crash in between is healed by getOperation (it issues the move).
    await this.nova(`/servers/${encodeURIComponent(instanceId)}/metadata/${MOVE_METADATA_KEY}`, {
      method: 'PUT',
      body: { meta: { [MOVE_METADATA_KEY]: ref } },
    });
    try {
      await this.issue(instanceId, kind);
    } catch (err) {
      if (err instanceof HttpError && !err.retryable) {
        // Refused at once (e.g. 400 no valid host for a forced host): nothing started; forget the ref.
        await this.nova(`/servers/${encodeURIComponent(instanceId)}/metadata/${MOVE_METADATA_KEY}`, { method: 'DELETE', accept: [404] }).catch(
          () => undefined,
        );
        throw new DriverError(`Nova refused to ${kind === 'MIGRATE' ? 'migrate' : 'live-migrate'} ${instanceId}: ${err.message}`, false, 'REFUSED');
      }
      throw err;
    }
    return ref;
  }

  private async issue(instanceId: string, kind: MoveKind): Promise<void> {
    if (kind === 'MIGRATE') await this.action(instanceId, { migrate: null });
    else {
      const body = (await this.atLeast('2.25')) ? { host: null, block_migration: 'auto' } : { host: null, block_migration: false, disk_over_commit: false };
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
    const got = await this.server(r.instanceId);
    if (!got) return { status: 'failed', error: `Instance ${r.instanceId} was deleted.` };
    const s = got.server;
    const host = s['OS-EXT-SRV-ATTR:host'] ?? undefined;
    const task = s['OS-EXT-STS:task_state'] ?? null;
    // Poll less while Nova schedules and copies, more often near the end (finish, verify, confirm).
    const hint = this.opts.pollHintMs ?? 1000;
    const late = s.status === 'VERIFY_RESIZE' || task === 'resize_finish' || task === 'resize_confirming' || task === 'resize_migrated';
    const running = (): OpStatus => ({ status: 'running', ...(host && { host }), expectedAt: this.now() + (late ? Math.ceil(hint / 4) : hint) });
    if (s.status === 'ERROR') return { status: 'failed', error: s.fault?.message ?? `instance ${r.instanceId} went to ERROR`, ...(host && { host }) };

    if (s.status === 'VERIFY_RESIZE') {
      if (r.kind === 'MIGRATE' && s.metadata?.[MOVE_METADATA_KEY] === ref) {
        await this.action(r.instanceId, { confirmResize: null }).catch((err: unknown) => {
          if (!(err instanceof HttpError && (err.status === 409 || err.status === 400))) throw err; // already confirming
        });
      }
      return running();
    }
    if (task) return running();
    // Settled. Where is it, and what did Nova record for the action we issued?
    const act = await this.findAction(r);
    if (host && host !== r.src) {
      if (act?.failed) return { status: 'failed', error: act.error, host };
      return { status: 'done', host };
    }
    if (act) {
      if (act.failed) return { status: 'failed', error: act.error, ...(host && { host }) };
      // Nova finished the action without moving the server and without an error event: look at the migration.
      const mig = await this.findMigration(r);
      if (mig && ['error', 'failed', 'cancelled'].includes(mig.status)) {
        // Nova resets the server and the migration before it closes the action's event with its
        // error: give the event a few seconds to land, so the cause (e.g. NoValidHost) is reported.
        const first = this.settling.get(ref) ?? this.now();
        this.settling.set(ref, first);
        if (this.now() - first < (this.opts.errorGraceMs ?? 5_000)) return running();
        this.settling.delete(ref);
        return { status: 'failed', error: `Nova ${r.kind === 'MIGRATE' ? 'migration' : 'live migration'} ${mig.id} ended with status ${mig.status}`, ...(host && { host }) };
      }
      if (mig && ['completed', 'confirmed', 'finished', 'done'].includes(mig.status)) {
        return { status: 'failed', error: `migration ${mig.id} ${mig.status} but the server is still on ${r.src}`, ...(host && { host }) };
      }
      return running(); // the action is recorded but its task has not been set yet
    }
    // No action since the ref's time: the move was recorded but never reached Nova (a crash between
    // the two writes). Issue it now, once, if the ref is still the server's current move.
    if (s.metadata?.[MOVE_METADATA_KEY] === ref && (s.status === 'ACTIVE' || s.status === 'SHUTOFF' || s.status === 'PAUSED')) {
      await this.issue(r.instanceId, r.kind);
      return running();
    }
    return { status: 'failed', error: `no ${r.kind} of instance ${r.instanceId} was recorded by Nova`, ...(host && { host }) };
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

  async close(): Promise<void> {}
}
