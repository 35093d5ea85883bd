// The real-OpenStack lane (`npm run test:openstack`, run by .ci/infra/openstack-lane.sh): the same
// suites that `npm test` skips without FENIX_OPENSTACK_LANE=1, run one file at a time against one cloud.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/contract/driver.openstack.test.ts', 'test/openstack/**/*.test.ts', 'test/integration/oslo-*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    env: { FENIX_OPENSTACK_LANE: '1' },
  },
});
