export { KubernetesDriver, decodeEvictRef, encodeEvictRef, keyHash, type KubernetesDriverOptions } from './kube-driver.js';
export { loadKubeConfig } from './kubeconfig.js';
export { CORDON_ANNOTATION, cpuMilli, describePdb, drainRefusal, nodeFacts, pdbFacts, podFacts, podRole, selects, type DrainPolicy } from './objects.js';
export { Reflector, laterVersion } from './reflector.js';
