// Conformance: the OpenStack Tacker Fenix plug-in with the `vnf` workflow (spec §5, §6, §9), over
// real HTTP with AODH webhooks. Tacker parses list traits with Python eval and refuses a per-instance
// event whose instance_ids is not a list; it sends session_id in every reply, answers
// INSTANCE_ACTION_DONE with ACK_INSTANCE_ACTION_DONE, re-creates OWN_ACTION instances itself and
// retries every request until it gets 200 (here: the first answer of every third request is lost,
// so the engine gets those replies twice). A second project has no application manager and gets
// the default behaviour. The session must end in MAINTENANCE_DONE with no constraint violated.
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { verify } from '../../src/planner/verify.js';
import { api, startTestService, waitFor } from '../helpers/harness.js';
import { recordedFromDetail, startTackerPlugin } from '../helpers/vnf-clients.js';
import { wholeDetail } from '../helpers/detail.js';

const VNF_PROJECT = 'tacker-vnf';
const OTHER = 'no-vnfm';
const HOSTS = ['compute-0', 'compute-1', 'compute-2'];
const vid = (n: number) => `7ac4e700-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const VNF = [0, 1, 2, 3, 4, 5].map(vid);
const OWN = VNF[5]!;
const scenario = {
  description: 'a Tacker VNF of six VDUs (one healed by Tacker itself) and a project without an application manager',
  hosts: HOSTS.map((name) => ({ name, type: 'compute', vcpus: 4 })),
  instances: [
    ...VNF.map((id, n) => ({ id, name: `VDU${n}`, project_id: VNF_PROJECT, host: HOSTS[n % 3]!, vcpus: 1 })),
    { id: 'other-0', name: 'other-0', project_id: OTHER, host: 'compute-0', vcpus: 1 },
    { id: 'other-1', name: 'other-1', project_id: OTHER, host: 'compute-2', vcpus: 1 },
  ],
  timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 0.5 },
};
const GROUP = 'tacker-group-0';
const LEAD = 1;

describe('conformance: Tacker Fenix plug-in, vnf workflow', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    cleanup.length = 0;
  });

  it('per-instance events as lists, session_id in every reply, ACK_INSTANCE_ACTION_DONE, retries: MAINTENANCE_DONE, no constraint violated', async () => {
    const svc: Service = await startTestService({ config: { replyWindow: 20, scaleInReplyWindow: 20 }, scenario });
    cleanup.push(() => svc.stop());
    const tacker = await startTackerPlugin({
      api: svc.url,
      projectId: VNF_PROJECT,
      instances: VNF.map((id) => ({ id, migrationType: id === OWN ? 'OWN_ACTION' : id === VNF[0] ? 'LIVE_MIGRATE' : 'MIGRATE' })),
      groupId: GROUP,
      leadTime: LEAD,
      maxImpacted: 2,
      recoveryTime: 1,
      retryWaitMs: 100,
      loseEveryNth: 3,
    });
    cleanup.push(() => tacker.close());
    const stored = (await api(svc.url, 'GET', `/v1/instance?project_id=${VNF_PROJECT}`)).body.instances;
    expect(stored).toHaveLength(6);
    const storedGroup = (await api(svc.url, 'GET', `/v1/instance_group/${GROUP}`)).body;
    expect(storedGroup).toMatchObject({ max_impacted_members: 2, recovery_time: 1, anti_affinity_group: false });

    const created = await api(svc.url, 'POST', '/v1/maintenance', { workflow: 'vnf', metadata: { openstack_version: 'Train' } });
    expect(created.status).toBe(200);
    const sid = created.body.session_id as string;
    await waitFor(
      async () => {
        const r = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
        if (r.body.state === 'MAINTENANCE_FAILED') throw new Error(`failed: ${r.body.reason}`);
        return r.body.state === 'MAINTENANCE_DONE';
      },
      'MAINTENANCE_DONE',
      60_000,
    ).catch(async (e: unknown) => {
      const d = (await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`)).body;
      throw new Error(`${String(e)}\nwaiting_for ${JSON.stringify(d.waiting_for)}\n${d.timeline.map((t: any) => `  ${t.at} ${t.kind} ${t.message}`).join('\n')}`);
    });
    await waitFor(() => tacker.requests.some((r) => (r.body as any)?.state === 'ACK_MAINTENANCE_COMPLETE'), 'last reply');
    await tacker.idle();

    // Tacker accepted every event: the keys it needs are there, per-instance lists are lists.
    expect(tacker.refused).toEqual([]);
    expect(tacker.problems).toEqual([]);
    const perInstance = tacker.events.filter((e) => e.payload.state === 'PREPARE_MAINTENANCE' || e.payload.state === 'PLANNED_MAINTENANCE');
    expect(perInstance.length).toBeGreaterThanOrEqual(6);
    for (const e of perInstance) {
      expect(Array.isArray(e.payload.instance_ids)).toBe(true);
      expect(e.payload.instance_ids).toHaveLength(1);
      expect(Array.isArray(e.payload.allowed_actions)).toBe(true);
      expect(e.payload.reply_url).toBe(`${svc.url}/v1/maintenance/${sid}/${VNF_PROJECT}/${(e.payload.instance_ids as string[])[0]}`);
    }
    // Only this VNF's instances, never the other project's.
    const asked = new Set(perInstance.map((e) => (e.payload.instance_ids as string[])[0]));
    expect([...asked].every((i) => VNF.includes(i!) || tacker.healed.some((h) => h.fresh === i))).toBe(true);

    // Replies: session_id in every one, each finally answered 200; the lost answers were retried.
    const replies = tacker.requests.filter((r) => r.method === 'PUT' && r.url.includes('/v1/maintenance/'));
    expect(replies.every((r) => (r.body as any).session_id === sid && r.status === 200)).toBe(true);
    expect(replies.some((r) => r.attempts > 1)).toBe(true);
    const done = tacker.events.filter((e) => e.payload.state === 'INSTANCE_ACTION_DONE');
    expect(done.length).toBeGreaterThan(0);
    expect(replies.filter((r) => (r.body as any).state === 'ACK_INSTANCE_ACTION_DONE')).toHaveLength(done.length);
    for (const r of replies.filter((x) => /_MAINTENANCE$/.test((x.body as any).state) && (x.body as any).instance_action))
      expect(['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']).toContain((r.body as any).instance_action);

    // OWN_ACTION: Tacker healed the instance itself; the engine did not move it.
    expect(tacker.healed).toHaveLength(1);
    const detail = await wholeDetail(svc.url, sid);
    const { moves, maintenance } = recordedFromDetail(detail);
    expect(moves.some((m) => m.instance === OWN)).toBe(false);
    expect(moves.some((m) => m.instance === VNF[0])).toBe(true);
    // The project without an application manager got the default behaviour (its instances moved, no notification).
    expect(moves.some((m) => m.instance === 'other-0')).toBe(true);
    expect(detail.timeline.some((t: any) => t.kind === 'default_behaviour')).toBe(true);

    const constraints = {
      instances: stored.map((c: any) => ({
        instanceId: c.instance_id, projectId: c.project_id, groupId: c.group_id, instanceName: c.instance_name, maxInterruptionTime: c.max_interruption_time,
        migrationType: c.migration_type, resourceMitigation: c.resource_mitigation, leadTime: c.lead_time, createdAt: 0, updatedAt: 0,
      })),
      groups: [{ groupId: GROUP, projectId: VNF_PROJECT, groupName: null, antiAffinityGroup: false, maxInstancesPerHost: 0, maxImpactedMembers: 2, recoveryTime: 1, resourceMitigation: true, createdAt: 0, updatedAt: 0 }],
    };
    const heal = tacker.healed[0]!;
    const violations = verify({
      initial: scenario.instances.map((i) => ({ id: i.id, host: i.host, ...(i.id === OWN && { untilMs: heal.atMs }) })),
      moves,
      maintenance,
      notices: perInstance.map((e) => ({ instance: (e.payload.instance_ids as string[])[0]!, atMs: e.generated })),
      constraints,
    });
    expect(violations).toEqual([]);
    expect(detail.hosts.every((h: any) => h.maintained && !h.disabled_by_us)).toBe(true);

    // delete_vnf_constraints: every instance ever registered (the healed one's predecessor is gone already) → 200.
    await tacker.deleteConstraints();
    const deletes = tacker.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.every((r) => r.status === 200)).toBe(true);
    expect((await api(svc.url, 'GET', `/v1/instance?project_id=${VNF_PROJECT}`)).body.instances).toEqual([]);
    expect((await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`)).status).toBe(200);
  }, 90_000);
});
