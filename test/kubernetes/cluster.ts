// Helpers of the Kubernetes lane (.ci/infra/k8s-lane.sh: a real kube-apiserver, controller-manager
// and scheduler, no kubelets). The lane runs when FENIX_KUBERNETES_LANE=1 and KUBECONFIG names the
// cluster's admin; otherwise its suites skip themselves.
//
// The driver under test does not run as the admin: it runs as a service account bound to the
// ClusterRole printed in docs/kubernetes.md (read from the page itself), so the RBAC the docs ask
// operators to grant is the RBAC the tests prove sufficient.
import { waitFor } from '../helpers/harness.js';
import { readFileSync } from 'node:fs';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PolicyApi,
  RbacAuthorizationV1Api,
  loadAllYaml,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Pod,
} from '@kubernetes/client-node';

export const LANE = process.env.FENIX_KUBERNETES_LANE === '1' && !!process.env.KUBECONFIG;

export function adminConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
}

export function clients(kc = adminConfig()): Clients {
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

export const code = (e: unknown): number => (e as { code?: number }).code ?? 0;

/** Until `fn` answers something truthy (a fact): the harness's waitFor. */
export const until = waitFor;

/** The ClusterRole (+ binding) of docs/kubernetes.md: the yaml block after the `<!-- rbac -->` marker. */
export function docsRbac(): { role: V1ClusterRole; binding: V1ClusterRoleBinding } {
  const page = readFileSync(new URL('../../docs/kubernetes.md', import.meta.url), 'utf8');
  const m = /<!-- rbac -->\s*```yaml\n([\s\S]*?)```/.exec(page);
  if (!m) throw new Error('docs/kubernetes.md has no <!-- rbac --> yaml block');
  const docs = loadAllYaml(m[1]!) as { kind?: string }[];
  const role = docs.find((d) => d.kind === 'ClusterRole') as V1ClusterRole | undefined;
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding') as V1ClusterRoleBinding | undefined;
  if (!role || !binding) throw new Error('docs/kubernetes.md: the rbac block needs a ClusterRole and a ClusterRoleBinding');
  return { role, binding };
}

/**
 * A KubeConfig for the service account of the docs' ClusterRoleBinding: the namespace, the account,
 * the role and the binding are created (or kept), and the account's token (1.20: a Secret made by
 * controller-manager) is read.
 */
export async function serviceAccountConfig(admin = adminConfig()): Promise<KubeConfig> {
  const { core } = clients(admin);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const { role, binding } = docsRbac();
  const subject = binding.subjects![0]!;
  const ns = subject.namespace!;
  const ok409 = (e: unknown) => {
    if (code(e) !== 409) throw e;
  };
  await core.createNamespace({ body: { metadata: { name: ns } } }).catch(ok409);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: subject.name } } }).catch(ok409);
  await rbac.createClusterRole({ body: role }).catch(async (e: unknown) => {
    ok409(e);
    await rbac.replaceClusterRole({ name: role.metadata!.name!, body: role });
  });
  await rbac.createClusterRoleBinding({ body: binding }).catch(ok409);
  const token = await until(async () => {
    const secrets = await core.listNamespacedSecret({ namespace: ns });
    const s = secrets.items.find((x) => x.type === 'kubernetes.io/service-account-token' && x.metadata?.annotations?.['kubernetes.io/service-account.name'] === subject.name);
    return s?.data?.token ? Buffer.from(s.data.token, 'base64').toString('utf8') : undefined;
  }, `the token of service account ${ns}/${subject.name}`);
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: subject.name, token }],
    contexts: [{ name: 'fenix', cluster: cluster.name, user: subject.name }],
    currentContext: 'fenix',
  });
  return kc;
}

/** A namespace whose default service account exists (pods need it). */
export async function namespace(c: Clients, name: string): Promise<void> {
  await c.core.createNamespace({ body: { metadata: { name } } }).catch((e: unknown) => {
    if (code(e) !== 409) throw e;
  });
  await until(() => c.core.readNamespacedServiceAccount({ name: 'default', namespace: name }).then(() => true), `service account default in ${name}`);
}

/** Delete a namespace and everything in it; pods are removed at once (grace 0). */
export async function dropNamespace(c: Clients, name: string): Promise<void> {
  await c.core.deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 }).catch(() => undefined);
  await c.core.deleteNamespace({ name }).catch(() => undefined);
  await until(
    () =>
      c.core.readNamespace({ name }).then(
        () => false,
        (e: unknown) => code(e) === 404,
      ),
    `namespace ${name} gone`,
    60_000,
  );
}

/** PodDisruptionBudgets are policy/v1 from 1.21 and only policy/v1beta1 before (the lane's 1.20). */
let pdbVersion: Promise<string> | null = null;
export function pdbApiVersion(c: Clients): Promise<string> {
  pdbVersion ??= c.kc
    .makeApiClient(PolicyApi)
    .getAPIGroup()
    .then((g) => (g.versions.some((v) => v.version === 'v1') ? 'v1' : 'v1beta1'));
  return pdbVersion;
}

export async function createPdb(c: Clients, ns: string, name: string, spec: { minAvailable?: number; maxUnavailable?: number; matchLabels: Record<string, string> }): Promise<void> {
  const version = await pdbApiVersion(c);
  const { matchLabels, ...rule } = spec;
  await c.custom.createNamespacedCustomObject({
    group: 'policy',
    version,
    namespace: ns,
    plural: 'poddisruptionbudgets',
    body: { apiVersion: `policy/${version}`, kind: 'PodDisruptionBudget', metadata: { name }, spec: { ...rule, selector: { matchLabels } } },
  });
}

export async function patchPdb(c: Clients, ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const version = await pdbApiVersion(c);
  const { setHeaderOptions, PatchStrategy } = await import('@kubernetes/client-node');
  await c.custom.patchNamespacedCustomObject(
    { group: 'policy', version, namespace: ns, plural: 'poddisruptionbudgets', name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function pdbStatus(c: Clients, ns: string, name: string): Promise<{ disruptionsAllowed?: number; currentHealthy?: number; observedGeneration?: number }> {
  const version = await pdbApiVersion(c);
  const b = (await c.custom.getNamespacedCustomObject({ group: 'policy', version, namespace: ns, plural: 'poddisruptionbudgets', name })) as { status?: Record<string, number> };
  return b.status ?? {};
}

const container = (cpu: string) => ({ name: 'app', image: 'registry.invalid/app:1', resources: { requests: { cpu } } });

export async function createDeployment(c: Clients, ns: string, name: string, replicas: number, cpu = '100m', annotations?: Record<string, string>): Promise<void> {
  await c.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name }, ...(annotations && { annotations }) }, spec: { containers: [container(cpu)] } },
      },
    },
  });
}

export async function createDaemonSet(c: Clients, ns: string, name: string, cpu = '50m'): Promise<void> {
  await c.apps.createNamespacedDaemonSet({
    namespace: ns,
    body: {
      metadata: { name },
      spec: {
        selector: { matchLabels: { ds: name } },
        template: { metadata: { labels: { ds: name } }, spec: { containers: [container(cpu)], tolerations: [{ operator: 'Exists' }] } },
      },
    },
  });
}

export const isReady = (p: V1Pod): boolean =>
  !p.metadata?.deletionTimestamp && p.status?.phase === 'Running' && !!p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');

export async function pods(c: Clients, ns: string, labelSelector?: string): Promise<V1Pod[]> {
  return (await c.core.listNamespacedPod({ namespace: ns, ...(labelSelector && { labelSelector }) })).items;
}

/** Until every pod of `app` (replicas of them) is Ready and no other is left. */
export async function deploymentReady(c: Clients, ns: string, app: string, replicas: number): Promise<V1Pod[]> {
  return until(async () => {
    const ps = await pods(c, ns, `app=${app}`);
    return ps.length === replicas && ps.every(isReady) ? ps : undefined;
  }, `${replicas} Ready pods of ${ns}/${app}`, 60_000);
}
