// What the Kubernetes driver guards beyond the shared contract, against the lane's real API server:
// kubectl drain's refusals, DaemonSet pods, control-plane nodes, cordons that are not ours, a PDB's
// refusal, and an engine that stopped in the middle of a move (a new driver finds it again).
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { CORDON_ANNOTATION, KubernetesDriver, encodeEvictRef, keyHash, type KubernetesDriverOptions } from '../../src/drivers/kubernetes/index.js';
import { DriverError, type OpStatus } from '../../src/ports/infra-driver.js';
import { FakeKubelet } from './fake-kubelet.js';
import { LANE, clients, createDaemonSet, createDeployment, createPdb, deploymentReady, dropNamespace, isReady, namespace, pdbStatus, pods, serviceAccountConfig, until, type Clients } from './cluster.js';

const NS = 'fenix-guards';
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe.skipIf(!LANE)('Kubernetes driver guards (real API server)', () => {
  const c = LANE ? clients() : (null as unknown as Clients);
  let kubelet: FakeKubelet;
  let sa: KubeConfig;
  const drivers: KubernetesDriver[] = [];
  const driver = (o: KubernetesDriverOptions = {}) => {
    const d = new KubernetesDriver(sa, o);
    drivers.push(d);
    return d;
  };
  const settle = async (d: KubernetesDriver, ref: string): Promise<OpStatus> => {
    for (let i = 0; i < 600; i++) {
      const st = await d.getOperation(ref);
      if (st.status !== 'running') return st;
      await delay(50);
    }
    throw new Error(`${ref} still running`);
  };
  const err = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as DriverError);
  const bare = async (name: string, spec: object = {}) => {
    const p = await c.core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name, labels: { bare: name } }, spec: { nodeName: 'g-1', containers: [{ name: 'c', image: 'registry.invalid/x:1' }], ...spec } },
    });
    await until(async () => (await pods(c, NS, `bare=${name}`)).some(isReady), `${name} Ready`);
    return p.metadata!.uid!;
  };

  beforeAll(async () => {
    kubelet = new FakeKubelet(c.kc, [
      { name: 'g-1', cpu: '4' },
      { name: 'g-2', cpu: '4' },
      { name: 'g-cp', cpu: '2', labels: { 'node-role.kubernetes.io/master': '' } },
    ]);
    await kubelet.start();
    await namespace(c, NS);
    sa = await serviceAccountConfig(c.kc);
  });

  afterAll(async () => {
    for (const d of drivers) await d.close();
    await dropNamespace(c, NS);
    await kubelet?.stop({ remove: true });
  });

  it('types control-plane nodes as controller; DaemonSet pods are not instances and lower capacity', async () => {
    const d = driver();
    await createDaemonSet(c, NS, 'agent', '500m');
    await until(async () => (await pods(c, NS, 'ds=agent')).filter(isReady).length === 3, 'an agent per node');
    const hosts = await until(async () => {
      const hs = await d.listHosts();
      return hs.find((h) => h.name === 'g-1')?.vcpus === 3.5 ? hs : undefined;
    }, 'g-1 at 4 - 0.5 vCPUs');
    expect(hosts.find((h) => h.name === 'g-cp')).toMatchObject({ type: 'controller', vcpus: 1.5, vcpusUsed: 0 });
    expect(hosts.find((h) => h.name === 'g-1')).toMatchObject({ type: 'compute', vcpusUsed: 0, enabled: true });
    const agents = await pods(c, NS, 'ds=agent');
    expect(await d.listInstances({ projectId: NS })).toEqual([]);
    const e = await err(d.startMove(agents[0]!.metadata!.uid!, 'EVICTION', 'guard-ds'));
    expect(e).toBeInstanceOf(DriverError);
    expect(e?.retryable).toBe(false);
    await c.apps.deleteNamespacedDaemonSet({ name: 'agent', namespace: NS });
  });

  it('refuses bare pods and emptyDir pods as kubectl drain does, names them, and evicts them when told', async () => {
    const strict = driver();
    const lone = await bare('lone');
    const scratch = await bare('scratch', { volumes: [{ name: 'cache', emptyDir: {} }] });
    await until(async () => (await strict.getInstance(scratch)) !== undefined, 'the pods seen');
    const e1 = await err(strict.startMove(lone, 'EVICTION', 'guard-lone'));
    expect([e1?.code, e1?.retryable]).toEqual(['UNMANAGED_POD', false]);
    expect(e1?.message).toContain(`${NS}/lone`);
    expect(e1?.message).toContain('--drain-force');
    const e2 = await err(strict.startMove(scratch, 'EVICTION', 'guard-scratch'));
    expect([e2?.code, e2?.retryable]).toEqual(['UNMANAGED_POD', false]); // bare first
    const forced = driver({ drain: { force: true } });
    const e3 = await err(forced.startMove(scratch, 'EVICTION', 'guard-scratch'));
    expect(e3?.code).toBe('LOCAL_STORAGE');
    expect(e3?.message).toContain('cache');
    const both = driver({ drain: { force: true, deleteEmptyDirData: true } });
    for (const uid of [lone, scratch]) expect(await settle(both, await both.startMove(uid, 'EVICTION', `guard-${uid}`))).toEqual({ status: 'done' });
    expect(await pods(c, NS, 'bare')).toEqual([]);
  });

  it('leaves a cordon that is not its own: found cordoned stays cordoned, an operator uncordon is not redone', async () => {
    const d = driver();
    const node = async () => (await c.core.readNode({ name: 'g-2' })).spec?.unschedulable === true;
    await c.core.patchNode({ name: 'g-2', body: { spec: { unschedulable: true } } }, MERGE);
    await d.setHostScheduling('g-2', false, 'maintenance');
    await d.setHostScheduling('g-2', true, 'maintenance');
    expect(await node()).toBe(true);
    await c.core.patchNode({ name: 'g-2', body: { spec: { unschedulable: false } } }, MERGE);
    await d.setHostScheduling('g-2', false, 'maintenance');
    expect((await c.core.readNode({ name: 'g-2' })).metadata?.annotations?.[CORDON_ANNOTATION]).toMatch(/^maintenance, /);
    await c.core.patchNode({ name: 'g-2', body: { spec: { unschedulable: false } } }, MERGE); // an operator's uncordon
    await d.setHostScheduling('g-2', true, 'maintenance');
    const after = await c.core.readNode({ name: 'g-2' });
    expect([after.spec?.unschedulable === true, after.metadata?.annotations?.[CORDON_ANNOTATION]]).toEqual([false, undefined]);
    expect(await err(d.setHostScheduling('no-such-node', false, 'x'))).toMatchObject({ code: 'NOT_FOUND', retryable: false });
  });

  it('a PDB refusal is retryable PDB_BLOCKED naming the budget, not asked again before its backoff', async () => {
    const d = driver();
    await createDeployment(c, NS, 'pair', 2);
    await createPdb(c, NS, 'pair-pdb', { minAvailable: 2, matchLabels: { app: 'pair' } });
    const [p] = await deploymentReady(c, NS, 'pair', 2);
    await until(async () => (await pdbStatus(c, NS, 'pair-pdb')).currentHealthy === 2, 'pair-pdb observed');
    await until(async () => (await d.getInstance(p!.metadata!.uid!)) !== undefined, 'pod seen');
    const e = await err(d.startMove(p!.metadata!.uid!, 'EVICTION', 'guard-pdb'));
    expect(e).toMatchObject({ code: 'PDB_BLOCKED', retryable: true });
    expect(e?.message).toBe(`eviction of pod ${NS}/${p!.metadata!.name} refused by PDB pair-pdb: minAvailable 2, currently healthy 2, disruptions allowed 0`);
    expect(await err(d.startMove(p!.metadata!.uid!, 'EVICTION', 'guard-pdb'))).toBe(e); // within the backoff: the same answer, no request
    expect((await pods(c, NS, 'app=pair')).filter(isReady)).toHaveLength(2);
  });

  it('finds a move again after a restart: by its Event when the pod is gone, and sends once an eviction whose ref was kept but never sent', async () => {
    await createDeployment(c, NS, 'trio', 3);
    const trio = await deploymentReady(c, NS, 'trio', 3);
    const a = driver();
    await until(async () => (await a.getInstance(trio[0]!.metadata!.uid!)) !== undefined, 'pods seen');
    // Moved by one engine, which stops before writing the ref down...
    const first = trio[0]!.metadata!.uid!;
    const ref = await a.startMove(first, 'EVICTION', 'session-1:move:a0:x');
    expect(await settle(a, ref)).toMatchObject({ status: 'done' });
    // ...the next engine asks again with the same key: the same move, nothing evicted again.
    const b = driver();
    expect(await b.startMove(first, 'EVICTION', 'session-1:move:a0:x')).toBe(ref);
    expect((await settle(b, ref)).status).toBe('done');
    expect(await err(b.startMove(first, 'EVICTION', 'another key'))).toMatchObject({ code: 'NOT_FOUND' });
    // A ref kept whose eviction never reached the API server: the next look sends it, once.
    const second = trio[1]!;
    const key = 'session-1:move:a0:y';
    const pending = encodeEvictRef({
      namespace: NS,
      name: second.metadata!.name!,
      uid: second.metadata!.uid!,
      node: second.spec!.nodeName!,
      keyHash: keyHash(key),
      t: Date.now(),
      owner: { kind: 'ReplicaSet', name: second.metadata!.ownerReferences![0]!.name, uid: second.metadata!.ownerReferences![0]!.uid },
      readyBefore: 3,
    });
    const c2 = driver();
    await until(async () => (await c2.getInstance(second.metadata!.uid!)) !== undefined, 'pod seen');
    expect((await c2.getOperation(pending)).status).toBe('running');
    expect((await settle(c2, pending)).status).toBe('done');
    expect((await pods(c, NS, 'app=trio')).some((p) => p.metadata!.uid === second.metadata!.uid)).toBe(false);
    await deploymentReady(c, NS, 'trio', 3);
    const evictions = (await c.core.listEventForAllNamespaces({ fieldSelector: 'reason=FenixEviction' })).items.filter((x) => x.involvedObject.namespace === NS);
    expect(evictions.filter((x) => x.involvedObject.uid === first)).toHaveLength(1);
  });
});
