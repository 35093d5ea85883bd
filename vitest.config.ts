import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-OpenStack lane runs on its own (npm run test:openstack, called by .ci/run); its
    // cloud-free unit tests (fake Keystone / Nova) run here too.
    exclude: ['test/openstack/{driver-guards,failure,keystone-auth,session}.test.ts', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
