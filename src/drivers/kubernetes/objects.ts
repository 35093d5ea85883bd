// What the Kubernetes driver needs of Nodes, Pods and PodDisruptionBudgets, reduced to small facts
// as soon as an object arrives (a list answer, a watch event, a PATCH response): the cache keeps
// these, never whole objects, and every rule of the mapping (spec §8, docs/kubernetes.md) is a pure
// function over them.
import type { HostInfo, InstanceInfo } from '../../ports/infra-driver.js';

/** The annotation this driver puts on a node it cordoned: uncordon only undoes its own cordon. */
export const CORDON_ANNOTATION = 'fenix-engine/cordoned';

const CONTROL_PLANE_KEYS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

export interface NodeFacts {
  name: string;
  resourceVersion: string;
  unschedulable: boolean;
  /** The value of CORDON_ANNOTATION, null when absent. */
  cordonedBy: string | null;
  controlPlane: boolean;
  /** Allocatable CPU, millicores. */
  allocatableMilli: number;
}

/** How a pod counts on its node. */
export type PodRole =
  /** An instance: listed, moved, counted in vcpusUsed. */
  | 'instance'
  /** A DaemonSet or mirror (static) pod: a drain leaves it; its requests lower the node's capacity. */
  | 'fixture'
  /** Not on a node, or finished (Succeeded / Failed): neither listed nor counted. */
  | 'none';

export interface PodFacts {
  uid: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  /** spec.nodeName, null while unscheduled. */
  node: string | null;
  phase: string;
  ready: boolean;
  /** metadata.deletionTimestamp is set: the pod is terminating. */
  deleting: boolean;
  /** The controlling owner (ownerReferences with controller: true), null for a bare pod. */
  controller: { kind: string; name: string; uid: string } | null;
  mirror: boolean;
  /** Effective CPU request, millicores (what the scheduler reserves). */
  cpuMilli: number;
  /** Names of emptyDir volumes (their data is lost on eviction). */
  emptyDirs: string[];
  createdAt: number;
  labels: Record<string, string>;
}

// ---- quantities --------------------------------------------------------------------------

const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/**
 * A CPU quantity ("100m", "2", "0.5", "1e3", "1Ki") in millicores, rounded up as the API server's
 * MilliValue does. Anything unparsable counts 0: a malformed request is the API server's to refuse.
 */
export function cpuMilli(q: unknown): number {
  if (typeof q === 'number') return Number.isFinite(q) && q > 0 ? Math.ceil(q * 1000 - 1e-9) : 0;
  if (typeof q !== 'string') return 0;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const scale = m[2] ? 10 ** Number(m[2].slice(1)) : m[3] && m[3] in BINARY ? BINARY[m[3]]! : DECIMAL[m[3] ?? '']!;
  const milli = n * scale * 1000;
  return milli > 0 ? Math.ceil(milli - 1e-9) : 0;
}

/** Millicores as the vCPUs of the port (3 decimals: exact for any millicore count). */
export const vcpusOf = (milli: number): number => Math.round(milli) / 1000;

// ---- loosely typed objects (typed client answers carry Dates, watch events strings) -----------

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const time = (v: unknown): number => (v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) || 0 : 0);
const strMap = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === 'string') out[k] = x;
  return out;
};

export function nodeFacts(node: unknown): NodeFacts {
  const n = obj(node);
  const meta = obj(n.metadata);
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);
  const taints = arr(obj(n.spec).taints).map((t) => str(obj(t).key));
  return {
    name: str(meta.name),
    resourceVersion: str(meta.resourceVersion),
    unschedulable: obj(n.spec).unschedulable === true,
    cordonedBy: annotations[CORDON_ANNOTATION] ?? null,
    controlPlane: CONTROL_PLANE_KEYS.some((k) => k in labels || taints.includes(k)),
    allocatableMilli: cpuMilli(obj(obj(n.status).allocatable).cpu),
  };
}

/** The scheduler's view of a pod's CPU: max(sum of containers, largest init container) + overhead. */
function podCpuMilli(spec: Obj): number {
  const req = (c: unknown) => cpuMilli(obj(obj(obj(c).resources).requests).cpu);
  const containers = arr(spec.containers).reduce<number>((s, c) => s + req(c), 0);
  const init = arr(spec.initContainers).reduce<number>((m, c) => Math.max(m, req(c)), 0);
  return Math.max(containers, init) + cpuMilli(obj(spec.overhead).cpu);
}

export function podFacts(pod: unknown): PodFacts {
  const p = obj(pod);
  const meta = obj(p.metadata);
  const spec = obj(p.spec);
  const status = obj(p.status);
  const owner = arr(meta.ownerReferences).map(obj).find((o) => o.controller === true);
  return {
    uid: str(meta.uid),
    namespace: str(meta.namespace),
    name: str(meta.name),
    resourceVersion: str(meta.resourceVersion),
    node: str(spec.nodeName) || null,
    phase: str(status.phase) || 'Pending',
    ready: arr(status.conditions).some((c) => str(obj(c).type) === 'Ready' && str(obj(c).status) === 'True'),
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    controller: owner ? { kind: str(owner.kind), name: str(owner.name), uid: str(owner.uid) } : null,
    mirror: 'kubernetes.io/config.mirror' in strMap(meta.annotations),
    cpuMilli: podCpuMilli(spec),
    emptyDirs: arr(spec.volumes)
      .map(obj)
      .filter((v) => v.emptyDir !== undefined && v.emptyDir !== null)
      .map((v) => str(v.name)),
    createdAt: time(meta.creationTimestamp),
    labels: strMap(meta.labels),
  };
}

export function podRole(p: PodFacts): PodRole {
  if (!p.node || p.phase === 'Succeeded' || p.phase === 'Failed') return 'none';
  if (p.mirror || p.controller?.kind === 'DaemonSet') return 'fixture';
  return 'instance';
}

/** Counted as a healthy member of its workload: Ready and not on its way out. */
export const podHealthy = (p: PodFacts): boolean => p.ready && !p.deleting && p.phase === 'Running';

export const podRef = (p: Pick<PodFacts, 'namespace' | 'name'>): string => `${p.namespace}/${p.name}`;

export function hostInfo(n: NodeFacts, usedMilli: number, fixtureMilli: number): HostInfo {
  return {
    name: n.name,
    type: n.controlPlane ? 'controller' : 'compute',
    vcpus: vcpusOf(Math.max(0, n.allocatableMilli - fixtureMilli)),
    vcpusUsed: vcpusOf(usedMilli),
    enabled: !n.unschedulable,
  };
}

export function instanceInfo(p: PodFacts): InstanceInfo {
  return {
    id: p.uid,
    name: p.name,
    projectId: p.namespace,
    host: p.node ?? '',
    vcpus: vcpusOf(p.cpuMilli),
    floatingIp: false,
    liveMigratable: false,
  };
}

// ---- drain policy --------------------------------------------------------------------------

export interface DrainPolicy {
  /** Evict pods that no controller re-creates (kubectl drain --force). */
  force: boolean;
  /** Evict pods with emptyDir volumes, losing that data (kubectl drain --delete-emptydir-data). */
  deleteEmptyDirData: boolean;
}

/** Why a pod may not be evicted under the policy: [code, message], or null when it may. */
export function drainRefusal(p: PodFacts, policy: DrainPolicy): [string, string] | null {
  const role = podRole(p);
  if (role === 'fixture')
    return ['NOT_MOVABLE', `pod ${podRef(p)} is ${p.mirror ? 'a static (mirror) pod' : `a DaemonSet pod (${p.controller!.name})`}: a drain leaves it where it is`];
  if (!p.controller && !policy.force)
    return [
      'UNMANAGED_POD',
      `pod ${podRef(p)} has no controller (ReplicaSet, StatefulSet, Job, ...): evicting it deletes it for good; ` +
        'like kubectl drain --force, start fenix with --drain-force to evict such pods',
    ];
  if (p.emptyDirs.length && !policy.deleteEmptyDirData)
    return [
      'LOCAL_STORAGE',
      `pod ${podRef(p)} has emptyDir volume(s) ${p.emptyDirs.join(', ')} whose data is lost when it is evicted; ` +
        'like kubectl drain --delete-emptydir-data, start fenix with --drain-delete-emptydir-data',
    ];
  return null;
}

// ---- PodDisruptionBudgets -----------------------------------------------------------------

export interface PdbFacts {
  name: string;
  /** The spec's rule as written: `minAvailable 2`, `maxUnavailable 25%`. */
  rule: string;
  currentHealthy: number | null;
  desiredHealthy: number | null;
  expectedPods: number | null;
  disruptionsAllowed: number | null;
  selector: Obj | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export function pdbFacts(pdb: unknown): PdbFacts {
  const b = obj(pdb);
  const spec = obj(b.spec);
  const status = obj(b.status);
  const rule =
    spec.minAvailable !== undefined ? `minAvailable ${String(spec.minAvailable)}` : spec.maxUnavailable !== undefined ? `maxUnavailable ${String(spec.maxUnavailable)}` : 'no rule';
  return {
    name: str(obj(b.metadata).name),
    rule,
    currentHealthy: num(status.currentHealthy),
    desiredHealthy: num(status.desiredHealthy),
    expectedPods: num(status.expectedPods),
    disruptionsAllowed: num(status.disruptionsAllowed),
    selector: spec.selector && typeof spec.selector === 'object' ? (spec.selector as Obj) : null,
  };
}

/** `PDB web-pdb: minAvailable 2, currently healthy 2, disruptions allowed 0`. */
export function describePdb(p: PdbFacts): string {
  const parts = [p.rule];
  if (p.currentHealthy !== null) parts.push(`currently healthy ${p.currentHealthy}`);
  if (p.disruptionsAllowed !== null) parts.push(`disruptions allowed ${p.disruptionsAllowed}`);
  return `PDB ${p.name}: ${parts.join(', ')}`;
}

/**
 * Whether a label selector selects these labels. `emptyMatchesAll`: policy/v1 reads an empty PDB
 * selector as every pod of the namespace, policy/v1beta1 as none.
 */
export function selects(selector: Obj | null, labels: Record<string, string>, emptyMatchesAll: boolean): boolean {
  const s = obj(selector);
  const ml = strMap(s.matchLabels);
  const exprs = arr(s.matchExpressions).map(obj);
  if (!Object.keys(ml).length && !exprs.length) return emptyMatchesAll;
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of exprs) {
    const key = str(e.key);
    const values = arr(e.values).map(str);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    switch (str(e.operator)) {
      case 'In':
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
