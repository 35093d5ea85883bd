// Where the cluster and credentials come from: --kubeconfig, else $KUBECONFIG (a list, as kubectl
// reads it), else the pod's service account, else ~/.kube/config. Never the client library's last
// resort (http://localhost:8080 without credentials): no cluster found is an error that says so.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path: string | null, env: NodeJS.ProcessEnv = process.env): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  let source: string;
  if (path) {
    kc.loadFromFile(path);
    source = path;
  } else if (env.KUBECONFIG) {
    kc.loadFromDefault();
    source = `KUBECONFIG=${env.KUBECONFIG}`;
  } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    kc.loadFromCluster();
    source = 'the in-cluster service account';
  } else if (existsSync(join(homedir(), '.kube', 'config'))) {
    kc.loadFromFile(join(homedir(), '.kube', 'config'));
    source = '~/.kube/config';
  } else {
    throw new Error('--driver kubernetes: no cluster configured: pass --kubeconfig <file>, set KUBECONFIG, or run in a pod with a service account');
  }
  if (!kc.getCurrentCluster()) throw new Error(`--driver kubernetes: ${source} names no current cluster (set its current-context)`);
  return { kc, source };
}
