// chooseHostToEmpty: the tallies of an observed index (O(1) per candidate) choose exactly what the
// instance lists choose, on random clouds; and the order of preference itself.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import { MutableObservedIndex } from '../../src/domain/session-index.js';
import { chooseHostToEmpty } from '../../src/planner/capacity.js';

const inst = (id: string, host: string, vcpus: number, floatingIp = false): InstanceInfo => ({
  id, name: id, projectId: 'p', host, vcpus, floatingIp, liveMigratable: false,
});

function cloud(hostSpecs: { vcpus: number; enabled: boolean; compute: boolean }[], instSpecs: { host: number; vcpus: number; floating: boolean }[]) {
  const instances = instSpecs.filter((x) => x.host < hostSpecs.length).map((x, k) => inst(`i-${k}`, `h-${x.host}`, x.vcpus, x.floating));
  const hosts: HostInfo[] = hostSpecs.map((h, k) => ({
    name: `h-${k}`,
    type: h.compute ? 'compute' : 'controller',
    vcpus: h.vcpus,
    enabled: h.enabled,
    vcpusUsed: instances.filter((i) => i.host === `h-${k}`).reduce((n, i) => n + i.vcpus, 0),
  }));
  return { hosts, instances };
}

describe('chooseHostToEmpty', () => {
  it('chooses the same host (and gives the same reason) from an index’s tallies as from instance lists', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ vcpus: fc.integer({ min: 1, max: 16 }), enabled: fc.boolean(), compute: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.record({ host: fc.nat(11), vcpus: fc.integer({ min: 1, max: 6 }), floating: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.nat(13), { maxLength: 14 }),
        (hostSpecs, instSpecs, picks) => {
          const { hosts, instances } = cloud(hostSpecs, instSpecs);
          const candidates = [...new Set(picks.map((k) => `h-${k}`))]; // some unknown to the cloud
          const ix = new MutableObservedIndex({ hosts, instances });
          const fromLists = chooseHostToEmpty(candidates, hosts, instances);
          const fromTallies = chooseHostToEmpty(candidates, hosts, (h) => ix.on(h), ix);
          expect(fromTallies).toEqual(fromLists);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('prefers hosts without floating IPs, then the least used, then the fewest instances, then the name', () => {
    const { hosts, instances } = cloud(
      [16, 16, 16, 16, 64].map((vcpus) => ({ vcpus, enabled: true, compute: true })),
      [
        { host: 0, vcpus: 1, floating: true }, // h-0: least used but a floating IP
        { host: 1, vcpus: 2, floating: false },
        { host: 1, vcpus: 2, floating: false }, // h-1: 4 vCPUs, 2 instances
        { host: 2, vcpus: 4, floating: false }, // h-2: 4 vCPUs, 1 instance
        { host: 3, vcpus: 4, floating: false }, // h-3: as h-2, later name
      ],
    );
    const ix = new MutableObservedIndex({ hosts, instances });
    const all = ['h-0', 'h-1', 'h-2', 'h-3'];
    expect(chooseHostToEmpty(all, hosts, (h) => ix.on(h), ix).host).toBe('h-2');
    ix.removeInstance('i-3'); // h-2 empty now: the least used
    expect(chooseHostToEmpty(all, hosts, (h) => ix.on(h), ix).host).toBe('h-2');
    expect(chooseHostToEmpty(['h-0'], hosts, (h) => ix.on(h), ix).host).toBe('h-0');
  });

  it('says why when nothing fits elsewhere', () => {
    const { hosts, instances } = cloud(
      [{ vcpus: 4, enabled: true, compute: true }, { vcpus: 4, enabled: true, compute: true }],
      [{ host: 0, vcpus: 3, floating: false }, { host: 1, vcpus: 3, floating: false }],
    );
    const ix = new MutableObservedIndex({ hosts, instances });
    const c = chooseHostToEmpty(['h-0', 'h-1'], hosts, (h) => ix.on(h), ix);
    expect(c.host).toBeNull();
    expect(c.reason).toBe('h-0 needs 3 vCPUs but 1 are free elsewhere (largest slot 1)');
  });
});
