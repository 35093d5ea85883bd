// The driver contract against a real kube-apiserver (the Kubernetes lane: FENIX_KUBERNETES_LANE=1 and
// KUBECONFIG, see .ci/infra/k8s-lane.sh). Skipped otherwise.
//
// An instance here is the one pod of a ReplicaSet, so that an eviction has a replacement (its
// successor), placed by the real kube-scheduler. To put the first pod on a given node, the other
// nodes are cordoned (by the test, as an operator would) while it is scheduled. The driver reads a
// watch-fed cache, so each step waits until the driver has seen what the test did (a fact, not time).
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { KubernetesDriver } from '../../src/drivers/kubernetes/index.js';
import type { OpStatus } from '../../src/ports/infra-driver.js';
import { FakeKubelet } from '../kubernetes/fake-kubelet.js';
import { LANE, clients, dropNamespace, isReady, namespace, serviceAccountConfig, until, type Clients } from '../kubernetes/cluster.js';
import { describeDriverContract } from './driver.contract.js';

const NS = 'fenix-contract';
const HOSTS = ['ct-1', 'ct-2', 'ct-3', 'ct-4'];
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Lane {
  c: Clients;
  kubelet: FakeKubelet;
  driver: KubernetesDriver;
}

let lane: Promise<Lane> | null = null;
const open = (): Promise<Lane> =>
  (lane ??= (async () => {
    const c = clients();
    const kubelet = new FakeKubelet(c.kc, [
      ...HOSTS.map((name) => ({ name, cpu: '8' })),
      { name: 'ct-cp', cpu: '4', labels: { 'node-role.kubernetes.io/control-plane': '' }, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
    ]);
    await kubelet.start();
    await namespace(c, NS);
    return { c, kubelet, driver: new KubernetesDriver(await serviceAccountConfig(c.kc)) };
  })());

if (!LANE) {
  describe.skip('InfraDriver contract: kubernetes (needs FENIX_KUBERNETES_LANE=1 and KUBECONFIG)', () => {
    it('runs in the Kubernetes lane', () => undefined);
  });
} else {
  afterAll(async () => {
    if (!lane) return;
    const { c, kubelet, driver } = await lane;
    await driver.close();
    await dropNamespace(c, NS);
    await kubelet.stop({ remove: true });
  });

  let n = 0;
  /** Pod uid → its ReplicaSet. */
  const owners = new Map<string, string>();

  describeDriverContract('kubernetes', async () => {
    const { c, driver } = await open();
    const unschedulable = async (node: string) => (await c.core.readNode({ name: node })).spec?.unschedulable === true;
    const setCordon = (node: string, on: boolean) => c.core.patchNode({ name: node, body: { spec: { unschedulable: on } } }, MERGE);
    const seen = (pred: () => Promise<boolean>, what: string) => until(async () => (await pred()) || undefined, what);

    const placeOnce = async (host: string, vcpus: number): Promise<{ uid: string; rs: string } | null> => {
      const others: string[] = [];
      for (const h of HOSTS) if (h !== host && !(await unschedulable(h))) others.push(h);
      for (const h of others) await setCordon(h, true);
      const rs = `ct-${process.pid}-${n++}`;
      try {
        await seen(async () => (await driver.listHosts()).every((x) => !others.includes(x.name) || !x.enabled), 'the cordons seen by the driver');
        await c.apps.createNamespacedReplicaSet({
          namespace: NS,
          body: {
            metadata: { name: rs },
            spec: {
              replicas: 1,
              selector: { matchLabels: { rs } },
              template: { metadata: { labels: { rs } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', resources: { requests: { cpu: String(vcpus) } } }] } },
            },
          },
        });
        const pod = await until(async () => {
          const ps = (await c.core.listNamespacedPod({ namespace: NS, labelSelector: `rs=${rs}` })).items;
          return ps.find((p) => p.spec?.nodeName && isReady(p));
        }, `the pod of ${rs} scheduled and Ready`);
        if (pod.spec!.nodeName === host) return { uid: pod.metadata!.uid!, rs };
        await c.apps.deleteNamespacedReplicaSet({ name: rs, namespace: NS });
        await c.core.deleteCollectionNamespacedPod({ namespace: NS, labelSelector: `rs=${rs}`, gracePeriodSeconds: 0 });
        return null; // the scheduler had not seen a cordon yet: again
      } finally {
        for (const h of others) await setCordon(h, false);
        await seen(async () => (await driver.listHosts()).every((x) => !others.includes(x.name) || x.enabled), 'the uncordons seen by the driver');
      }
    };

    const settle = async (ref: string): Promise<OpStatus> => {
      const end = Date.now() + 60_000;
      for (;;) {
        const st = await driver.getOperation(ref);
        if (st.status !== 'running') return st;
        if (Date.now() > end) throw new Error(`operation ${ref} still running after 60 s`);
        await delay(50);
      }
    };

    return {
      driver,
      settle,
      hosts: HOSTS,
      moveKind: 'EVICTION',
      placeInstance: async (host, vcpus) => {
        for (let attempt = 0; attempt < 5; attempt++) {
          const got = await placeOnce(host, vcpus);
          if (!got) continue;
          owners.set(got.uid, got.rs);
          await seen(async () => (await driver.getInstance(got.uid))?.host === host, `pod ${got.uid} seen by the driver`);
          return got.uid;
        }
        throw new Error(`could not place a pod on ${host}`);
      },
      successor: async (id) => {
        const rs = owners.get(id);
        if (!rs) return undefined;
        const next = await until(async () => {
          const ps = (await c.core.listNamespacedPod({ namespace: NS, labelSelector: `rs=${rs}` })).items;
          return ps.find((p) => p.metadata!.uid !== id && isReady(p)) ?? (ps.some((p) => p.metadata!.uid === id) ? undefined : null);
        }, `the successor of ${id}`).catch(() => undefined);
        const uid = next?.metadata?.uid;
        if (!uid) return undefined;
        owners.set(uid, rs);
        await seen(async () => (await driver.getInstance(uid)) !== undefined, `successor ${uid} seen by the driver`);
        return uid;
      },
      deleteInstance: async (id) => {
        const rs = owners.get(id);
        // The ReplicaSet first (its pods orphaned), or it would replace the pod at once.
        if (rs) await c.apps.deleteNamespacedReplicaSet({ name: rs, namespace: NS, propagationPolicy: 'Orphan' });
        const pod = (await c.core.listNamespacedPod({ namespace: NS })).items.find((p) => p.metadata?.uid === id);
        if (pod) await c.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: NS, gracePeriodSeconds: 0 });
        await seen(async () => (await driver.getInstance(id)) === undefined, `pod ${id} gone for the driver`);
      },
      cleanup: async () => {
        await c.apps.deleteCollectionNamespacedReplicaSet({ namespace: NS, propagationPolicy: 'Orphan' });
        await c.core.deleteCollectionNamespacedPod({ namespace: NS, gracePeriodSeconds: 0 });
        await seen(async () => (await driver.listInstances({ projectId: NS })).length === 0, 'no pod left in the contract namespace');
        owners.clear();
      },
    };
  });
}
