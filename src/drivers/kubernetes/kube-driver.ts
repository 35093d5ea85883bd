// The Kubernetes driver (spec §8, docs/kubernetes.md): a host is a Node, a project a Namespace, an
// instance a Pod (id: its uid). Scheduling is cordon / uncordon; every move is an eviction through
// the Eviction API, which honours PodDisruptionBudgets.
//
// Reads come from a list-then-watch cache of nodes and pods (reflector.ts), as a controller's do:
// the engine's change feed (watch) costs the API server nothing between events, and a move's
// progress is read from the same cache, so what the engine is told has happened is in its feed.
// Writes go to the API server, and their answers land in the cache at once.
//
// Guards:
// - Uncordon undoes only this driver's cordon (CORDON_ANNOTATION): a node found cordoned, or
//   cordoned again by someone else, stays cordoned.
// - An eviction names the pod's uid as a precondition, so it can never hit a replacement of the same
//   name (a StatefulSet's); a pod already terminating is never evicted again; one key starts one
//   eviction (in process, and across restarts through the Event it records first, below).
// - Before evicting, the driver records the move as an Event on the pod (reason FenixEviction,
//   named after the pod uid and the key). An engine that stopped after the eviction but before it
//   wrote the ref finds the move again by that Event, although the pod is gone.
// - A pod counts as moved when it is gone from its node and its controller has as many Ready pods
//   again as it had when it was evicted (its replacement is Ready), so that a group's recovery time
//   starts then. A pod without a controller (--drain-force) is moved when it is gone.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyApi,
  Watch,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { DriverError, type HostInfo, type InfraDriver, type InstanceInfo, type MoveKind, type MoveOptions, type OpStatus, type WorldChanges } from '../../ports/infra-driver.js';
import {
  describePdb,
  drainRefusal,
  hostInfo,
  instanceInfo,
  nodeFacts,
  pdbFacts,
  podFacts,
  podHealthy,
  podRef,
  podRole,
  selects,
  CORDON_ANNOTATION,
  type DrainPolicy,
  type NodeFacts,
  type PodFacts,
} from './objects.js';
import { ChangeFeed } from '../change-feed.js';
import { Reflector } from './reflector.js';

export interface KubernetesDriverOptions {
  /** kubectl drain's --force and --delete-emptydir-data (default: refuse such pods). */
  drain?: Partial<DrainPolicy>;
  /** How long an evicted pod's controller may take to have its Ready pods back, ms, before the move fails. Default 600000. */
  replacementTimeoutMs?: number;
  /** How soon the engine should look at a move again, ms (answers come from the cache). Default 250. */
  pollMs?: number;
  /** Longest wait between two evictions of a pod a PodDisruptionBudget refused, ms (kubectl drain waits 5 s). Default 5000. */
  pdbRetryMaxMs?: number;
  now?: () => number;
}

/** The parts of a move's ref: what getOperation needs, also in another process. */
interface EvictRef {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  keyHash: string;
  /** When the eviction was issued (ms epoch). */
  t: number;
  /** The pod's controller, when it has one: `<kind>:<name>:<uid>`. */
  owner: { kind: string; name: string; uid: string } | null;
  /** Ready pods of that controller just before the eviction (the pod itself included). */
  readyBefore: number;
}

const REF_PREFIX = 'k8s-evict:';
const NODE_REF_PREFIX = 'k8s-node:';
const EVENT_REASON = 'FenixEviction';
const REF_ANNOTATION = 'fenix-engine/ref';
/** A Kubernetes uid (and nothing that could change a field selector). */
const UID = /^[0-9a-zA-Z-]{1,64}$/;
const FINISHED_KEPT = 10_000;

export const keyHash = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** `k8s-evict:<ns>/<pod>/<uid>/<node>/<key hash>/<t>/<kind:name:uid | ->/<ready before>` (none of the parts holds a '/'). */
export function encodeEvictRef(r: EvictRef): string {
  const owner = r.owner ? `${r.owner.kind}:${r.owner.name}:${r.owner.uid}` : '-';
  return `${REF_PREFIX}${[r.namespace, r.name, r.uid, r.node, r.keyHash, r.t, owner, r.readyBefore].join('/')}`;
}

export function decodeEvictRef(ref: string): EvictRef | null {
  if (!ref.startsWith(REF_PREFIX)) return null;
  const p = ref.slice(REF_PREFIX.length).split('/');
  if (p.length !== 8 || p.some((x) => x === '')) return null;
  const [namespace, name, uid, node, hash, t, owner, ready] = p as [string, string, string, string, string, string, string, string];
  const o = owner === '-' ? null : owner.split(':');
  if ((o && o.length !== 3) || !/^\d+$/.test(t) || !/^\d+$/.test(ready) || !/^[0-9a-f]{12}$/.test(hash)) return null;
  return { namespace, name, uid, node, keyHash: hash, t: Number(t), owner: o ? { kind: o[0]!, name: o[1]!, uid: o[2]! } : null, readyBefore: Number(ready) };
}

/** Status, reason and message of a failed API call (status 0: no answer). */
interface ApiFailure {
  status: number;
  message: string;
  causes: { reason: string; message: string }[];
}

function failure(err: unknown): ApiFailure {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        /* text */
      }
    }
    const b = (body && typeof body === 'object' ? body : {}) as { message?: unknown; details?: { causes?: { reason?: unknown; message?: unknown }[] } };
    const message = typeof b.message === 'string' ? b.message : typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${err.code}`;
    const causes = (b.details?.causes ?? []).map((c) => ({ reason: String(c.reason ?? ''), message: String(c.message ?? '') }));
    return { status: err.code, message, causes };
  }
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return { status: typeof status === 'number' ? status : 0, message: err instanceof Error ? err.message : String(err), causes: [] };
}

/** A failed call as the engine's DriverError: no answer and 5xx retryable, 403 a permission to grant. */
function driverError(what: string, err: unknown): DriverError {
  if (err instanceof DriverError) return err;
  const f = failure(err);
  if (f.status === 0 || f.status >= 500 || f.status === 429 || f.status === 409)
    return new DriverError(`${what}: ${f.status ? `HTTP ${f.status}: ` : ''}${f.message}`, true, f.status === 0 ? 'UNAVAILABLE' : f.status === 429 ? 'THROTTLED' : 'CONFLICT');
  if (f.status === 403)
    return new DriverError(`${what}: forbidden (${f.message}); grant the service account the ClusterRole of docs/kubernetes.md`, false, 'FORBIDDEN');
  if (f.status === 401) return new DriverError(`${what}: the API server refused the credentials (401): ${f.message}`, false, 'UNAUTHORIZED');
  return new DriverError(`${what}: HTTP ${f.status}: ${f.message}`, false, f.status === 404 ? 'NOT_FOUND' : 'API_ERROR');
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubernetesDriver implements InfraDriver {
  readonly name = 'kubernetes';
  // No moveLimits: kubectl drain evicts a node's pods all at once, and the PodDisruptionBudgets
  // are what limits disruption; --max-moves* still apply.
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly policyGroup: PolicyApi;
  private readonly nodes: Reflector<NodeFacts>;
  private readonly pods: Reflector<PodFacts>;
  private readonly policy: DrainPolicy;
  private readonly now: () => number;
  private evictionVersion: Promise<'v1' | 'v1beta1'> | null = null;

  // Derived views, kept as the caches change: what the port answers, and per node and controller.
  private readonly hostView = new Map<string, HostInfo>();
  private readonly instView = new Map<string, InstanceInfo>();
  private readonly podsOn = new Map<string, Set<string>>();
  private readonly podsOf = new Map<string, Set<string>>();
  private readonly usedMilli = new Map<string, number>();
  private readonly fixtureMilli = new Map<string, number>();

  // The change feed (nodes by name, pods by uid).
  private readonly feed = new ChangeFeed();

  // Moves.
  private readonly refs = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<string>>();
  /** Refs whose eviction this process issued (or found under way): never issued again. */
  private readonly issued = new Set<string>();
  /** Ref → when this process first saw its pod gone. */
  private readonly goneAt = new Map<string, number>();
  /** Final answers, repeated when asked again. */
  private readonly finished = new Map<string, OpStatus>();
  /** Pod uid → the PDB refusal to repeat until `until` (no request before then), and the next wait. */
  private readonly blocked = new Map<string, { until: number; wait: number; error: DriverError }>();

  constructor(
    kc: KubeConfig,
    private readonly opts: KubernetesDriverOptions = {},
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.policyGroup = kc.makeApiClient(PolicyApi);
    this.policy = { force: opts.drain?.force ?? false, deleteEmptyDirData: opts.drain?.deleteEmptyDirData ?? false };
    this.now = opts.now ?? Date.now;
    const watch = new Watch(kc);
    this.nodes = new Reflector<NodeFacts>(watch, {
      path: '/api/v1/nodes',
      list: () => this.listAll((c) => this.core.listNode({ limit: 500, ...(c && { _continue: c }) })),
      facts: nodeFacts,
      key: (n) => n.name,
      version: (n) => n.resourceVersion,
      handlers: { upsert: (_o, n) => this.refreshHost(n.name), remove: (n) => this.refreshHost(n.name) },
    });
    this.pods = new Reflector<PodFacts>(watch, {
      path: '/api/v1/pods',
      list: () => this.listAll((c) => this.core.listPodForAllNamespaces({ limit: 500, ...(c && { _continue: c }) })),
      facts: podFacts,
      key: (p) => p.uid,
      version: (p) => p.resourceVersion,
      handlers: { upsert: (o, p) => this.podChanged(o, p), remove: (o) => this.podChanged(o, undefined) },
    });
  }

  /** Every page of a list, with the list's resourceVersion. */
  private async listAll(page: (cont?: string) => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string; _continue?: string } }>) {
    const items: unknown[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const res = await page(cont);
      items.push(...res.items);
      resourceVersion = res.metadata?.resourceVersion ?? resourceVersion;
      cont = res.metadata?._continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** The caches, listed once (later calls return at once; a failed first list is the caller's error). */
  private async synced(): Promise<void> {
    if (this.nodes.isSynced && this.pods.isSynced) return;
    try {
      await Promise.all([this.nodes.ready(), this.pods.ready()]);
    } catch (err) {
      throw driverError('listing nodes and pods', err);
    }
  }

  // ---------------------------------------------------------------- the caches, derived

  private static sameHost(a: HostInfo | undefined, b: HostInfo | undefined): boolean {
    return !!a && !!b && a.type === b.type && a.vcpus === b.vcpus && a.vcpusUsed === b.vcpusUsed && a.enabled === b.enabled;
  }

  private static sameInstance(a: InstanceInfo | undefined, b: InstanceInfo | undefined): boolean {
    return !!a && !!b && a.host === b.host && a.vcpus === b.vcpus && a.name === b.name && a.projectId === b.projectId;
  }

  /** A node's HostInfo again; noted in the feed when it changed. */
  private refreshHost(name: string): void {
    const n = this.nodes.items.get(name);
    const before = this.hostView.get(name);
    if (!n) {
      if (before) {
        this.hostView.delete(name);
        this.feed.noteHost(name);
      }
      return;
    }
    const next = hostInfo(n, this.usedMilli.get(name) ?? 0, this.fixtureMilli.get(name) ?? 0);
    if (KubernetesDriver.sameHost(before, next)) return;
    this.hostView.set(name, next);
    this.feed.noteHost(name);
  }

  private static add(m: Map<string, Set<string>>, k: string, v: string): void {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(v);
  }

  private static drop(m: Map<string, Set<string>>, k: string, v: string): void {
    const s = m.get(k);
    s?.delete(v);
    if (s?.size === 0) m.delete(k);
  }

  private count(p: PodFacts, sign: 1 | -1): void {
    const role = podRole(p);
    if (role === 'none' || !p.node) return;
    const m = role === 'instance' ? this.usedMilli : this.fixtureMilli;
    m.set(p.node, (m.get(p.node) ?? 0) + sign * p.cpuMilli);
  }

  private podChanged(old: PodFacts | undefined, next: PodFacts | undefined): void {
    if (old) {
      this.count(old, -1);
      if (old.node) KubernetesDriver.drop(this.podsOn, old.node, old.uid);
      if (old.controller) KubernetesDriver.drop(this.podsOf, old.controller.uid, old.uid);
    }
    if (next) {
      this.count(next, 1);
      if (next.node) KubernetesDriver.add(this.podsOn, next.node, next.uid);
      if (next.controller) KubernetesDriver.add(this.podsOf, next.controller.uid, next.uid);
    }
    const uid = (next ?? old)!.uid;
    const before = this.instView.get(uid);
    const after = next && podRole(next) === 'instance' ? instanceInfo(next) : undefined;
    if (after && !KubernetesDriver.sameInstance(before, after)) {
      this.instView.set(uid, after);
      this.feed.noteInstance(uid);
    } else if (!after && before) {
      this.instView.delete(uid);
      this.feed.noteInstance(uid);
    }
    if (old?.node) this.refreshHost(old.node);
    if (next?.node && next.node !== old?.node) this.refreshHost(next.node);
  }

  // ---------------------------------------------------------------- the port: reads

  async listHosts(): Promise<HostInfo[]> {
    await this.synced();
    return [...this.hostView.values()].map((h) => ({ ...h })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async listInstances(filter: { hosts?: string[]; projectId?: string } = {}): Promise<InstanceInfo[]> {
    await this.synced();
    const ids = filter.hosts ? filter.hosts.flatMap((h) => [...(this.podsOn.get(h) ?? [])]) : [...this.instView.keys()];
    const out: InstanceInfo[] = [];
    for (const id of ids) {
      const i = this.instView.get(id);
      if (i && (filter.projectId === undefined || i.projectId === filter.projectId)) out.push({ ...i });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async getInstance(id: string): Promise<InstanceInfo | undefined> {
    await this.synced();
    const i = this.instView.get(id);
    return i ? { ...i } : undefined;
  }

  /** What changed since `cursor`, from the cache: O(changes); an unknown or too old cursor gets everything. */
  async watch(cursor: string | null): Promise<WorldChanges> {
    await this.synced();
    return this.feed.answer(cursor, {
      host: (n) => this.hostView.get(n),
      instance: (id) => this.instView.get(id),
      hosts: () => this.hostView.values(),
      instances: () => this.instView.values(),
    });
  }

  // ---------------------------------------------------------------- scheduling: cordon / uncordon

  async setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void> {
    await this.synced();
    // Read, decide, write with the version read (a concurrent change is a 409: read again).
    for (let attempt = 0; attempt < 5; attempt++) {
      let raw: unknown;
      try {
        raw = await this.core.readNode({ name: host });
      } catch (err) {
        if (failure(err).status === 404) throw new DriverError(`host not found: node ${host}`, false, 'NOT_FOUND');
        throw driverError(`reading node ${host}`, err);
      }
      const n = this.nodes.apply(raw);
      let patch: Record<string, unknown> | null;
      const meta = (annotations: Record<string, string | null>) => ({ resourceVersion: n.resourceVersion, annotations });
      if (!enabled) {
        // Cordoned already (by anyone): leave it, and do not claim it.
        patch = n.unschedulable ? null : { metadata: meta({ [CORDON_ANNOTATION]: `${reason}, ${new Date(this.now()).toISOString()}` }), spec: { unschedulable: true } };
      } else if (!n.unschedulable) {
        patch = n.cordonedBy !== null ? { metadata: meta({ [CORDON_ANNOTATION]: null }) } : null;
      } else {
        // Only our own cordon is undone: one without the annotation is someone else's.
        patch = n.cordonedBy !== null ? { metadata: meta({ [CORDON_ANNOTATION]: null }), spec: { unschedulable: false } } : null;
      }
      if (!patch) return;
      try {
        this.nodes.apply(await this.core.patchNode({ name: host, body: patch }, MERGE_PATCH));
        return;
      } catch (err) {
        if (failure(err).status === 409) continue;
        throw driverError(`${enabled ? 'uncordoning' : 'cordoning'} node ${host}`, err);
      }
    }
    throw new DriverError(`node ${host} kept changing while it was being ${enabled ? 'uncordoned' : 'cordoned'}`, true, 'CONFLICT');
  }

  // ---------------------------------------------------------------- moves: evictions

  async startMove(instanceId: string, kind: MoveKind, key: string, _opts: MoveOptions = {}): Promise<string> {
    // Every kind is an eviction: pods do not migrate. A planned target is not passed on either:
    // the scheduler places the replacement (on an uncordoned node), and the ref's answer says where.
    void kind;
    const known = this.refs.get(key);
    if (known) return known;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.evictOnce(instanceId, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const ref = await p;
    this.refs.set(key, ref);
    if (this.refs.size > FINISHED_KEPT * 10) this.refs.delete(this.refs.keys().next().value!); // the oldest: a restarted engine finds it by its Event
    return ref;
  }

  private async evictOnce(uid: string, key: string): Promise<string> {
    if (!UID.test(uid)) throw new DriverError(`instance not found: ${uid}`, false, 'NOT_FOUND');
    const hash = keyHash(key);
    const block = this.blocked.get(uid);
    if (block && this.now() < block.until) throw block.error;
    await this.synced();
    const p = this.pods.items.get(uid);
    if (!p || podRole(p) === 'none') {
      // Gone: evicted by an engine that stopped before it wrote the ref? Its Event says so.
      const ref = await this.recordedMove(uid, hash);
      if (ref) return ref;
      throw new DriverError(`instance not found: no pod ${uid} runs on a node`, false, 'NOT_FOUND');
    }
    const refused = drainRefusal(p, this.policy);
    if (refused) throw new DriverError(refused[1], false, refused[0]);
    const ref = encodeEvictRef({
      namespace: p.namespace,
      name: p.name,
      uid,
      node: p.node!,
      keyHash: hash,
      t: this.now(),
      owner: p.controller,
      readyBefore: p.controller ? this.healthyOf(p.controller.uid).length : 0,
    });
    await this.record(p, ref, key, hash);
    if (!p.deleting) await this.evict(p);
    this.issued.add(ref); // a pod already terminating is left to finish, never evicted twice
    return ref;
  }

  /** Ready, not terminating pods of one controller. */
  private healthyOf(owner: string, except?: string): PodFacts[] {
    const out: PodFacts[] = [];
    for (const id of this.podsOf.get(owner) ?? []) {
      const q = this.pods.items.get(id);
      if (q && q.uid !== except && podHealthy(q)) out.push(q);
    }
    return out;
  }

  private eventName = (uid: string, hash: string): string => `fenix-evict.${uid.toLowerCase()}.${hash}`;

  /** The move's Event on the pod, created once per key (a retry after a refusal updates its ref). */
  private async record(p: PodFacts, ref: string, key: string, hash: string): Promise<void> {
    const name = this.eventName(p.uid, hash);
    const at = new Date(this.now());
    const message = `Evicting pod ${podRef(p)} from node ${p.node} for maintenance (fenix ${key})`;
    try {
      await this.core.createNamespacedEvent({
        namespace: p.namespace,
        body: {
          metadata: { name, namespace: p.namespace, annotations: { [REF_ANNOTATION]: ref } },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: p.namespace, name: p.name, uid: p.uid },
          reason: EVENT_REASON,
          message,
          type: 'Normal',
          source: { component: 'fenix' },
          reportingComponent: 'fenix',
          reportingInstance: hostname(),
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1,
        },
      });
    } catch (err) {
      if (failure(err).status !== 409) throw driverError(`recording the eviction of pod ${podRef(p)}`, err);
      try {
        await this.core.patchNamespacedEvent({ name, namespace: p.namespace, body: { metadata: { annotations: { [REF_ANNOTATION]: ref } }, lastTimestamp: at } }, MERGE_PATCH);
      } catch (e) {
        throw driverError(`recording the eviction of pod ${podRef(p)}`, e);
      }
    }
  }

  /** The ref of a move recorded for this pod and key, found by its Event (the pod may be gone). */
  private async recordedMove(uid: string, hash: string): Promise<string | null> {
    const name = this.eventName(uid, hash);
    try {
      const events = await this.core.listEventForAllNamespaces({ fieldSelector: `involvedObject.uid=${uid}` });
      const ev = events.items.find((e) => e.metadata?.name === name && e.reason === EVENT_REASON);
      const ref = ev?.metadata?.annotations?.[REF_ANNOTATION];
      return ref && decodeEvictRef(ref)?.uid === uid ? ref : null;
    } catch (err) {
      throw driverError(`looking for the eviction of pod ${uid}`, err);
    }
  }

  /** policy/v1 where the API server serves it (1.22+), else policy/v1beta1 (1.20, 1.21). */
  private version(): Promise<'v1' | 'v1beta1'> {
    this.evictionVersion ??= this.policyGroup
      .getAPIGroup()
      .then((g) => (g.versions.some((v) => v.version === 'v1') ? ('v1' as const) : ('v1beta1' as const)))
      .catch((err: unknown) => {
        this.evictionVersion = null;
        throw driverError('discovering the policy API group', err);
      });
    return this.evictionVersion;
  }

  /** POST the pod's eviction, for this uid only. Resolves when the API server accepted it or the pod is gone. */
  private async evict(p: PodFacts): Promise<void> {
    const v = await this.version();
    try {
      await this.core.createNamespacedPodEviction({
        name: p.name,
        namespace: p.namespace,
        body: { apiVersion: `policy/${v}`, kind: 'Eviction', metadata: { name: p.name, namespace: p.namespace }, deleteOptions: { preconditions: { uid: p.uid } } },
      });
      this.blocked.delete(p.uid);
    } catch (err) {
      const f = failure(err);
      // Gone, or the name now belongs to another pod (the uid precondition failed): nothing left to evict.
      if (f.status === 404 || (f.status === 409 && /precondition/i.test(f.message))) return;
      if (f.status === 429 && (f.causes.some((c) => c.reason === 'DisruptionBudget') || /disruption budget/i.test(f.message))) throw await this.pdbBlocked(p, v, f);
      if (f.status === 500 && /more than one PodDisruptionBudget/i.test(f.message))
        throw new DriverError(`pod ${podRef(p)} is selected by more than one PodDisruptionBudget, which the Eviction API refuses: ${f.message}`, false, 'MULTIPLE_PDBS');
      throw driverError(`evicting pod ${podRef(p)}`, err);
    }
  }

  /** A PDB refused the eviction: which one and its numbers, and when to try again (kubectl drain: every 5 s). */
  private async pdbBlocked(p: PodFacts, v: 'v1' | 'v1beta1', f: ApiFailure): Promise<DriverError> {
    let what: string;
    try {
      const list = (await this.custom.listNamespacedCustomObject({ group: 'policy', version: v, namespace: p.namespace, plural: 'poddisruptionbudgets' })) as { items?: unknown[] };
      const mine = (list.items ?? []).map(pdbFacts).filter((b) => selects(b.selector, p.labels, v === 'v1'));
      what = mine.length ? mine.map(describePdb).join('; ') : `a PodDisruptionBudget (${f.causes.map((c) => c.message).join('; ') || f.message})`;
    } catch {
      what = `a PodDisruptionBudget (${f.causes.map((c) => c.message).join('; ') || f.message})`;
    }
    if (f.causes.some((c) => /still being processed/i.test(c.message))) what += '; the API server is still processing it';
    const error = new DriverError(`eviction of pod ${podRef(p)} refused by ${what}`, true, 'PDB_BLOCKED');
    const prev = this.blocked.get(p.uid);
    const wait = Math.min(prev ? prev.wait * 2 : 1000, this.opts.pdbRetryMaxMs ?? 5000);
    this.blocked.set(p.uid, { until: this.now() + wait, wait, error });
    return error;
  }

  async startHostMaintenance(host: string, _key: string): Promise<string> {
    // The action plug-ins maintain a node; there is nothing for the API server to do.
    return `${NODE_REF_PREFIX}${host}`;
  }

  async getOperation(ref: string): Promise<OpStatus> {
    if (ref.startsWith(NODE_REF_PREFIX)) return { status: 'done' };
    const r = decodeEvictRef(ref);
    if (!r) throw new DriverError(`operation not found: ${ref}`, false, 'NOT_FOUND');
    const fin = this.finished.get(ref);
    if (fin) return { ...fin };
    await this.synced();
    const now = this.now();
    const soon = now + (this.opts.pollMs ?? 250);
    const p = this.pods.items.get(r.uid);
    if (p && p.node === r.node && podRole(p) === 'instance') {
      if (!p.deleting && !this.issued.has(ref)) {
        // Recorded but not evicted (an engine stopped in between), or evicted by another process
        // whose answer this cache has not seen: the uid precondition makes a second call harmless.
        await this.evict(p);
        this.issued.add(ref);
      }
      return { status: 'running', host: r.node, expectedAt: soon };
    }
    // Off its node. Its controller's Ready pods back to what they were: the replacement is Ready.
    const since = this.goneAt.get(ref) ?? now;
    this.goneAt.set(ref, since);
    if (!r.owner) return this.finish(ref, { status: 'done' });
    const healthy = this.healthyOf(r.owner.uid, r.uid);
    if (healthy.length >= r.readyBefore) {
      const fresh = healthy.filter((q) => q.node !== r.node && q.createdAt >= r.t - 1000).sort((a, b) => b.createdAt - a.createdAt)[0];
      return this.finish(ref, { status: 'done', ...(fresh?.node && { host: fresh.node }) });
    }
    const limit = this.opts.replacementTimeoutMs ?? 600_000;
    if (now - since >= limit)
      return this.finish(ref, {
        status: 'failed',
        error: `pod ${r.namespace}/${r.name} left ${r.node}, but ${r.owner.kind} ${r.owner.name} has ${healthy.length} Ready pods of the ${r.readyBefore} it had, after ${Math.round(limit / 1000)} s`,
      });
    return { status: 'running', expectedAt: soon };
  }

  private finish(ref: string, st: OpStatus): OpStatus {
    this.goneAt.delete(ref);
    this.issued.delete(ref);
    this.finished.set(ref, st);
    if (this.finished.size > FINISHED_KEPT) this.finished.delete(this.finished.keys().next().value!);
    return { ...st };
  }

  async close(): Promise<void> {
    this.nodes.stop();
    this.pods.stop();
  }
}
