// Two real application managers of the `vnf` workflow, as they behave on the wire (spec §9), for the
// conformance tests: the OPNFV Doctor "vnfm" and the OpenStack Tacker Fenix plug-in. Both receive
// AODH event alarms over HTTP and answer through the API; everything they see and send is recorded.
//
// Doctor vnfm: PUTs its group and instance constraints first; on MAINTENANCE reads the instance list
// and NACKs if it holds an id that is not its own; scales in on SCALE_IN; replies to per-instance
// PREPARE/PLANNED_MAINTENANCE with a singular `instance_action` (switching its active HA instance
// over first); scales back out on MAINTENANCE_COMPLETE; at the end DELETEs every constraint it ever
// created (also of instances gone by then) and fails on anything but 200/204. Traits are decoded as
// YAML does it (a value containing `[` or `{` is a literal).
// Tacker plug-in: traits decoded with Python eval (text values starting with `[`/`{`); refuses
// (HTTP 400) an event without instance_ids, session_id, state and reply_url, or a PREPARE/PLANNED
// whose instance_ids / allowed_actions are not lists; sends `session_id` in every reply, also
// ACK_INSTANCE_ACTION_DONE; retries every request until 200.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parsePythonLiteral } from '../../src/cli/python-literal.js';

export interface Event {
  at: number;
  /** When the engine generated it (ms). */
  generated: number;
  eventType: string;
  payload: Record<string, unknown>;
  traits: [string, number, unknown][];
}

export interface Call {
  at: number;
  method: string;
  url: string;
  body: unknown;
  status: number;
  attempts: number;
}

interface Common {
  api: string;
  projectId: string;
  token?: string;
  log?: (line: string) => void;
}

async function send(c: Common, method: string, url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url.startsWith('http') ? url : c.api + url, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(c.token && { 'x-auth-token': c.token }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

function generatedMs(g: unknown): number {
  // AODH `generated`: ISO without zone (UTC), microseconds.
  const s = String(g);
  return Date.parse(/Z|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
}

async function listen(handler: (body: any) => Promise<number> | number): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', async () => {
      let status = 200;
      try {
        status = await handler(JSON.parse(data));
      } catch {
        status = 400;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'OK' : 'refused');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/maintenance` };
}

async function subscribe(c: Common, url: string): Promise<string> {
  const r = await send(c, 'POST', '/v1/subscriptions', { project_id: c.projectId, url, event_types: ['maintenance.scheduled'], format: 'aodh' });
  if (r.status !== 201) throw new Error(`subscription failed: ${r.status} ${r.text}`);
  return JSON.parse(r.text).subscription_id as string;
}

// ---------------------------------------------------------------------------------------------
// Doctor vnfm

export interface DoctorVnfmOptions extends Common {
  /** The project's instances at start: HA (anti-affinity, active/standby) and non-HA. */
  ha: string[];
  nonha: string[];
  leadTime: number;
  haRecovery: number;
  nonhaRecovery: number;
  /** Instances deleted on SCALE_IN (the Doctor vnfm: 2 below 7 non-HA instances). */
  scale: number;
  maxImpacted: number;
  /** Ids the vnfm does not consider its own (to provoke its NACK). */
  notMine?: string[];
}

export async function startDoctorVnfm(o: DoctorVnfmOptions) {
  const events: Event[] = [];
  const replies: Call[] = [];
  const constraintCalls: Call[] = [];
  const problems: string[] = [];
  const everCreated = new Set<string>();
  const haGroup = { group_id: `${o.projectId}-ha-group`, project_id: o.projectId, group_name: 'doctor_ha_app_group', anti_affinity_group: true, max_instances_per_host: 1, max_impacted_members: 1, recovery_time: o.haRecovery, resource_mitigation: true };
  const nonhaGroup = { group_id: `${o.projectId}-nonha-group`, project_id: o.projectId, group_name: 'doctor_nonha_app_group', anti_affinity_group: false, max_instances_per_host: 0, max_impacted_members: o.maxImpacted, recovery_time: o.nonhaRecovery, resource_mitigation: true };
  let ha = [...o.ha];
  let nonha = [...o.nonha];
  let active = ha[0];
  const scaledIn: string[] = [];
  let queue = Promise.resolve();
  const log = o.log ?? (() => undefined);

  const constraint = async (method: 'PUT' | 'DELETE', path: string, body?: unknown) => {
    const r = await send(o, method, path, body);
    constraintCalls.push({ at: Date.now(), method, url: path, body, status: r.status, attempts: 1 });
    if (r.status !== 200 && r.status !== 204) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  };
  const instanceConstraint = (id: string, group: string, name: string) => ({
    instance_id: id,
    project_id: o.projectId,
    group_id: group,
    instance_name: name,
    max_interruption_time: 120,
    migration_type: 'MIGRATE',
    resource_mitigation: true,
    lead_time: o.leadTime,
  });
  const putInstances = async (ids: string[], group: string, prefix: string) => {
    for (const [k, id] of ids.entries()) {
      await constraint('PUT', `/v1/instance/${id}`, instanceConstraint(id, group, `${prefix}${k}`));
      everCreated.add(id);
    }
  };

  // Constraints first.
  await constraint('PUT', `/v1/instance_group/${nonhaGroup.group_id}`, nonhaGroup);
  await constraint('PUT', `/v1/instance_group/${haGroup.group_id}`, haGroup);
  await putInstances(ha, haGroup.group_id, 'doctor_ha_app_');
  await putInstances(nonha, nonhaGroup.group_id, 'doctor_nonha_app_');

  /** YAML-style decoding: a value containing `[` or `{` is a literal. */
  const decode = (v: unknown) => {
    const s = String(v);
    return s.includes('[') || s.includes('{') ? parsePythonLiteral(s.replace(/u'/g, "'")) : s;
  };
  const reply = async (url: string, body: Record<string, unknown>) => {
    const r = await send(o, 'PUT', url, body); // the Doctor vnfm sends once and does not look at the answer
    replies.push({ at: Date.now(), method: 'PUT', url, body, status: r.status, attempts: 1 });
  };
  const myInstances = async (): Promise<string[]> => {
    const r = JSON.parse((await send(o, 'GET', `/v1/simulator/instances?project_id=${o.projectId}`, undefined)).text) as { instances: { id: string }[] };
    return r.instances.map((i) => i.id);
  };

  const handle = async (ev: Event) => {
    const p = ev.payload;
    const state = String(p.state);
    const sid = String(p.session_id);
    switch (state) {
      case 'MAINTENANCE': {
        const r = await send(o, 'GET', String(p.instance_ids), undefined);
        const ids = (JSON.parse(r.text) as { instance_ids: string[] }).instance_ids;
        const mine = new Set((await myInstances()).filter((i) => !o.notMine?.includes(i)));
        const foreign = ids.filter((i) => !mine.has(i));
        if (foreign.length) {
          problems.push(`foreign instance ids in the session: ${foreign.join(', ')}`);
          return reply(String(p.reply_url), { session_id: sid, state: 'NACK_MAINTENANCE' });
        }
        return reply(String(p.reply_url), { instance_ids: ids, session_id: sid, state: 'ACK_MAINTENANCE' });
      }
      case 'SCALE_IN': {
        for (const id of nonha.slice(-o.scale)) {
          await send(o, 'DELETE', `/v1/simulator/instances/${id}`, undefined);
          scaledIn.push(id);
        }
        nonha = nonha.slice(0, nonha.length - o.scale);
        return reply(String(p.reply_url), { instance_ids: await myInstances(), session_id: sid, state: 'ACK_SCALE_IN' });
      }
      case 'PREPARE_MAINTENANCE':
      case 'PLANNED_MAINTENANCE': {
        const allowed = p.allowed_actions as string[];
        if (!Array.isArray(allowed) || !allowed.includes('MIGRATE')) {
          problems.push(`MIGRATE not in allowed_actions ${JSON.stringify(p.allowed_actions)}`);
          return;
        }
        if (!Array.isArray(p.instance_ids) || p.instance_ids.length !== 1) problems.push(`${state} instance_ids ${JSON.stringify(p.instance_ids)} is not a one-element list`);
        const id = String((p.instance_ids as string[])[0]);
        if (id === active) active = ha.find((h) => h !== id); // switch the floating IP over first
        return reply(String(p.reply_url), { instance_action: 'MIGRATE', session_id: sid, state: `ACK_${state}` });
      }
      case 'MAINTENANCE_COMPLETE': {
        // Scale back out, and keep the constraints in line (new instances PUT, deleted ones DELETEd).
        const created: string[] = [];
        for (const gone of scaledIn) {
          const r = await send(o, 'POST', '/v1/simulator/instances', { name: `doctor_nonha_app_re_${gone.slice(-4)}`, project_id: o.projectId, vcpus: 1 });
          if (r.status === 201 || r.status === 200) created.push(JSON.parse(r.text).id as string);
        }
        for (const gone of scaledIn) await constraint('DELETE', `/v1/instance/${gone}`);
        await putInstances(created, nonhaGroup.group_id, 'doctor_nonha_app_re_');
        nonha = [...nonha, ...created];
        return reply(String(p.reply_url), { session_id: sid, state: 'ACK_MAINTENANCE_COMPLETE' });
      }
      case 'INSTANCE_ACTION_DONE':
        log(`instance action done: ${JSON.stringify(p.instance_ids)}`);
        return;
      default:
        problems.push(`unknown state ${state}`);
    }
  };

  const { server, url } = await listen((body) => {
    const traits = body.reason_data.event.traits as [string, number, unknown][];
    const payload = Object.fromEntries(traits.map(([k, , v]) => [k, decode(v)]));
    const ev: Event = { at: Date.now(), generated: generatedMs(body.reason_data.event.generated), eventType: body.reason_data.event.event_type, payload, traits };
    events.push(ev);
    // Replies go out from the handler, one after the other, while the webhook answers at once.
    queue = queue.then(() => handle(ev)).catch((e: unknown) => void problems.push(String(e)));
    return 200;
  });
  const subscription = await subscribe(o, url);

  return {
    events,
    replies,
    constraintCalls,
    problems,
    everCreated,
    scaledIn,
    get active() {
      return active;
    },
    groups: [haGroup, nonhaGroup],
    idle: () => queue,
    /** The Doctor vnfm's stop(): DELETE every constraint it ever created, then the groups. */
    async deleteConstraints() {
      for (const id of everCreated) await constraint('DELETE', `/v1/instance/${id}`);
      await constraint('DELETE', `/v1/instance_group/${nonhaGroup.group_id}`);
      await constraint('DELETE', `/v1/instance_group/${haGroup.group_id}`);
    },
    async close() {
      await send(o, 'DELETE', `/v1/subscriptions/${subscription}`, undefined).catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    setInstances(h: string[], n: string[]) {
      ha = h;
      nonha = n;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Tacker Fenix plug-in

export interface TackerOptions extends Common {
  /** The VNF's instances and their migration_type (from the VNF's maintenance config). */
  instances: { id: string; migrationType: 'MIGRATE' | 'LIVE_MIGRATE' | 'OWN_ACTION' }[];
  groupId: string;
  leadTime: number;
  maxImpacted: number;
  recoveryTime: number;
  /** Wait between retries (Tacker: request_retry_wait 5 s). */
  retryWaitMs: number;
  /** Every n-th request loses its first answer and is sent again (a retry), to show replies are idempotent. */
  loseEveryNth?: number;
}

export async function startTackerPlugin(o: TackerOptions) {
  const events: Event[] = [];
  const requests: Call[] = [];
  const refused: string[] = [];
  const problems: string[] = [];
  let instances = o.instances.map((i) => ({ ...i }));
  const ever = new Set(instances.map((i) => i.id));
  const healed: { old: string; fresh: string; host: string; atMs: number }[] = [];
  let sent = 0;
  let queue = Promise.resolve();

  /** `request_wait`: retries until 200 (Tacker gives up after request_retries; the test never lets it). */
  const request = async (method: string, url: string, body?: unknown) => {
    const n = ++sent;
    for (let attempt = 1; ; attempt++) {
      const r = await send(o, method, url, body);
      const lost = o.loseEveryNth !== undefined && n % o.loseEveryNth === 0 && attempt === 1;
      if (r.status === 200 && !lost) {
        requests.push({ at: Date.now(), method, url, body, status: r.status, attempts: attempt });
        return;
      }
      if (attempt >= 20) {
        problems.push(`${method} ${url} gave up: ${r.status} ${r.text}`);
        requests.push({ at: Date.now(), method, url, body, status: r.status, attempts: attempt });
        return;
      }
      await new Promise((res) => setTimeout(res, o.retryWaitMs));
    }
  };

  const putGroup = () =>
    request('PUT', `/v1/instance_group/${o.groupId}`, {
      group_id: o.groupId,
      project_id: o.projectId,
      group_name: `tacker_nonha_app_group_${o.projectId}`,
      anti_affinity_group: false,
      max_instances_per_host: 0,
      resource_mitigation: true,
      max_impacted_members: o.maxImpacted,
      recovery_time: o.recoveryTime,
    });
  const putInstance = (i: { id: string; migrationType: string }, k: number) =>
    request('PUT', `/v1/instance/${i.id}`, {
      project_id: o.projectId,
      instance_id: i.id,
      instance_name: `VDU${k}`,
      migration_type: i.migrationType,
      resource_mitigation: true,
      max_interruption_time: 120,
      lead_time: o.leadTime,
      group_id: o.groupId,
    });

  // create_vnf_constraints: the group, then every instance.
  await putGroup();
  for (const [k, i] of instances.entries()) await putInstance(i, k);

  const MAINTENANCE_KEYS = ['instance_ids', 'session_id', 'state', 'reply_url'];
  const STATES = ['MAINTENANCE', 'SCALE_IN', 'MAINTENANCE_COMPLETE', 'PREPARE_MAINTENANCE', 'PLANNED_MAINTENANCE', 'INSTANCE_ACTION_DONE'];

  const handle = async (ev: Event) => {
    const p = ev.payload;
    const state = String(p.state);
    const data: Record<string, unknown> = {};
    if (state === 'MAINTENANCE') data.instance_ids = instances.map((i) => i.id);
    if (state === 'SCALE_IN') data.instance_ids = instances.map((i) => i.id);
    if (state === 'PREPARE_MAINTENANCE' || state === 'PLANNED_MAINTENANCE') {
      const id = String((p.instance_ids as string[])[0]);
      const mine = instances.find((i) => i.id === id);
      if (!mine) problems.push(`${state} for ${id}, not an instance of this VNF`);
      const action = mine?.migrationType ?? 'MIGRATE';
      if (action === 'OWN_ACTION' && mine) {
        // vdu_autoheal: the VNF re-creates the instance elsewhere, then updates its constraints.
        await send(o, 'DELETE', `/v1/simulator/instances/${id}`, undefined);
        const atMs = Date.now();
        const r = await send(o, 'POST', '/v1/simulator/instances', { name: `${id.slice(0, 8)}-healed`, project_id: o.projectId, vcpus: 1 });
        const fresh = JSON.parse(r.text).id as string;
        healed.push({ old: id, fresh, host: JSON.parse(r.text).host as string, atMs });
        instances = instances.map((i) => (i.id === id ? { id: fresh, migrationType: 'OWN_ACTION' } : i));
        ever.add(fresh);
        await putInstance({ id: fresh, migrationType: 'OWN_ACTION' }, instances.length);
        await request('DELETE', `/v1/instance/${id}`);
      }
      data.instance_action = action;
    }
    data.session_id = p.session_id ?? '';
    data.state = `ACK_${state}`;
    await request('PUT', String(p.reply_url), data);
  };

  const { server, url } = await listen((body) => {
    const traits = body?.reason_data?.event?.traits;
    if (!Array.isArray(traits)) return 400;
    // _handle_maintenance_body: eval() of text traits that look like lists or dicts.
    const payload: Record<string, unknown> = {};
    for (const [key, type, val] of traits as [string, number, unknown][]) {
      payload[key] = type === 1 && typeof val === 'string' && val && (val[0] === '[' || val[0] === '{') ? parsePythonLiteral(val) : val;
    }
    const ev: Event = { at: Date.now(), generated: generatedMs(body.reason_data.event.generated), eventType: body.reason_data.event.event_type, payload, traits };
    events.push(ev);
    // validate_maintenance
    const missing = MAINTENANCE_KEYS.filter((k) => !(k in payload));
    const state = String(payload.state);
    if (missing.length || !STATES.includes(state)) {
      refused.push(`${state}: missing ${missing.join(', ')}`);
      return 400;
    }
    if ((state === 'PREPARE_MAINTENANCE' || state === 'PLANNED_MAINTENANCE') && (!Array.isArray(payload.instance_ids) || !Array.isArray(payload.allowed_actions))) {
      refused.push(`${state}: instance_ids / allowed_actions must be lists`);
      return 400;
    }
    queue = queue.then(() => handle(ev)).catch((e: unknown) => void problems.push(String(e)));
    return 200;
  });
  const subscription = await subscribe(o, url);

  return {
    events,
    requests,
    refused,
    healed,
    problems,
    get instances() {
      return instances;
    },
    idle: () => queue,
    /** delete_vnf_constraints: every instance it ever registered, then the group. */
    async deleteConstraints() {
      for (const id of ever) await request('DELETE', `/v1/instance/${id}`);
      await request('DELETE', `/v1/instance_group/${o.groupId}`);
    },
    async close() {
      await send(o, 'DELETE', `/v1/subscriptions/${subscription}`, undefined).catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading what a session did, for planner/verify.ts

/** Moves and host maintenance windows from a session's detail (timeline entries the vnf workflow writes). */
export function recordedFromDetail(detail: any) {
  const moves: { instance: string; from: string; to: string; startMs: number; endMs: number }[] = [];
  const inMaint = new Map<string, number>();
  const maintenance: { host: string; startMs: number; endMs: number }[] = [];
  for (const t of detail.timeline as { at: string; kind: string; message: string; data?: any }[]) {
    if (t.kind === 'instance' && t.data?.from && t.data?.to && t.data?.started && t.data?.finished) {
      const instance = /^(\S+) moved /.exec(t.message)![1]!;
      moves.push({ instance, from: t.data.from, to: t.data.to, startMs: t.data.started, endMs: t.data.finished });
    }
    const m = /^(\S+) in maintenance$/.exec(t.message);
    if (t.kind === 'host' && m) inMaint.set(m[1]!, Date.parse(t.at));
    const done = /^(\S+) maintained$/.exec(t.message);
    if (t.kind === 'host' && done) maintenance.push({ host: done[1]!, startMs: inMaint.get(done[1]!) ?? Date.parse(t.at), endMs: Date.parse(t.at) });
  }
  return { moves, maintenance };
}
