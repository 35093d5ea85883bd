// The Kubernetes driver's mapping rules, as pure functions (the driver itself runs against a real
// API server in the Kubernetes lane: test/contract/driver.kubernetes.test.ts, test/kubernetes/).
import { describe, expect, it } from 'vitest';
import {
  CORDON_ANNOTATION,
  cpuMilli,
  decodeEvictRef,
  describePdb,
  drainRefusal,
  encodeEvictRef,
  laterVersion,
  nodeFacts,
  pdbFacts,
  podFacts,
  podRole,
  selects,
} from '../../src/drivers/kubernetes/index.js';

const pod = (o: { spec?: object; metadata?: object; status?: object } = {}) => ({
  metadata: { uid: 'u-1', name: 'web-1', namespace: 'shop', resourceVersion: '7', creationTimestamp: '2026-01-01T00:00:00Z', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1', controller: true }], ...o.metadata },
  spec: { nodeName: 'n1', containers: [{ name: 'c', resources: { requests: { cpu: '250m' } } }], ...o.spec },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], ...o.status },
});

describe('kubernetes objects', () => {
  it('reads CPU quantities in millicores, rounded up like the API server', () => {
    expect(cpuMilli('100m')).toBe(100);
    expect(cpuMilli('2')).toBe(2000);
    expect(cpuMilli('0.5')).toBe(500);
    expect(cpuMilli('1.0005')).toBe(1001);
    expect(cpuMilli('1e3')).toBe(1_000_000);
    expect(cpuMilli('500000u')).toBe(500);
    expect(cpuMilli('1n')).toBe(1);
    expect(cpuMilli('1k')).toBe(1_000_000);
    expect(cpuMilli(3)).toBe(3000);
    for (const bad of ['', 'abc', '1x', undefined, null, {}]) expect(cpuMilli(bad)).toBe(0);
  });

  it('maps a node: control plane by label or taint, capacity less DaemonSet and static pods, cordon as found', () => {
    const base = { metadata: { name: 'n1', resourceVersion: '5', labels: {} }, spec: {}, status: { allocatable: { cpu: '4' } } };
    expect(nodeFacts(base)).toMatchObject({ name: 'n1', controlPlane: false, unschedulable: false, cordonedBy: null, allocatableMilli: 4000 });
    expect(nodeFacts({ ...base, metadata: { ...base.metadata, labels: { 'node-role.kubernetes.io/master': '' } } }).controlPlane).toBe(true);
    expect(nodeFacts({ ...base, spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } }).controlPlane).toBe(true);
    const cordoned = nodeFacts({ ...base, metadata: { ...base.metadata, annotations: { [CORDON_ANNOTATION]: 'maintenance' } }, spec: { unschedulable: true } });
    expect(cordoned).toMatchObject({ unschedulable: true, cordonedBy: 'maintenance' });
  });

  it('counts a pod as an instance, a fixture (DaemonSet, static) or nothing (finished, unscheduled)', () => {
    expect(podRole(podFacts(pod()))).toBe('instance');
    expect(podRole(podFacts(pod({ metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'ds', uid: 'd', controller: true }] } })))).toBe('fixture');
    expect(podRole(podFacts(pod({ metadata: { annotations: { 'kubernetes.io/config.mirror': 'x' }, ownerReferences: [] } })))).toBe('fixture');
    expect(podRole(podFacts(pod({ status: { phase: 'Succeeded' } })))).toBe('none');
    expect(podRole(podFacts(pod({ spec: { nodeName: undefined } })))).toBe('none');
    // a pod bound but not yet Running is on its node
    expect(podRole(podFacts(pod({ status: { phase: 'Pending', conditions: [] } })))).toBe('instance');
  });

  it('takes the effective CPU request: containers summed, the largest init container, overhead', () => {
    const req = (cpu: string) => ({ name: 'x', resources: { requests: { cpu } } });
    expect(podFacts(pod({ spec: { containers: [req('100m'), req('200m')], initContainers: [req('250m')] } })).cpuMilli).toBe(300);
    expect(podFacts(pod({ spec: { containers: [req('100m')], initContainers: [req('1')], overhead: { cpu: '50m' } } })).cpuMilli).toBe(1050);
    expect(podFacts(pod({ spec: { containers: [{ name: 'x' }] } })).cpuMilli).toBe(0);
  });

  it('reads typed answers (Dates) and watch events (strings) alike', () => {
    const a = podFacts(pod({ metadata: { creationTimestamp: new Date('2026-01-01T00:00:00Z'), deletionTimestamp: new Date() } }));
    const b = podFacts(pod({ metadata: { deletionTimestamp: '2026-01-01T00:00:01Z' } }));
    expect(a.createdAt).toBe(b.createdAt);
    expect(a.deleting && b.deleting).toBe(true);
  });

  it('refuses what kubectl drain refuses unless told, and never a DaemonSet or static pod', () => {
    const strict = { force: false, deleteEmptyDirData: false };
    expect(drainRefusal(podFacts(pod()), strict)).toBeNull();
    const bare = podFacts(pod({ metadata: { ownerReferences: [] } }));
    expect(drainRefusal(bare, strict)?.[0]).toBe('UNMANAGED_POD');
    expect(drainRefusal(bare, strict)?.[1]).toContain('shop/web-1');
    expect(drainRefusal(bare, { ...strict, force: true })).toBeNull();
    const scratch = podFacts(pod({ spec: { volumes: [{ name: 'cache', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }] } }));
    expect(drainRefusal(scratch, strict)).toEqual(['LOCAL_STORAGE', expect.stringContaining('emptyDir volume(s) cache whose data')]);
    expect(drainRefusal(scratch, { ...strict, deleteEmptyDirData: true })).toBeNull();
    const ds = podFacts(pod({ metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'd', controller: true }] } }));
    expect(drainRefusal(ds, { force: true, deleteEmptyDirData: true })?.[0]).toBe('NOT_MOVABLE');
  });

  it('describes a PodDisruptionBudget with its rule and numbers', () => {
    const b = pdbFacts({ metadata: { name: 'web-pdb' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } }, status: { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3 } });
    expect(describePdb(b)).toBe('PDB web-pdb: minAvailable 2, currently healthy 2, disruptions allowed 0');
    expect(describePdb(pdbFacts({ metadata: { name: 'x' }, spec: { maxUnavailable: '25%' }, status: {} }))).toBe('PDB x: maxUnavailable 25%');
  });

  it('matches label selectors; an empty PDB selector means all pods in policy/v1, none in v1beta1', () => {
    const l = { app: 'web', tier: 'front' };
    expect(selects({ matchLabels: { app: 'web' } }, l, false)).toBe(true);
    expect(selects({ matchLabels: { app: 'db' } }, l, false)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, l, false)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l, false)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, l, false)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, l, false)).toBe(false);
    expect(selects({}, l, true)).toBe(true);
    expect(selects({}, l, false)).toBe(false);
    expect(selects(null, l, false)).toBe(false);
  });

  it('orders resourceVersions as the integers etcd issues', () => {
    expect(laterVersion('10', '9')).toBe(true);
    expect(laterVersion('9', '10')).toBe(false);
    expect(laterVersion('10', '10')).toBe(false);
    expect(laterVersion('abc', '10')).toBe(true);
  });

  it('encodes a move ref that decodes to the same parts, and rejects anything else', () => {
    const r = { namespace: 'shop', name: 'web-1', uid: 'u-1', node: 'n1', keyHash: '0123456789ab', t: 1_700_000_000_123, owner: { kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1' }, readyBefore: 3 };
    expect(decodeEvictRef(encodeEvictRef(r))).toEqual(r);
    expect(decodeEvictRef(encodeEvictRef({ ...r, owner: null }))).toEqual({ ...r, owner: null });
    for (const bad of ['k8s-evict:', 'nova-move:m:x', 'k8s-evict:a/b/c/d/zz/1/-/1', 'no-such-operation-0000']) expect(decodeEvictRef(bad)).toBeNull();
  });
});
