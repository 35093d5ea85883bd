import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-OpenStack lane runs on its own (npm run test:openstack, called by .ci/run); its
    // cloud-free unit tests (fake Keystone / Nova) run here too. The Kubernetes lane's suites run on
    // their own as well (npm run test:kubernetes); the driver's rules are unit-tested here.
    exclude: ['test/openstack/{driver-guards,failure,keystone-auth,session}.test.ts', 'test/kubernetes/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
