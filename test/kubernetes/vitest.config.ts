// The Kubernetes lane (`npm run test:kubernetes`, run by .ci/infra/k8s-lane.sh): the suites that
// `npm test` skips without FENIX_KUBERNETES_LANE=1, one file at a time against one control plane.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/contract/driver.kubernetes.test.ts', 'test/kubernetes/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    env: { FENIX_KUBERNETES_LANE: '1' },
  },
});
