// k8s sessions over a real control plane (the Kubernetes lane): the engine with --driver kubernetes,
// running as the service account of docs/kubernetes.md, the fake kubelet playing the nodes.
//
// 1. Every node of a cluster of three workers, Deployments of 3 replicas under PDBs minAvailable 2 in
//    two namespaces (projects), each with the sample application manager answering per pod, and a
//    DaemonSet: MAINTENANCE_DONE; a watcher that counts Ready replicas at every pod event sees no PDB
//    violated; every node was empty of pods (DaemonSet pods aside) when its maintenance began; every
//    node ends uncordoned but the one cordoned before the session; no DaemonSet pod was touched and
//    no pod was evicted twice.
// 2. A PDB that allows no disruption blocks a session: /detail names it and its numbers; relaxed,
//    the session goes on to MAINTENANCE_DONE.
// 3. OWN_ACTION: the application removes its pods itself, a few seconds after it said so; the
//    session notices within a few looks (not at --own-action-timeout) and evicts nothing.
// 4. A group with max_impacted_members 1 and recovery_time 1 s, whose pods take 1.5 s to be Ready:
//    the next member is evicted only recovery_time after the previous one's replacement is Ready.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchStrategy, Watch, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';
import { CORDON_ANNOTATION, KubernetesDriver, loadKubeConfig } from '../../src/drivers/kubernetes/index.js';
import type { Service } from '../../src/main/service.js';
import type { InfraDriver } from '../../src/ports/infra-driver.js';
import { api, startReceiver, startTestService, waitForSession } from '../helpers/harness.js';
import { wholeDetail } from '../helpers/detail.js';
import { FakeKubelet, READY_DELAY } from './fake-kubelet.js';
import {
  LANE,
  clients,
  createDaemonSet,
  createDeployment,
  createPdb,
  deploymentReady,
  dropNamespace,
  isReady,
  namespace,
  patchPdb,
  pdbStatus,
  pods,
  serviceAccountConfig,
  until,
  type Clients,
} from './cluster.js';

const NODES = ['w-1', 'w-2', 'w-3'];
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Deployments by namespace (project): 3 replicas each, PDB minAvailable 2. */
const APPS: Record<string, string[]> = { shop: ['web', 'api'], blog: ['front'] };
const INFRA = 'node-agents';

/** Ready replicas of every app at every pod event, and what happened to DaemonSet pods. */
class Watcher {
  readonly minReady = new Map<string, number>();
  readonly dsTouched: string[] = [];
  events = 0;
  private readonly pods = new Map<string, V1Pod>();
  private abort: AbortController | null = null;

  constructor(private readonly c: Clients) {}

  async start(): Promise<void> {
    const list = await this.c.core.listPodForAllNamespaces();
    for (const p of list.items) this.pods.set(p.metadata!.uid!, p);
    this.count();
    this.abort = await new Watch(this.c.kc).watch(
      '/api/v1/pods',
      { resourceVersion: list.metadata!.resourceVersion! },
      (type, p: V1Pod) => {
        const uid = p.metadata!.uid!;
        const ds = p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet');
        if (ds && (type === 'DELETED' || p.metadata?.deletionTimestamp)) this.dsTouched.push(`${type} ${p.metadata!.name}`);
        if (type === 'DELETED') this.pods.delete(uid);
        else this.pods.set(uid, p);
        this.events++;
        this.count();
      },
      () => undefined,
    );
  }

  private count(): void {
    const ready = new Map<string, number>();
    for (const p of this.pods.values()) {
      const app = p.metadata?.labels?.app;
      if (!app || !(p.metadata!.namespace! in APPS)) continue;
      const k = `${p.metadata!.namespace}/${app}`;
      ready.set(k, (ready.get(k) ?? 0) + (isReady(p) ? 1 : 0));
    }
    for (const [k, n] of ready) this.minReady.set(k, Math.min(this.minReady.get(k) ?? n, n));
  }

  stop(): void {
    this.abort?.abort();
  }
}

describe.skipIf(!LANE)('k8s sessions over a real kube-apiserver', () => {
  const c = LANE ? clients() : (null as unknown as Clients);
  let kubelet: FakeKubelet;
  let kubeconfig: string;
  const vnfms: SampleVnfm[] = [];
  const services: Service[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    kubelet = new FakeKubelet(c.kc, NODES.map((name) => ({ name, cpu: '4' })));
    await kubelet.start();
    // The driver runs as the docs' service account, read from a kubeconfig file like an operator's.
    const dir = mkdtempSync(join(tmpdir(), 'fenix-k8s-'));
    kubeconfig = join(dir, 'fenix.kubeconfig');
    writeFileSync(kubeconfig, (await serviceAccountConfig(c.kc)).exportConfig());
    for (const ns of [...Object.keys(APPS), INFRA]) await namespace(c, ns);
  });

  afterAll(async () => {
    for (const v of vnfms) await v.close();
    for (const s of services) await s.stop();
    await Promise.all([...Object.keys(APPS), INFRA, 'vault', 'own', 'grp'].map((ns) => dropNamespace(c, ns)));
    await kubelet?.stop({ remove: true });
  });

  it('maintains every node while the applications keep their PDBs: MAINTENANCE_DONE, nodes back as found', async () => {
    const t0 = Date.now();
    await createDaemonSet(c, INFRA, 'agent');
    for (const [ns, apps] of Object.entries(APPS))
      for (const app of apps) {
        await createDeployment(c, ns, app, 3);
        await createPdb(c, ns, `${app}-pdb`, { minAvailable: 2, matchLabels: { app } });
      }
    for (const [ns, apps] of Object.entries(APPS)) for (const app of apps) await deploymentReady(c, ns, app, 3);
    const agents = await until(async () => {
      const ps = await pods(c, INFRA);
      return ps.length === NODES.length && ps.every(isReady) ? ps : undefined;
    }, 'one Ready agent per node');
    for (const [ns, apps] of Object.entries(APPS))
      for (const app of apps) await until(async () => (await pdbStatus(c, ns, `${app}-pdb`)).disruptionsAllowed === 1, `${ns}/${app}-pdb allowing 1`);
    // An operator's cordon, on the node with the most pods: it is drained, and stays cordoned.
    const all = (await c.core.listPodForAllNamespaces()).items.filter((p) => p.metadata!.namespace! in APPS);
    const count = (n: string) => all.filter((p) => p.spec?.nodeName === n).length;
    const cordoned = [...NODES].sort((a, b) => count(b) - count(a))[0]!;
    await c.core.patchNode({ name: cordoned, body: { spec: { unschedulable: true } } }, MERGE);
    lines.push(`[k8s] cluster ready in ${Date.now() - t0} ms: ${NODES.map((n) => `${n}=${count(n)}`).join(' ')} pods; ${cordoned} cordoned beforehand`);

    // The engine's driver, built as `fenix serve --driver kubernetes --kubeconfig` does, with a look
    // at each node (from the API server itself) when its maintenance starts.
    const atMaintenance = new Map<string, string[]>();
    const core = c.core;
    const inner = new KubernetesDriver(loadKubeConfig(kubeconfig).kc);
    const driver: InfraDriver = {
      name: inner.name,
      listHosts: () => inner.listHosts(),
      listInstances: (f) => inner.listInstances(f),
      watch: (cursor) => inner.watch(cursor),
      getInstance: (id) => inner.getInstance(id),
      setHostScheduling: (h, on, why) => inner.setHostScheduling(h, on, why),
      startMove: (id, kind, key, opts) => inner.startMove(id, kind, key, opts),
      getOperation: (ref) => inner.getOperation(ref),
      close: () => inner.close(),
      async startHostMaintenance(host, key) {
        const on = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${host}` })).items;
        const apps = on.filter((p) => !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet') && p.status?.phase !== 'Succeeded');
        atMaintenance.set(host, apps.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`));
        return inner.startHostMaintenance(host, key);
      },
    };
    const svc = await startTestService({ config: { driver: 'kubernetes', kubeconfig }, driver });
    services.push(svc);
    for (const projectId of Object.keys(APPS)) vnfms.push(await startSampleVnfm({ projectId, api: svc.url, retryDelayMs: 200, log: (l) => lines.push(l) }));

    const watcher = new Watcher(c);
    await watcher.start();
    const start = Date.now();
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [], workflow: 'k8s', metadata: { kubernetes_version: 'v1.20.2' } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    const end = await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 240_000);
    const took = Date.now() - start;
    watcher.stop();
    const detail = await wholeDetail(svc.url, sid);
    const timeline = (detail.timeline as { at: string; message: string }[]).map((t) => `${t.at.slice(11, 23)} ${t.message}`);
    if (end.state !== 'MAINTENANCE_DONE' || process.env.FENIX_LANE_VERBOSE === '1') console.log(timeline.join('\n'), '\n', lines.join('\n'));
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');

    // No PDB was violated at any moment: at least 2 of 3 Ready at every pod event.
    for (const [ns, apps] of Object.entries(APPS)) for (const app of apps) expect(watcher.minReady.get(`${ns}/${app}`), `${ns}/${app}`).toBeGreaterThanOrEqual(2);
    // Every node empty of application pods when its maintenance began.
    for (const n of NODES) expect(atMaintenance.get(n), `pods on ${n} at its maintenance`).toEqual([]);
    // Nodes back as found: the operator's cordon kept, ours all undone.
    for (const n of NODES) {
      const node = await c.core.readNode({ name: n });
      expect(node.spec?.unschedulable === true, `${n} cordoned`).toBe(n === cordoned);
      expect(node.metadata?.annotations?.[CORDON_ANNOTATION], `${n} annotation`).toBeUndefined();
    }
    // DaemonSet pods never evicted (the same pods, untouched), no pod evicted twice.
    expect(watcher.dsTouched).toEqual([]);
    expect((await pods(c, INFRA)).map((p) => p.metadata!.uid).sort()).toEqual(agents.map((p) => p.metadata!.uid).sort());
    const evictions = (await c.core.listEventForAllNamespaces({ fieldSelector: 'reason=FenixEviction' })).items;
    const perPod = new Map<string, number>();
    for (const e of evictions) perPod.set(e.involvedObject.uid!, (perPod.get(e.involvedObject.uid!) ?? 0) + 1);
    expect([...perPod.values()].filter((n) => n > 1)).toEqual([]);
    expect(evictions.some((e) => e.involvedObject.namespace === INFRA)).toBe(false);
    // The applications are whole again, and their managers were asked per pod and answered.
    for (const [ns, apps] of Object.entries(APPS)) for (const app of apps) await deploymentReady(c, ns, app, 3);
    for (const v of vnfms) {
      await v.idle();
      expect(v.replies.every((r) => r.ok)).toBe(true);
      const asks = v.received.filter((e) => e.state === 'PREPARE_MAINTENANCE' || e.state === 'PLANNED_MAINTENANCE');
      expect(asks.length).toBeGreaterThan(0);
      for (const a of asks) expect(Array.isArray(a.instanceIds) && a.instanceIds.length === 1 && a.allowedActions.includes('EVICTION')).toBe(true);
      expect(v.replies.filter((r) => r.state.startsWith('ACK_P')).every((r) => Object.values(r.body.instance_actions as object).every((x) => x === 'EVICTION'))).toBe(true);
    }
    const moves = (detail.instances as { moves: number }[]).filter((i) => i.moves > 0).length;
    console.log(
      `${lines[0]}\n[k8s] session ${sid}: ${end.state} in ${(took / 1000).toFixed(1)} s over ${NODES.length} nodes; ${evictions.length} evictions, ` +
        `${moves} pods moved; min Ready per app ${JSON.stringify(Object.fromEntries(watcher.minReady))} over ${watcher.events} pod events`,
    );
    await c.core.patchNode({ name: cordoned, body: { spec: { unschedulable: false } } }, MERGE);
  });

  it('waits on a PDB that allows no disruption, names it in /detail, and goes on once it is relaxed', async () => {
    const ns = 'vault';
    await namespace(c, ns);
    await createDeployment(c, ns, 'db', 2);
    await createPdb(c, ns, 'db-pdb', { minAvailable: 2, matchLabels: { app: 'db' } });
    const db = await deploymentReady(c, ns, 'db', 2);
    await until(async () => (await pdbStatus(c, ns, 'db-pdb')).currentHealthy === 2, 'db-pdb observed');
    const node = db[0]!.spec!.nodeName!;
    // This time the service builds its own driver from the flags (no wrapper).
    const svc = await startTestService({ config: { driver: 'kubernetes', kubeconfig } });
    services.push(svc);
    expect(svc.infra.name).toBe('kubernetes');
    const start = Date.now();
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [node], workflow: 'k8s', metadata: {} });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    const want = 'PDB db-pdb: minAvailable 2, currently healthy 2, disruptions allowed 0';
    const blocked = await until(async () => {
      const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
      const what = String(d.body.waiting_for?.what ?? '');
      return what.includes(want) ? what : undefined;
    }, `/detail naming ${want}`, 60_000);
    const blockedAfter = Date.now() - start;
    expect(blocked).toContain(`eviction of pod ${ns}/`);
    // Still blocked a while later: nothing of the vault was evicted, the session is not failed.
    expect((await api(svc.url, 'GET', `/v1/maintenance/${sid}`)).body.state).not.toBe('MAINTENANCE_FAILED');
    expect((await pods(c, ns, 'app=db')).filter(isReady)).toHaveLength(2);

    await patchPdb(c, ns, 'db-pdb', { minAvailable: 1 });
    const relaxed = Date.now();
    const end = await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 120_000);
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');
    const n = await c.core.readNode({ name: node });
    expect(n.spec?.unschedulable).not.toBe(true);
    expect((await pods(c, ns, 'app=db')).filter((p) => p.spec?.nodeName === node)).toEqual([]);
    console.log(
      `[k8s] blocked session ${sid}: /detail named the PDB ${(blockedAfter / 1000).toFixed(1)} s after creation ("${blocked}"); ` +
        `MAINTENANCE_DONE ${((Date.now() - relaxed) / 1000).toFixed(1)} s after the PDB was relaxed`,
    );
  });
  it('OWN_ACTION: the application takes its pods off the node itself, and the session sees them go', async () => {
    const ns = 'own';
    await namespace(c, ns);
    await createDeployment(c, ns, 'self', 2);
    const mine = await deploymentReady(c, ns, 'self', 2);
    const node = mine[0]!.spec!.nodeName!;
    const svc = await startTestService({ config: { driver: 'kubernetes', kubeconfig, ownActionTimeout: 120 } });
    services.push(svc);
    // The application manager: OWN_ACTION for each of its pods, then, 3 s later, it deletes the pod itself.
    const hook = await startReceiver();
    await api(svc.url, 'POST', '/v1/subscriptions', { project_id: ns, url: hook.url, event_types: ['maintenance.scheduled'], format: 'json' });
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [node], workflow: 'k8s', metadata: {} });
    const sid = created.body.session_id as string;
    let seen = 0;
    const removedAt: number[] = [];
    const later: { uid: string; at: number }[] = [];
    const end = await until(async () => {
      for (; seen < hook.received.length; seen++) {
        const p = hook.received[seen]!.body.payload as { state: string; instance_ids: unknown; reply_url: string };
        if (p.state === 'MAINTENANCE' || p.state === 'MAINTENANCE_COMPLETE') await api(p.reply_url, 'PUT', '', { state: `ACK_${p.state}` });
        if ((p.state === 'PREPARE_MAINTENANCE' || p.state === 'PLANNED_MAINTENANCE') && Array.isArray(p.instance_ids)) {
          await api(p.reply_url, 'PUT', '', { state: `ACK_${p.state}`, instance_action: 'OWN_ACTION' });
          for (const uid of p.instance_ids as string[]) later.push({ uid, at: Date.now() + 3000 });
        }
      }
      for (const due of later.filter((l) => l.at <= Date.now())) {
        later.splice(later.indexOf(due), 1);
        const pod = (await pods(c, ns)).find((x) => x.metadata!.uid === due.uid);
        if (pod) await c.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns });
        removedAt.push(Date.now());
      }
      const st = (await api(svc.url, 'GET', `/v1/maintenance/${sid}`)).body;
      return st.state === 'MAINTENANCE_DONE' || st.state === 'MAINTENANCE_FAILED' ? st : undefined;
    }, 'the OWN_ACTION session to end', 180_000);
    await hook.close();
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');
    expect(removedAt.length).toBeGreaterThan(0);
    // Seen within a few looks, not at the 120 s deadline.
    expect(Date.now() - Math.max(...removedAt)).toBeLessThan(15_000);
    const evictions = (await c.core.listEventForAllNamespaces({ fieldSelector: 'reason=FenixEviction' })).items.filter((e) => e.involvedObject.namespace === ns);
    expect(evictions).toEqual([]); // the application moved them, not the engine
    console.log(`[k8s] OWN_ACTION session ${sid}: MAINTENANCE_DONE ${((Date.now() - Math.max(...removedAt)) / 1000).toFixed(1)} s after the application removed its last pod`);
  });
  it("counts a group's recovery_time from its evicted member's replacement being Ready", async () => {
    const ns = 'grp';
    await namespace(c, ns);
    await createDeployment(c, ns, 'ha', 3, '100m', { [READY_DELAY]: '1500' });
    const members = await deploymentReady(c, ns, 'ha', 3);
    const svc = await startTestService({ config: { driver: 'kubernetes', kubeconfig } });
    services.push(svc);
    const group = 'ha-group';
    await api(svc.url, 'PUT', `/v1/instance_group/${group}`, {
      group_id: group, project_id: ns, group_name: 'ha', anti_affinity_group: false, max_instances_per_host: 0, max_impacted_members: 1, recovery_time: 1, resource_mitigation: false,
    });
    for (const p of members)
      await api(svc.url, 'PUT', `/v1/instance/${p.metadata!.uid}`, {
        instance_id: p.metadata!.uid, project_id: ns, group_id: group, instance_name: p.metadata!.name, max_interruption_time: 120, migration_type: 'EVICTION', resource_mitigation: false, lead_time: 0,
      });
    // When each member left (deletion began) and when the workload was whole (3 Ready) again.
    const original = new Set(members.map((p) => p.metadata!.uid!));
    const left: number[] = [];
    const whole: number[] = [];
    const state = new Map<string, V1Pod>(members.map((p) => [p.metadata!.uid!, p]));
    const list = await c.core.listNamespacedPod({ namespace: ns });
    const ac = await new Watch(c.kc).watch(`/api/v1/namespaces/${ns}/pods`, { resourceVersion: list.metadata!.resourceVersion! }, (type, p: V1Pod) => {
      const uid = p.metadata!.uid!;
      if (original.has(uid) && (type === 'DELETED' || p.metadata?.deletionTimestamp) && !state.get(uid)?.metadata?.deletionTimestamp) left.push(Date.now());
      if (type === 'DELETED') state.delete(uid);
      else state.set(uid, p);
      const ready = [...state.values()].filter(isReady).length;
      if (ready === 3 && left.length > whole.length) whole.push(Date.now());
    }, () => undefined);
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: NODES, workflow: 'k8s', metadata: {} });
    const sid = created.body.session_id as string;
    const end = await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 180_000);
    ac.abort();
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');
    expect(left).toHaveLength(3);
    // One member at a time, each only after the previous replacement was Ready plus recovery_time.
    for (let i = 1; i < left.length; i++) expect(left[i]! - whole[i - 1]!, `member ${i + 1} left ${left[i]! - whole[i - 1]!} ms after the workload was whole`).toBeGreaterThanOrEqual(900);
    console.log(`[k8s] group session ${sid}: members left at +${left.map((t) => ((t - left[0]!) / 1000).toFixed(1)).join(', +')} s; whole again at +${whole.map((t) => ((t - left[0]!) / 1000).toFixed(1)).join(', +')} s`);
  });
});
