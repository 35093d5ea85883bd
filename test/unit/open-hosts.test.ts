// The session's open hosts (domain/open-hosts.ts), kept current as hosts change status and instances
// move, answer exactly what a scan of every host answers: the empty compute hosts and the other
// hosts in session order, the first host ready for maintenance, and (with the observed index's free
// slots) the host chooseHostToEmpty chooses. Random clouds, random changes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import type { HostStatus, SessionHost } from '../../src/domain/model.js';
import { MutableObservedIndex, MutableSessionIndex } from '../../src/domain/session-index.js';
import { chooseHostToEmpty, chooseRankedHostToEmpty } from '../../src/planner/capacity.js';

const STATUSES: HostStatus[] = ['pending', 'emptying', 'maintaining', 'maintained', 'failed'];
const open = (h: SessionHost) => h.status !== 'maintained' && h.status !== 'failed';

type Change =
  | { kind: 'status'; host: number; status: number }
  | { kind: 'move'; inst: number; to: number }
  | { kind: 'remove'; inst: number }
  | { kind: 'host'; host: number; enabled: boolean; used: number };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('status' as const), host: fc.nat(11), status: fc.nat(4) }),
  fc.record({ kind: fc.constant('move' as const), inst: fc.nat(39), to: fc.nat(11) }),
  fc.record({ kind: fc.constant('remove' as const), inst: fc.nat(39) }),
  fc.record({ kind: fc.constant('host' as const), host: fc.nat(11), enabled: fc.boolean(), used: fc.nat(20) }),
);

describe('OpenHosts', () => {
  it('answers what a scan of every host answers, through status changes and moves', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ vcpus: fc.integer({ min: 1, max: 16 }), enabled: fc.boolean(), compute: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.record({ host: fc.nat(9), vcpus: fc.integer({ min: 1, max: 6 }), floating: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.nat(11), { minLength: 1, maxLength: 12 }), // session hosts, some unknown to the cloud
        fc.array(change, { maxLength: 30 }),
        (hostSpecs, instSpecs, picks, changes) => {
          const hosts: HostInfo[] = hostSpecs.map((h, k) => ({ name: `h-${k}`, type: h.compute ? 'compute' : 'controller', vcpus: h.vcpus, enabled: h.enabled, vcpusUsed: 0 }));
          const instances: InstanceInfo[] = instSpecs
            .filter((x) => x.host < hosts.length)
            .map((x, k) => ({ id: `i-${k}`, name: `i-${k}`, projectId: 'p', host: `h-${x.host}`, vcpus: x.vcpus, floatingIp: x.floating, liveMigratable: false }));
          const ox = new MutableObservedIndex({ hosts, instances });
          // Session order is not name order: the picks' order.
          const names = [...new Set(picks.map((k) => `h-${k}`))];
          const sessionHosts: SessionHost[] = names.map((name, k) => ({
            sessionId: 's', name, type: k % 4 === 3 ? 'controller' : 'compute', status: 'pending', originalEnabled: null, disabledByUs: false, maintainedAt: null,
          }));
          const ix = new MutableSessionIndex({ hosts: sessionHosts, instances: [], projects: [], ops: [], eventKeys: [] });
          const hs = ix.openHosts(ox);

          const check = () => {
            const openOnes = sessionHosts.filter(open);
            const computes = openOnes.filter((h) => h.type === 'compute');
            expect(hs.size).toBe(openOnes.length);
            expect(hs.computeCount).toBe(computes.length);
            expect(hs.emptyComputes()).toEqual(computes.filter((h) => ox.on(h.name).size === 0).map((h) => h.name));
            expect(hs.others()).toEqual(openOnes.filter((h) => h.type !== 'compute').map((h) => h.name));
            expect(hs.firstReady()).toBe(openOnes.find((h) => h.type !== 'compute' || ox.on(h.name).size === 0)?.name);
            const all = ox.hostList();
            expect(chooseRankedHostToEmpty(hs.cheapest(), ox, () => all)).toEqual(chooseHostToEmpty(computes.map((h) => h.name), all, (h) => ox.on(h), ox));
            for (const except of ['h-0', 'h-1', 'none'])
              for (const k of [0, 1, 3]) {
                const free = all.filter((h) => h.type === 'compute' && h.enabled && h.name !== except).map((h) => Math.max(0, h.vcpus - h.vcpusUsed));
                expect(ox.largestFree(k, except)).toEqual(free.sort((a, b) => b - a).slice(0, k));
              }
          };

          check();
          for (const c of changes) {
            if (c.kind === 'status') {
              const h = sessionHosts[c.host % sessionHosts.length]!;
              ix.patchHost(h, { status: STATUSES[c.status]! });
            } else if (c.kind === 'host') {
              const h = ox.host(`h-${c.host % hosts.length}`)!;
              ox.putHost({ ...h, enabled: c.enabled, vcpusUsed: c.used });
            } else {
              const i = ox.instance(`i-${c.inst}`);
              if (!i) continue;
              const touched = new Set([i.host]);
              if (c.kind === 'move') {
                const to = `h-${c.to % hosts.length}`;
                ox.putInstance({ ...i, host: to });
                touched.add(to);
              } else ox.removeInstance(i.id);
              ix.retally(touched); // as the engine does after each look (World's changed hosts)
            }
            check();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is built afresh against a new observed world', () => {
    const host = (name: string): HostInfo => ({ name, type: 'compute', vcpus: 8, vcpusUsed: 0, enabled: true });
    const h: SessionHost = { sessionId: 's', name: 'h-0', type: 'compute', status: 'pending', originalEnabled: null, disabledByUs: false, maintainedAt: null };
    const ix = new MutableSessionIndex({ hosts: [h], instances: [], projects: [], ops: [], eventKeys: [] });
    const a = new MutableObservedIndex({ hosts: [host('h-0')], instances: [] });
    expect(ix.openHosts(a).emptyComputes()).toEqual(['h-0']);
    const b = new MutableObservedIndex({ hosts: [host('h-0')], instances: [{ id: 'i', name: 'i', projectId: 'p', host: 'h-0', vcpus: 1, floatingIp: false, liveMigratable: false }] });
    expect(ix.openHosts(b).emptyComputes()).toEqual([]);
    expect(ix.openHosts(b).firstReady()).toBeUndefined();
  });
});
