// Conformance: the OPNFV Doctor "vnfm" application manager with the `vnf` workflow (spec §5, §6,
// §9), over real HTTP with AODH webhooks. The vnfm PUTs its constraints first, checks that the
// instance list holds only its own ids, scales in when asked, answers per-instance
// PREPARE/PLANNED_MAINTENANCE with a singular instance_action, scales back out, and at the end
// DELETEs every constraint it ever created — also of instances scaled away — expecting 200.
// The session must end in MAINTENANCE_DONE with no constraint violated, checked from what the
// session recorded (moves with times, hosts in maintenance) against the constraints.
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupConstraint, InstanceConstraint } from '../../src/domain/constraints.js';
import type { Service } from '../../src/main/service.js';
import { verify } from '../../src/planner/verify.js';
import { api, aodhTraits, startReceiver, startTestService, waitFor } from '../helpers/harness.js';
import { recordedFromDetail, startDoctorVnfm } from '../helpers/vnf-clients.js';
import { wholeDetail } from '../helpers/detail.js';

const PROJECT = 'doctor';
const HOSTS = ['compute-0', 'compute-1', 'compute-2', 'compute-3'];
const id = (kind: 'a' | 'b', n: number) => `d0c7000${kind}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const HA = [id('a', 0), id('a', 1)];
const NONHA = Array.from({ length: 9 }, (_, n) => id('b', n));
// ha0 + 2 non-HA on compute-0, ha1 + 2 on compute-1, 3 on compute-2, 2 on compute-3: 11 of 12 vCPUs.
const PLACEMENT: [string, string][] = [
  [HA[0]!, 'compute-0'],
  [NONHA[0]!, 'compute-0'],
  [NONHA[1]!, 'compute-0'],
  [HA[1]!, 'compute-1'],
  [NONHA[2]!, 'compute-1'],
  [NONHA[3]!, 'compute-1'],
  [NONHA[4]!, 'compute-2'],
  [NONHA[5]!, 'compute-2'],
  [NONHA[6]!, 'compute-2'],
  [NONHA[7]!, 'compute-3'],
  [NONHA[8]!, 'compute-3'],
];
const scenario = {
  description: 'Doctor maintenance test case, vnf workflow: four full compute hosts, one VNF',
  hosts: HOSTS.map((name) => ({ name, type: 'compute', vcpus: 3 })),
  instances: PLACEMENT.map(([iid, host]) => ({
    id: iid,
    name: HA.includes(iid) ? `doctor_ha_app_${HA.indexOf(iid)}` : `doctor_nonha_app_${NONHA.indexOf(iid)}`,
    project_id: PROJECT,
    host,
    vcpus: 1,
  })),
  timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 0.5 },
};
const LEAD = 2;

/** Constraints as the API shows them, as the checker reads them. */
function asDomain(instances: any[], groups: any[]): { instances: InstanceConstraint[]; groups: GroupConstraint[] } {
  return {
    instances: instances.map((c) => ({
      instanceId: c.instance_id, projectId: c.project_id, groupId: c.group_id, instanceName: c.instance_name, maxInterruptionTime: c.max_interruption_time,
      migrationType: c.migration_type, resourceMitigation: c.resource_mitigation, leadTime: c.lead_time, createdAt: 0, updatedAt: 0,
    })),
    groups: groups.map((g) => ({
      groupId: g.group_id, projectId: g.project_id, groupName: g.group_name, antiAffinityGroup: g.anti_affinity_group, maxInstancesPerHost: g.max_instances_per_host,
      maxImpactedMembers: g.max_impacted_members, recoveryTime: g.recovery_time, resourceMitigation: g.resource_mitigation, createdAt: 0, updatedAt: 0,
    })),
  };
}

async function detailOf(svc: Service, sid: string) {
  return wholeDetail(svc.url, sid);
}

async function waitDone(svc: Service, sid: string, want: string) {
  return waitFor(
    async () => {
      const r = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
      if (r.body.state !== want && (r.body.state === 'MAINTENANCE_DONE' || r.body.state === 'MAINTENANCE_FAILED')) {
        const d = await detailOf(svc, sid);
        throw new Error(`session ended ${r.body.state}: ${r.body.reason}\n${d.timeline.map((t: any) => `  ${t.at} ${t.kind} ${t.message}`).join('\n')}`);
      }
      return r.body.state === want ? r.body : undefined;
    },
    want,
    60_000,
  ).catch(async (e: unknown) => {
    if (String(e).includes('session ended')) throw e;
    const d = await detailOf(svc, sid);
    throw new Error(`${String(e)}\nwaiting_for ${JSON.stringify(d.waiting_for)}\n${d.timeline.map((t: any) => `  ${t.at} ${t.kind} ${t.message}`).join('\n')}`);
  });
}

describe('conformance: Doctor vnfm, vnf workflow', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    cleanup.length = 0;
  });

  it('constraints first, per-instance replies, scale in and out, MAINTENANCE_DONE with no constraint violated, every constraint deleted', async () => {
    const svc = await startTestService({ config: { replyWindow: 20, scaleInReplyWindow: 20 }, scenario });
    cleanup.push(() => svc.stop());
    const inspector = await startReceiver();
    cleanup.push(() => inspector.close());
    expect((await api(svc.url, 'POST', '/v1/subscriptions', { url: inspector.url, event_types: ['maintenance.host'], format: 'aodh' })).status).toBe(201);

    const vnfm = await startDoctorVnfm({ api: svc.url, projectId: PROJECT, ha: HA, nonha: NONHA, leadTime: LEAD, haRecovery: 1, nonhaRecovery: 1, scale: 4, maxImpacted: 3 });
    cleanup.push(() => vnfm.close());
    // The constraints are in place before the session.
    expect(vnfm.constraintCalls.every((c) => c.status === 200)).toBe(true);
    expect(vnfm.constraintCalls.slice(0, 2).map((c) => c.url)).toEqual([`/v1/instance_group/${PROJECT}-nonha-group`, `/v1/instance_group/${PROJECT}-ha-group`]);
    const stored = await api(svc.url, 'GET', `/v1/instance?project_id=${PROJECT}`);
    expect(stored.body.instances).toHaveLength(11);
    const storedGroups = await api(svc.url, 'GET', `/v1/instance_group?project_id=${PROJECT}`);
    const constraints = asDomain(stored.body.instances, storedGroups.body.instance_groups);

    // The Doctor admin: hosts [] (all), maintenance_at a little ahead, workflow vnf; poll; delete.
    const maintenanceAt = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const created = await api(svc.url, 'POST', '/v1/maintenance', {
      hosts: [],
      state: 'MAINTENANCE',
      maintenance_at: new Date(maintenanceAt).toISOString().slice(0, 19).replace('T', ' '),
      metadata: { openstack_version: 'Train' },
      workflow: 'vnf',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    const final = await waitDone(svc, sid, 'MAINTENANCE_DONE');
    expect(final.percent_done).toBe(100);
    await vnfm.idle();
    await waitFor(() => vnfm.replies.some((r) => (r.body as any).state === 'ACK_MAINTENANCE_COMPLETE'), 'last reply');
    await vnfm.idle();
    expect(vnfm.problems).toEqual([]);

    // ---- what the vnfm received
    const states = vnfm.events.map((e) => e.payload.state as string);
    expect(states[0]).toBe('MAINTENANCE');
    expect(states[1]).toBe('SCALE_IN');
    expect(states.at(-1) === 'MAINTENANCE_COMPLETE' || states.at(-2) === 'MAINTENANCE_COMPLETE').toBe(true);
    const projectUrl = `${svc.url}/v1/maintenance/${sid}/${PROJECT}`;
    expect(vnfm.events[0]!.payload.instance_ids).toBe(projectUrl);
    const perInstance = vnfm.events.filter((e) => e.payload.state === 'PREPARE_MAINTENANCE' || e.payload.state === 'PLANNED_MAINTENANCE');
    expect(perInstance.length).toBeGreaterThanOrEqual(7); // every instance left after the scale-in, at least once
    for (const e of perInstance) {
      const ids = e.payload.instance_ids as string[];
      expect(ids).toHaveLength(1);
      expect(e.payload.reply_url).toBe(`${projectUrl}/${ids[0]}`);
      expect(e.payload.allowed_actions).toContain('MIGRATE');
      expect(e.traits.find(([k]) => k === 'instance_ids')).toEqual(['instance_ids', 1, `['${ids[0]}']`]);
      expect(Date.parse(String(e.payload.reply_at) + 'Z')).toBeGreaterThan(e.at - 1000);
    }
    for (const e of vnfm.events.filter((x) => x.payload.state === 'INSTANCE_ACTION_DONE')) expect(e.payload.instance_ids).toHaveLength(1);

    // ---- what the vnfm sent: every reply answered 200; per-instance ones with a singular action
    expect(vnfm.replies.every((r) => r.status === 200)).toBe(true);
    const perInstanceReplies = vnfm.replies.filter((r) => /_MAINTENANCE$/.test((r.body as any).state) && (r.body as any).instance_action);
    expect(perInstanceReplies.length).toBe(perInstance.length);
    for (const r of perInstanceReplies) {
      expect(Object.keys(r.body as object).sort()).toEqual(['instance_action', 'session_id', 'state']);
      expect(r.url).toMatch(new RegExp(`^${projectUrl}/[0-9a-f-]{36}$`));
    }
    expect(vnfm.scaledIn).toHaveLength(4);

    // ---- the session kept every constraint (from its own record)
    const detail = await detailOf(svc, sid);
    const { moves, maintenance } = recordedFromDetail(detail);
    expect(moves.length).toBeGreaterThanOrEqual(7);
    const violations = verify({
      initial: PLACEMENT.map(([iid, host]) => ({ id: iid, host })),
      moves,
      maintenance,
      notices: perInstance.map((e) => ({ instance: (e.payload.instance_ids as string[])[0]!, atMs: e.generated })),
      constraints,
    });
    expect(violations).toEqual([]);
    // Every move had its planned host and landed there (the detail's operations of each instance).
    const ops = detail.instances.flatMap((i: { operations: { status: string; target: string | null; host: string | null }[] }) => i.operations);
    expect(ops.length).toBe(moves.length);
    for (const o of ops) expect(o).toMatchObject({ status: 'done', target: expect.any(String), host: o.target });
    // Lead time, stated plainly too: every move began at least lead_time after its notification.
    for (const m of moves) {
      const notice = Math.max(...perInstance.filter((e) => (e.payload.instance_ids as string[])[0] === m.instance && e.generated <= m.startMs).map((e) => e.generated));
      expect(m.startMs - notice, m.instance).toBeGreaterThanOrEqual(LEAD * 1000);
    }
    // Every host maintained exactly once; the inspector saw both events per host.
    await waitFor(() => inspector.received.filter((r) => aodhTraits(r.body).state === 'MAINTENANCE_COMPLETE').length >= HOSTS.length, 'host events');
    for (const h of HOSTS) {
      const seq = inspector.received.map((r) => aodhTraits(r.body)).filter((t) => t.host === h).map((t) => t.state);
      expect([...new Set(seq)]).toEqual(['IN_MAINTENANCE', 'MAINTENANCE_COMPLETE']);
    }
    expect(detail.hosts.every((h: any) => h.maintained && !h.disabled_by_us)).toBe(true);

    // ---- the end: DELETE every constraint ever created (scaled-away instances included) → 200
    await vnfm.deleteConstraints();
    const deletes = vnfm.constraintCalls.filter((c) => c.method === 'DELETE');
    expect(deletes.length).toBeGreaterThanOrEqual(11 + 2);
    expect(deletes.every((c) => c.status === 200)).toBe(true);
    expect((await api(svc.url, 'GET', `/v1/instance?project_id=${PROJECT}`)).body.instances).toEqual([]);
    expect((await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`)).status).toBe(200);
  }, 90_000);

  it('a foreign instance id makes the vnfm NACK MAINTENANCE: the session fails with the reason and leaves the hosts as found', async () => {
    const svc = await startTestService({ config: { replyWindow: 20 }, scenario });
    cleanup.push(() => svc.stop());
    const vnfm = await startDoctorVnfm({ api: svc.url, projectId: PROJECT, ha: HA, nonha: NONHA, leadTime: LEAD, haRecovery: 1, nonhaRecovery: 1, scale: 4, maxImpacted: 3, notMine: [NONHA[0]!] });
    cleanup.push(() => vnfm.close());
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [], workflow: 'vnf' });
    const sid = created.body.session_id as string;
    const failed = await waitDone(svc, sid, 'MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/doctor answered NACK_MAINTENANCE/);
    expect(vnfm.problems[0]).toMatch(/foreign instance ids/);
    expect((await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`)).status).toBe(200);
    const hosts = (await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts as { enabled: boolean }[];
    expect(hosts.every((h) => h.enabled)).toBe(true);
    await vnfm.deleteConstraints();
  }, 60_000);
});
