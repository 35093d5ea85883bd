// The kubelets the lane's control plane has not: registers Ready nodes with capacity, marks the pods
// bound to them Running and Ready, and finishes the deletion of their terminating pods (what a
// kubelet does once the containers stopped). Event-driven: a list, then a watch of every pod.
import { CoreV1Api, PatchStrategy, Watch, setHeaderOptions, type KubeConfig, type V1Pod, type V1Taint } from '@kubernetes/client-node';

export interface FakeNode {
  name: string;
  /** Allocatable CPU, e.g. '8'. */
  cpu: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
}

/** Pod annotation: the fake kubelet marks the pod Ready only this many ms after its creation. */
export const READY_DELAY = 'fake-kubelet/ready-delay-ms';

const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const status = (e: unknown): number => (e as { code?: number }).code ?? 0;

export class FakeKubelet {
  private readonly core: CoreV1Api;
  private readonly names: Set<string>;
  private abort: AbortController | null = null;
  private stopped = false;
  private readonly busy = new Set<string>();
  /** The newest version of a pod that changed while it was being handled: handled next. */
  private readonly again = new Map<string, V1Pod>();
  private loop: Promise<void> | null = null;
  /** Pods marked Ready, deletions finished: for the tests' own accounting. */
  readonly counts = { ready: 0, deleted: 0 };

  constructor(
    private readonly kc: KubeConfig,
    readonly nodes: FakeNode[],
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.names = new Set(nodes.map((n) => n.name));
  }

  async start(): Promise<void> {
    for (const n of this.nodes) await this.register(n);
    await new Promise<void>((resolve) => {
      this.loop = this.run(resolve);
    });
  }

  private async register(n: FakeNode): Promise<void> {
    const labels = { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', ...n.labels };
    try {
      await this.core.createNode({ body: { metadata: { name: n.name, labels }, spec: { ...(n.taints && { taints: n.taints }) } } });
    } catch (e) {
      if (status(e) !== 409) throw e;
    }
    const now = new Date();
    const cap = { cpu: n.cpu, memory: '32Gi', pods: '110' };
    await this.core.patchNodeStatus(
      {
        name: n.name,
        body: {
          status: {
            capacity: cap,
            allocatable: cap,
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'fake kubelet', lastHeartbeatTime: now, lastTransitionTime: now }],
          },
        },
      },
      STRATEGIC,
    );
  }

  /** List every pod, then follow the watch; again after the watch ends. `ready` once the first list is handled. */
  private async run(ready: () => void): Promise<void> {
    const watch = new Watch(this.kc);
    let first = true;
    while (!this.stopped) {
      try {
        const list = await this.core.listPodForAllNamespaces();
        await Promise.all(list.items.map((p) => this.handle(p)));
        if (first) ready();
        first = false;
        await new Promise<void>((resolve) => {
          void watch
            .watch(
              '/api/v1/pods',
              { resourceVersion: list.metadata?.resourceVersion, timeoutSeconds: 120 },
              (type, obj: V1Pod) => {
                if (type === 'ADDED' || type === 'MODIFIED') void this.handle(obj);
              },
              () => resolve(),
            )
            .then((ac) => {
              this.abort = ac;
              if (this.stopped) ac.abort();
            });
        });
      } catch {
        if (!this.stopped) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async handle(p: V1Pod): Promise<void> {
    const node = p.spec?.nodeName;
    const uid = p.metadata?.uid;
    if (!node || !uid || !this.names.has(node)) return;
    if (this.busy.has(uid)) {
      this.again.set(uid, p);
      return;
    }
    const name = p.metadata!.name!;
    const namespace = p.metadata!.namespace!;
    this.busy.add(uid);
    try {
      if (p.metadata?.deletionTimestamp) {
        // The containers have stopped: remove the pod for good (this uid only). With a body the API
        // server reads the options from it alone, the query's gracePeriodSeconds included.
        await this.core.deleteNamespacedPod({ name, namespace, body: { gracePeriodSeconds: 0, preconditions: { uid } } });
        this.counts.deleted++;
      } else if (p.status?.phase !== 'Running' || !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
        // A slow application: Ready only this long after its pod was created.
        const wait = Number(p.metadata?.annotations?.[READY_DELAY] ?? 0) - (Date.now() - new Date(p.metadata!.creationTimestamp ?? Date.now()).getTime());
        if (wait > 0) {
          setTimeout(() => void (this.stopped ? undefined : this.handle(p)), wait);
          return;
        }
        const now = new Date();
        const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
        await this.core.patchNamespacedPodStatus(
          {
            name,
            namespace,
            body: {
              status: {
                phase: 'Running',
                startTime: now,
                conditions: [cond('Initialized'), cond('Ready'), cond('ContainersReady')],
                containerStatuses: (p.spec?.containers ?? []).map((c) => ({
                  name: c.name,
                  image: c.image ?? '',
                  imageID: '',
                  ready: true,
                  restartCount: 0,
                  started: true,
                  state: { running: { startedAt: now } },
                })),
              },
            },
          },
          STRATEGIC,
        );
        this.counts.ready++;
      }
    } catch {
      // Raced with a controller or a deletion: the next event brings the pod again.
    } finally {
      this.busy.delete(uid);
      const next = this.again.get(uid);
      this.again.delete(uid);
      if (next && !this.stopped) void this.handle(next);
    }
  }

  /** Stop, and with `remove` delete the nodes (their pods are the namespaces' to delete). */
  async stop(opts: { remove?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop?.catch(() => undefined);
    if (opts.remove) for (const n of this.nodes) await this.core.deleteNode({ name: n.name }).catch(() => undefined);
  }
}
