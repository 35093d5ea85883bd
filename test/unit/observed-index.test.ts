// The observed world's index: instances by host, vCPUs per host and host names kept right as the
// engine patches it from a driver's changes.
import { describe, expect, it } from 'vitest';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import { MutableObservedIndex } from '../../src/domain/session-index.js';

const host = (name: string): HostInfo => ({ name, type: 'compute', vcpus: 16, vcpusUsed: 0, enabled: true });
const inst = (id: string, on: string, vcpus: number): InstanceInfo => ({ id, name: id, projectId: 'p', host: on, vcpus, floatingIp: false, liveMigratable: true });

describe('MutableObservedIndex', () => {
  it('sums vCPUs per host through puts, moves and removals', () => {
    const o = new MutableObservedIndex({ hosts: [host('b'), host('a')], instances: [inst('i1', 'a', 2), inst('i2', 'a', 4), inst('i3', 'b', 1)] });
    expect([o.vcpusOn('a'), o.vcpusOn('b'), o.vcpusOn('nowhere')]).toEqual([6, 1, 0]);
    o.putInstance(inst('i2', 'b', 4)); // moved
    expect([o.vcpusOn('a'), o.vcpusOn('b')]).toEqual([2, 5]);
    o.putInstance(inst('i1', 'a', 8)); // resized in place
    expect(o.vcpusOn('a')).toBe(8);
    o.removeInstance('i3');
    o.removeInstance('unknown');
    expect(o.vcpusOn('b')).toBe(4);
    expect([...o.on('b')].map((i) => i.id)).toEqual(['i2']);
  });

  it('keeps host names sorted as hosts are added, and a host seen again once', () => {
    const o = new MutableObservedIndex({ hosts: [host('c2'), host('c0')], instances: [] });
    expect(o.hostNames()).toEqual(['c0', 'c2']);
    o.putHost(host('c1'));
    o.putHost(host('c3'));
    o.putHost({ ...host('c0'), enabled: false });
    expect(o.hostNames()).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(o.host('c0')?.enabled).toBe(false);
  });
});
