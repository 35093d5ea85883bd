// Real-Nova benchmark (issue 10, `npm run bench:nova`): the lane's OpenStack (.ci/infra/openstack-up.sh,
// then `source $OSD/admin-openrc`), `fenix serve --driver openstack` as a child process, and an
// application manager of project demo (a plain HTTP receiver here: ACKs every state, answers MIGRATE
// for every instance). Per workflow (default, vnf) and run:
//   reset (no servers, every nova-compute enabled) → 4 servers of demo (m1.small, on demo-net) laid
//   out 1/1/2 over the first three computes (vnf: two of them in a Nova anti-affinity server group,
//   declared to Fenix as an instance group with max_impacted_members 1) → fenix serve on a fresh
//   SQLite file → session over every host with maintenance_at = now + lead → MAINTENANCE_DONE.
// Measured: create → MAINTENANCE_DONE and the time after the lead (service timestamps); Nova's
// migrations (os-migrations: count, created_at → updated_at); the Nova API requests the service made
// during the session and Nova's 4xx answers to them, counted AT NOVA from nova-api's log (one line
// per request, the request context names the user: the service runs as the `fenix` service user);
// vnf: anti-affinity / max_impacted_members violations, from Nova's own migration records; every
// move with a planned host (the session's detail) against where Nova's record says it went.
// It imports nothing from the project: it must measure any version of the service.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/fenix.js');
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- options --------------------------------------------------------------------------------

export type Workflow = 'default' | 'vnf';

export interface Options {
  runs: number;
  workflows: Workflow[];
  /** Seconds between the session's creation and its maintenance_at. */
  leadS: number;
  /** Seconds a session may take after its maintenance_at. */
  timeoutS: number;
  out: string;
  /** nova-api's log (one line per request); default $OSD/logs/nova-api.log. */
  novaLog: string;
  /** The service runs as this Keystone user / project (password: OS_PASSWORD or BENCH_NOVA_SERVICE_PASSWORD). */
  serviceUser: string;
  serviceProject: string;
  /** The application managers' project. */
  project: string;
  flavor: string;
  network: string;
}

const SPECS: { flag: string; help: string; apply: (o: Options, v: string) => void }[] = [
  { flag: 'runs', help: 'sessions per workflow (default 3)', apply: (o, v) => (o.runs = positiveInt('--runs', v)) },
  {
    flag: 'workflows',
    help: 'default,vnf',
    apply: (o, v) => {
      const xs = v.split(',').map((x) => x.trim()).filter(Boolean);
      for (const x of xs) if (x !== 'default' && x !== 'vnf') throw new Error(`--workflows: ${JSON.stringify(x)} is not default or vnf`);
      o.workflows = xs as Workflow[];
    },
  },
  { flag: 'lead', help: 'seconds from the session create to its maintenance_at (default 20)', apply: (o, v) => (o.leadS = positiveInt('--lead', v)) },
  { flag: 'timeout', help: 'seconds a session may take after maintenance_at (default 600)', apply: (o, v) => (o.timeoutS = positiveInt('--timeout', v)) },
  { flag: 'out', help: 'JSON results file (default bench-results/nova.json)', apply: (o, v) => (o.out = v) },
  { flag: 'nova-log', help: "nova-api's log (default $OSD/logs/nova-api.log, OSD=/var/tmp/fenix-ci/os)", apply: (o, v) => (o.novaLog = v) },
  { flag: 'service-user', help: 'Keystone user the service runs as (default fenix)', apply: (o, v) => (o.serviceUser = v) },
  { flag: 'service-project', help: 'its project (default service)', apply: (o, v) => (o.serviceProject = v) },
  { flag: 'project', help: "the servers' project (default demo; the admin user needs a role in it)", apply: (o, v) => (o.project = v) },
  { flag: 'flavor', help: 'flavor of the 4 servers (default m1.small)', apply: (o, v) => (o.flavor = v) },
  { flag: 'network', help: 'tenant network of the servers (default demo-net; none: no port)', apply: (o, v) => (o.network = v) },
];

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: ${JSON.stringify(v)} is not a positive integer`);
  return n;
}

export const envFor = (flag: string): string => `BENCH_NOVA_${flag.toUpperCase().replace(/-/g, '_')}`;

export function defaultOptions(env: Record<string, string | undefined> = {}): Options {
  return {
    runs: 3,
    workflows: ['default', 'vnf'],
    leadS: 20,
    timeoutS: 600,
    out: 'bench-results/nova.json',
    novaLog: join(env.OSD ?? '/var/tmp/fenix-ci/os', 'logs/nova-api.log'),
    serviceUser: 'fenix',
    serviceProject: 'service',
    project: 'demo',
    flavor: 'm1.small',
    network: 'demo-net',
  };
}

export const usage = (): string =>
  [
    'usage: node dist/bench/nova.js [--flag value]...   (each flag also as env BENCH_NOVA_<FLAG>)',
    'needs the lane cloud (bash .ci/infra/openstack-up.sh) and its admin-openrc sourced (OS_*, FENIX_NOVA_NOTIFICATIONS)',
    ...SPECS.map((s) => `  --${s.flag.padEnd(16)} ${s.help}`),
  ].join('\n');

export function parseOptions(argv: string[], env: Record<string, string | undefined> = {}): Options {
  const o = defaultOptions(env);
  for (const s of SPECS) {
    const v = env[envFor(s.flag)];
    if (v !== undefined) s.apply(o, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    const spec = m && SPECS.find((s) => s.flag === m[1]);
    if (!m || !spec) throw new Error(`unknown argument ${JSON.stringify(a)}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${spec.flag} needs a value`);
    spec.apply(o, v);
  }
  return o;
}

// ---- small things ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[bench:nova] ${s}\n`);
/** Nova's times: "2026-12-01T14:26:20.000000" (UTC, no zone) or with Z / offset. */
const novaTime = (s: string | null | undefined): number => (s ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : s + 'Z') : NaN);
export function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

// ---- Keystone and the OpenStack APIs (own minimal client) -----------------------------------

interface Creds {
  authUrl: string;
  username: string;
  password: string;
  project: string;
  userDomain: string;
  projectDomain: string;
  region: string | null;
  iface: string;
}

export function credsFromEnv(env: Record<string, string | undefined>): Creds {
  const missing = ['OS_AUTH_URL', 'OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME'].filter((k) => !env[k]);
  if (missing.length) throw new Error(`${missing.join(', ')} not set: source the lane's admin-openrc first (source /var/tmp/fenix-ci/os/admin-openrc after bash .ci/infra/openstack-up.sh)`);
  return {
    authUrl: env.OS_AUTH_URL!.replace(/\/+$/, ''),
    username: env.OS_USERNAME!,
    password: env.OS_PASSWORD!,
    project: env.OS_PROJECT_NAME!,
    userDomain: env.OS_USER_DOMAIN_NAME ?? 'Default',
    projectDomain: env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
    region: env.OS_REGION_NAME ?? null,
    iface: (env.OS_INTERFACE ?? 'public').replace(/URL$/, ''),
  };
}

class OpenStack {
  private tok: { token: string; expires: number; catalog: Json[]; userId: string; projectId: string } | null = null;
  constructor(readonly creds: Creds) {}

  private async auth() {
    if (this.tok && this.tok.expires - Date.now() > 300_000) return this.tok;
    const c = this.creds;
    const url = `${/\/v3$/.test(c.authUrl) ? c.authUrl : c.authUrl + '/v3'}/auth/tokens`;
    const r = await call(url, 'POST', {
      auth: {
        identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: c.userDomain }, password: c.password } } },
        scope: { project: { name: c.project, domain: { name: c.projectDomain } } },
      },
    });
    const token = r.headers.get('x-subject-token');
    if (r.status !== 201 || !token) throw new Error(`Keystone refused ${c.username}@${c.project}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    this.tok = { token, expires: Date.parse(r.body.token.expires_at), catalog: r.body.token.catalog ?? [], userId: r.body.token.user.id, projectId: r.body.token.project.id };
    return this.tok;
  }

  async ids(): Promise<{ userId: string; projectId: string }> {
    const t = await this.auth();
    return { userId: t.userId, projectId: t.projectId };
  }

  async endpoint(type: string): Promise<string> {
    const t = await this.auth();
    const svc = t.catalog.find((s: Json) => s.type === type);
    const ep = svc?.endpoints.find((e: Json) => e.interface === this.creds.iface && (!this.creds.region || (e.region_id ?? e.region) === this.creds.region));
    if (!ep) throw new Error(`no ${this.creds.iface} endpoint of type ${type} in the catalog`);
    return String(ep.url).replace(/\/+$/, '');
  }

  async req(type: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
    const headers: Record<string, string> = { 'x-auth-token': (await this.auth()).token };
    if (type === 'compute') headers['openstack-api-version'] = 'compute 2.80';
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await call((await this.endpoint(type)) + path, method, body, headers);
        return { status: r.status, body: r.body };
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(500 * attempt);
      }
    }
  }

  /** The answer's body; throws unless the status is one of `ok`. */
  async ok(type: string, method: string, path: string, body?: unknown, ok: number[] = [200, 201, 202, 204]): Promise<Json> {
    const r = await this.req(type, method, path, body);
    if (!ok.includes(r.status)) throw new Error(`${type} ${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  }
}

// ---- the cloud: reset, servers, Nova's records ----------------------------------------------

interface Layout {
  name: string;
  host: string;
  grouped: boolean;
}

interface CloudIds {
  computes: string[];
  projectId: string;
  serviceUserId: string;
  flavorId: string;
  imageId: string;
  networkId: string | null;
}

async function lookup(admin: OpenStack, o: Options): Promise<CloudIds> {
  const one = async (path: string, key: string, what: string) => {
    const xs = (await admin.ok('identity', 'GET', path))[key] as Json[];
    if (!xs.length) throw new Error(`${what} not found in Keystone (is this the lane's cloud? bash .ci/infra/openstack-up.sh)`);
    return String(xs[0].id);
  };
  const projectId = await one(`/projects?name=${encodeURIComponent(o.project)}`, 'projects', `project ${o.project}`);
  const serviceUserId = await one(`/users?name=${encodeURIComponent(o.serviceUser)}`, 'users', `user ${o.serviceUser}`);
  const svcs = (await admin.ok('compute', 'GET', '/os-services?binary=nova-compute')).services as Json[];
  const computes = svcs.map((s) => String(s.host)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (computes.length < 3) throw new Error(`the bench needs 3 nova-compute hosts, Nova has ${computes.length}`);
  const flavors = (await admin.ok('compute', 'GET', '/flavors?is_public=None')).flavors as Json[];
  const flavorId = flavors.find((f) => f.name === o.flavor)?.id;
  if (!flavorId) throw new Error(`flavor ${o.flavor} not found`);
  const images = (await admin.ok('image', 'GET', '/v2/images?name=fake-img')).images as Json[];
  if (!images.length) throw new Error('image fake-img not found');
  let networkId: string | null = null;
  if (o.network !== 'none') {
    const nets = (await admin.ok('network', 'GET', `/v2.0/networks?name=${encodeURIComponent(o.network)}`)).networks as Json[];
    networkId = nets[0]?.id ?? null;
    if (!networkId) log(`network ${o.network} not found: servers get no port (re-run .ci/infra/openstack-up.sh)`);
  }
  return { computes, projectId, serviceUserId, flavorId, imageId: String(images[0].id), networkId };
}

const GROUP_NAME = 'bench-nova-aa';

/** No servers (of any project), every nova-compute enabled and up, no server group of the bench. */
async function resetCloud(admin: OpenStack): Promise<void> {
  const until = Date.now() + 180_000;
  let servers = (await admin.ok('compute', 'GET', '/servers/detail?all_tenants=1')).servers as Json[];
  for (const s of servers) {
    if (s['OS-EXT-STS:task_state'] || s.status === 'ERROR' || s.status === 'VERIFY_RESIZE')
      await admin.req('compute', 'POST', `/servers/${s.id}/action`, { 'os-resetState': { state: 'active' } });
    await admin.req('compute', 'DELETE', `/servers/${s.id}`);
  }
  while (servers.length) {
    if (Date.now() > until) throw new Error(`servers not deleted after 180 s: ${servers.map((s) => s.id).join(', ')}`);
    await sleep(500);
    servers = (await admin.ok('compute', 'GET', '/servers/detail?all_tenants=1')).servers as Json[];
    // a server deleted while a task ran can stay: delete it again now and then
    for (const s of servers) if (!s['OS-EXT-STS:task_state']) await admin.req('compute', 'DELETE', `/servers/${s.id}`);
  }
  for (;;) {
    const svcs = (await admin.ok('compute', 'GET', '/os-services?binary=nova-compute')).services as Json[];
    for (const s of svcs) if (s.status !== 'enabled') await admin.ok('compute', 'PUT', `/os-services/${s.id}`, { status: 'enabled' });
    if (svcs.every((s) => s.state === 'up')) break;
    if (Date.now() > until) throw new Error(`nova-compute down: ${svcs.filter((s) => s.state !== 'up').map((s) => s.host).join(', ')}`);
    await sleep(1000);
  }
  const groups = (await admin.ok('compute', 'GET', '/os-server-groups?all_projects=True')).server_groups as Json[];
  for (const g of groups) if (g.name === GROUP_NAME) await admin.req('compute', 'DELETE', `/os-server-groups/${g.id}`);
}

/** 1/1/2 over the first three computes; vnf: the servers on the 2nd and 3rd host are the anti-affinity pair. */
export function layout(computes: string[]): Layout[] {
  const [a, b, c] = computes as [string, string, string];
  return [
    { name: 'bench-0', host: a, grouped: false },
    { name: 'bench-1', host: b, grouped: true },
    { name: 'bench-2', host: c, grouped: true },
    { name: 'bench-3', host: c, grouped: false },
  ];
}

interface Created {
  servers: { id: string; name: string; host: string; grouped: boolean }[];
  groupId: string | null;
}

async function createServers(inProject: OpenStack, ids: CloudIds, workflow: Workflow): Promise<Created> {
  let groupId: string | null = null;
  if (workflow === 'vnf') {
    const g = await inProject.ok('compute', 'POST', '/os-server-groups', { server_group: { name: GROUP_NAME, policy: 'anti-affinity' } });
    groupId = String(g.server_group.id);
  }
  const plan = layout(ids.computes);
  const servers: Created['servers'] = [];
  for (const l of plan) {
    const body: Json = {
      server: {
        name: l.name,
        flavorRef: ids.flavorId,
        imageRef: ids.imageId,
        networks: ids.networkId ? [{ uuid: ids.networkId }] : 'none',
        availability_zone: `nova:${l.host}`,
      },
    };
    if (groupId && l.grouped) body['os:scheduler_hints'] = { group: groupId };
    const r = await inProject.ok('compute', 'POST', '/servers', body);
    servers.push({ id: String(r.server.id), name: l.name, host: l.host, grouped: !!groupId && l.grouped });
  }
  const until = Date.now() + 120_000;
  for (const s of servers) {
    for (;;) {
      const v = (await inProject.ok('compute', 'GET', `/servers/${s.id}`)).server;
      if (v.status === 'ACTIVE') {
        if (v['OS-EXT-SRV-ATTR:host'] !== s.host) throw new Error(`${s.name} is on ${v['OS-EXT-SRV-ATTR:host']}, not ${s.host}`);
        break;
      }
      if (v.status === 'ERROR') throw new Error(`${s.name} ERROR: ${v.fault?.message ?? '?'}`);
      if (Date.now() > until) throw new Error(`${s.name} not ACTIVE after 120 s (${v.status})`);
      await sleep(250);
    }
  }
  return { servers, groupId };
}

interface Migration {
  instance: string;
  type: string;
  status: string;
  source: string;
  dest: string;
  created: number;
  updated: number;
}

async function migrationsOf(admin: OpenStack, serverIds: string[]): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const id of serverIds) {
    const ms = (await admin.ok('compute', 'GET', `/os-migrations?instance_uuid=${id}`)).migrations as Json[];
    for (const m of ms)
      out.push({
        instance: id,
        type: String(m.migration_type),
        status: String(m.status),
        source: String(m.source_compute),
        dest: String(m.dest_compute),
        created: novaTime(m.created_at),
        updated: novaTime(m.updated_at),
      });
  }
  return out.sort((a, b) => a.created - b.created);
}

const FINISHED = new Set(['confirmed', 'completed', 'finished']);

/** A move as the session's detail records it: its planned host (null: Nova's scheduler chose) and where it landed. */
export interface SessionMove {
  instance: string;
  target: string | null;
  host: string | null;
  status: string;
  started: number;
}

/** The session's moves from its detail; null when this version's detail does not say their planned host. */
async function sessionMoves(api: string, sid: string): Promise<SessionMove[] | null> {
  const d = await call(`${api}/v1/maintenance/${sid}/detail?lists=instances&limit=1000`, 'GET');
  if (d.status !== 200 || !Array.isArray(d.body?.instances)) return null;
  const out: SessionMove[] = [];
  for (const i of d.body.instances as Json[])
    for (const o of (i.operations ?? []) as Json[]) {
      if (!('target' in o)) return null;
      out.push({ instance: String(i.instance_id), target: o.target ?? null, host: o.host ?? null, status: String(o.status), started: Date.parse(o.started_at) });
    }
  return out;
}

/**
 * Moves that did not land on their planned host, per Nova's own record: a server's finished moves
 * in the session, in order, against its finished migrations in Nova, in order (each move is one
 * migration). A server whose counts differ is reported too.
 */
export function offPlan(moves: SessionMove[], migrations: Migration[]): string[] {
  const out: string[] = [];
  for (const id of [...new Set(moves.map((m) => m.instance))]) {
    const done = moves.filter((m) => m.instance === id && m.status === 'done').sort((a, b) => a.started - b.started);
    const nova = migrations.filter((m) => m.instance === id && FINISHED.has(m.status)); // sorted by created_at
    if (done.length !== nova.length) {
      out.push(`${id.slice(0, 8)}: ${done.length} moves done in the session, ${nova.length} finished migrations in Nova`);
      continue;
    }
    done.forEach((m, k) => {
      if (m.target !== null && nova[k]!.dest !== m.target) out.push(`${id.slice(0, 8)}: planned on ${m.target}, Nova moved it to ${nova[k]!.dest}`);
    });
  }
  return out;
}

/**
 * From Nova's migration records of an anti-affinity pair: moments when both members were on one
 * host (a member occupies its source and its target from created_at to updated_at, then the
 * target), and moments when both were moving at once. Nova keeps whole seconds: overlaps are
 * strict, so only real overlaps count (one shorter than a second can be missed).
 */
export function violations(members: { id: string; host: string }[], migrations: Migration[]): string[] {
  if (members.length !== 2) return [];
  const occupancy = (m: { id: string; host: string }) => {
    const moves = migrations.filter((x) => x.instance === m.id);
    const spans: { host: string; from: number; to: number }[] = [];
    let host = moves[0]?.source ?? m.host;
    let since = -Infinity;
    for (const mv of moves) {
      spans.push({ host, from: since, to: mv.created });
      const end = Number.isFinite(mv.updated) ? mv.updated : Infinity;
      spans.push({ host: mv.source, from: mv.created, to: end }, { host: mv.dest, from: mv.created, to: end });
      const moved = FINISHED.has(mv.status);
      host = moved ? mv.dest : mv.source;
      since = end;
    }
    spans.push({ host, from: since, to: Infinity });
    return spans.filter((s) => s.from < s.to || s.from === -Infinity);
  };
  const [a, b] = members as [{ id: string; host: string }, { id: string; host: string }];
  const out: string[] = [];
  const t = (x: number) => (Number.isFinite(x) ? new Date(x).toISOString().slice(11, 19) : x < 0 ? 'start' : 'end');
  // every moment both occupy one host; overlapping moments (on any host) are one violation
  const shared: { host: string; from: number; to: number }[] = [];
  for (const x of occupancy(a))
    for (const y of occupancy(b))
      if (x.host === y.host && x.from < y.to && y.from < x.to) shared.push({ host: x.host, from: Math.max(x.from, y.from), to: Math.min(x.to, y.to) });
  shared.sort((p, q) => p.from - q.from);
  for (let i = 0; i < shared.length; ) {
    let to = shared[i]!.to;
    const hosts = new Set([shared[i]!.host]);
    let j = i + 1;
    for (; j < shared.length && shared[j]!.from <= to; j++) {
      to = Math.max(to, shared[j]!.to);
      hosts.add(shared[j]!.host);
    }
    out.push(`${a.id.slice(0, 8)} and ${b.id.slice(0, 8)} both on ${[...hosts].join(', ')} ${t(shared[i]!.from)}–${t(to)}`);
    i = j;
  }
  const ma = migrations.filter((m) => m.instance === a.id);
  const mb = migrations.filter((m) => m.instance === b.id);
  for (const x of ma)
    for (const y of mb) {
      const xe = Number.isFinite(x.updated) ? x.updated : Infinity;
      const ye = Number.isFinite(y.updated) ? y.updated : Infinity;
      if (x.created < ye && y.created < xe) out.push(`both moving: ${a.id.slice(0, 8)} ${t(x.created)}–${t(xe)}, ${b.id.slice(0, 8)} ${t(y.created)}–${t(ye)}`);
    }
  return out;
}

// ---- nova-api's log: the service's requests -------------------------------------------------

// 2026-12-01 14:25:44.661 22731 INFO nova.osapi_compute.wsgi.server [None req-… <user> <project> - - default default] 127.0.0.1 "GET /v2.1/os-services?binary=nova-compute HTTP/1.1" status: 200 len: 1054 time: 0.2152107
const ACCESS = /\[([^\]]*)\] \S+ "([A-Z]+) (\S+) HTTP\/[\d.]+" status: (\d{3})/;
const UUID = /[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}/gi;

export interface RequestCounts {
  /** Requests whose context names the service user. */
  service: number;
  service_4xx: number;
  service_5xx: number;
  /** Requests without a user in their context (version documents, refused tokens): only the service talks to Nova during a session, so they are its. */
  unattributed: number;
  unattributed_4xx: number;
  /** Requests of other users in the window (should be 0: the bench itself does not call Nova then). */
  others: number;
  /** "GET /servers/detail?all_tenants&host" → count (ids as {id}, query values left out), service's and unattributed. */
  by_path: Record<string, number>;
}

export function normalizePath(method: string, raw: string): string {
  const [path, query] = raw.split('?', 2) as [string, string | undefined];
  const p = path.replace(/^\/v2(\.1)?(?=\/|$)/, '').replace(UUID, '{id}') || '/';
  const keys = query ? [...new Set(query.split('&').map((kv) => decodeURIComponent(kv.split('=')[0]!)))].sort() : [];
  return `${method} ${p}${keys.length ? '?' + keys.join('&') : ''}`;
}

export function countRequests(text: string, serviceUserId: string): RequestCounts {
  const c: RequestCounts = { service: 0, service_4xx: 0, service_5xx: 0, unattributed: 0, unattributed_4xx: 0, others: 0, by_path: {} };
  const byPath = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = ACCESS.exec(line);
    if (!m) continue;
    const [, ctx, method, path, statusText] = m as unknown as [string, string, string, string, string];
    const status = Number(statusText);
    // context: "-" or "None req-<id> <user> <project> - - <domains>" (user "-" when there is none)
    const words = ctx.trim().split(/\s+/);
    const reqAt = words.findIndex((w) => w.startsWith('req-'));
    const user = reqAt >= 0 ? words[reqAt + 1] : undefined;
    if (user === serviceUserId) {
      c.service++;
      if (status >= 400 && status < 500) c.service_4xx++;
      if (status >= 500) c.service_5xx++;
    } else if (!user || user === '-') {
      c.unattributed++;
      if (status >= 400 && status < 500) c.unattributed_4xx++;
    } else {
      c.others++;
      continue;
    }
    const k = normalizePath(method, path) + (status >= 400 ? ` → ${status}` : '');
    byPath.set(k, (byPath.get(k) ?? 0) + 1);
  }
  c.by_path = Object.fromEntries([...byPath].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  return c;
}

const logSize = (file: string): number | null => {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
};

function readSlice(file: string, from: number, to: number): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, from + off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

// ---- fenix serve and the application manager ------------------------------------------------

const live = new Set<ChildProcess>();
let workDir: string | undefined;

function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

interface Fenix {
  url: string;
  tail: () => string;
  stop: () => Promise<void>;
}

/** Whether `fenix serve` has the flag (the driver work of issue 10 adds --nova-notifications). */
function serveHasFlag(flag: string): boolean {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8', timeout: 60_000 });
  return (r.stdout ?? '').includes(flag);
}

async function startFenix(o: Options, extra: string[], tag: string): Promise<Fenix> {
  const port = await freePort();
  const db = join(workDir!, `${tag}.db`);
  const args = [BIN, 'serve', '--driver', 'openstack', '--auth', 'none', '--db', db, '--port', String(port), '--log-level', 'warn', '--work-dir', join(workDir!, `${tag}-work`), ...extra];
  const env = {
    ...process.env,
    OS_USERNAME: o.serviceUser,
    OS_PROJECT_NAME: o.serviceProject,
    OS_PASSWORD: process.env.BENCH_NOVA_SERVICE_PASSWORD ?? process.env.OS_PASSWORD,
  };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: workDir, env });
  live.add(child);
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | null = null;
  child.on('exit', (code, signal) => {
    exited = `exited (${signal ?? code})`;
    live.delete(child);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
    }
  };
  const until = Date.now() + 120_000;
  for (;;) {
    if (exited) throw new Error(`fenix serve ${exited} before answering:\n${out.trim().split('\n').slice(-20).join('\n')}`);
    if (await fetch(`${url}/v1/maintenance`).then((r) => r.ok, () => false)) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`fenix serve did not answer within 120 s:\n${out}`);
    }
    await sleep(100);
  }
  return { url, tail: () => out.trim().split('\n').slice(-20).join('\n'), stop };
}

interface Manager {
  subscriptionId: string;
  received: { state: string; instances: number; at: number }[];
  replies: { state: string; status: number; attempts: number }[];
  errors: string[];
  close: () => Promise<void>;
}

/**
 * The application manager of the project: JSON-format subscription; ACKs every state; answers
 * MIGRATE for every instance it is asked about (project or per-instance question); no scaling.
 */
async function startManager(api: string, projectId: string): Promise<Manager> {
  const received: Manager['received'] = [];
  const replies: Manager['replies'] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  const pending = new Set<Promise<void>>();
  const idsOf = async (p: Json): Promise<string[]> => {
    if (Array.isArray(p.instance_ids)) return p.instance_ids.map(String);
    const url = typeof p.instance_ids === 'string' && /^https?:/.test(p.instance_ids) ? p.instance_ids : `${api}/v1/maintenance/${p.session_id}/${projectId}`;
    const r = await call(url, 'GET');
    return Array.isArray(r.body?.instance_ids) ? r.body.instance_ids.map(String) : [];
  };
  const reply = async (url: string, body: Json) => {
    let status = 0;
    let attempts = 0;
    for (; attempts < 6; ) {
      attempts++;
      status = await call(url, 'PUT', body).then((r) => r.status, () => 0);
      if (status >= 200 && status < 300) break;
      await sleep(200);
    }
    replies.push({ state: String(body.state), status, attempts });
    if (status < 200 || status >= 300) errors.push(`PUT ${url} ${body.state}: ${status} after ${attempts} attempts`);
  };
  const handle = async (p: Json) => {
    const state = String(p.state);
    const url = p.reply_url ?? `${api}/v1/maintenance/${p.session_id}/${projectId}`;
    switch (state) {
      case 'MAINTENANCE':
        return reply(url, { instance_ids: await idsOf(p), session_id: p.session_id, state: 'ACK_MAINTENANCE' });
      case 'SCALE_IN':
      case 'MAINTENANCE_COMPLETE':
        return reply(url, { session_id: p.session_id, state: `ACK_${state}` });
      case 'PREPARE_MAINTENANCE':
      case 'PLANNED_MAINTENANCE': {
        const actions: Record<string, string> = {};
        for (const id of await idsOf(p)) actions[id] = 'MIGRATE';
        return reply(url, { instance_actions: actions, session_id: p.session_id, state: `ACK_${state}` });
      }
      default:
        return; // INSTANCE_ACTION_DONE and anything new: nothing to answer
    }
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (req.method !== 'POST') return;
      let n: Json;
      try {
        n = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        errors.push('a notification that is not JSON');
        return;
      }
      if (n?.event_type !== 'maintenance.scheduled' || !n.payload) return;
      if (n.message_id && seen.has(n.message_id)) return;
      if (n.message_id) seen.add(n.message_id);
      const p = n.payload;
      received.push({ state: String(p.state), instances: Array.isArray(p.instance_ids) ? p.instance_ids.length : -1, at: Date.now() });
      const t = handle(p).catch((e: Error) => void errors.push(`${p.state}: ${e.message}`));
      pending.add(t);
      void t.finally(() => pending.delete(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/maintenance`;
  const sub = await call(`${api}/v1/subscriptions`, 'POST', { project_id: projectId, url, event_types: ['maintenance.scheduled'], format: 'json' });
  const subscriptionId = sub.body?.subscription_id ?? sub.body?.id;
  if (sub.status >= 300 || !subscriptionId) {
    server.close();
    throw new Error(`subscription refused: ${sub.status} ${JSON.stringify(sub.body).slice(0, 300)}`);
  }
  return {
    subscriptionId,
    received,
    replies,
    errors,
    close: async () => {
      await Promise.allSettled([...pending]);
      await call(`${api}/v1/subscriptions/${subscriptionId}`, 'DELETE').catch(() => undefined);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// ---- one run --------------------------------------------------------------------------------

export interface RunResult {
  workflow: Workflow;
  run: number;
  outcome: string;
  reason: string | null;
  /** create → MAINTENANCE_DONE, service timestamps (created_at → updated_at). */
  total_s: number | null;
  /** maintenance_at → MAINTENANCE_DONE. */
  after_lead_s: number | null;
  migrations: number;
  migrations_failed: number;
  /** Mean created_at → updated_at of the finished (confirmed / completed) migrations. */
  s_per_migration: number | null;
  migration_list: Migration[];
  /** The service's requests to Nova from the session create until MAINTENANCE_DONE was seen. */
  nova_requests: number | null;
  nova_4xx: number | null;
  nova: RequestCounts | null;
  /** The service's requests to Nova from its start until the session create. */
  nova_requests_before_session: number | null;
  /** vnf: anti-affinity / max_impacted_members violations per Nova's records. */
  violations: number | null;
  violation_list: string[];
  /** Moves with a planned host (null: this version's detail does not say). */
  planned_moves: number | null;
  /** Of those, or of the server's moves, what Nova's record contradicts (see offPlan). */
  off_plan: number | null;
  off_plan_list: string[];
  nova_notifications: boolean;
  manager: { received: Record<string, number>; replies: number; errors: string[] } | null;
  servers_after: { name: string; host: string | null; status: string }[];
  computes_disabled_after: string[];
}

async function oneRun(o: Options, admin: OpenStack, inProject: OpenStack, ids: CloudIds, workflow: Workflow, run: number, notifications: string | null): Promise<RunResult> {
  const res: RunResult = {
    workflow, run, outcome: 'ERROR', reason: null, total_s: null, after_lead_s: null, migrations: 0, migrations_failed: 0, s_per_migration: null,
    migration_list: [], nova_requests: null, nova_4xx: null, nova: null, nova_requests_before_session: null, violations: null, violation_list: [],
    planned_moves: null, off_plan: null, off_plan_list: [], nova_notifications: !!notifications, manager: null, servers_after: [], computes_disabled_after: [],
  };
  let svc: Fenix | undefined;
  let mgr: Manager | undefined;
  let created: Created | undefined;
  let sid: string | undefined;
  let moves: SessionMove[] | null = null;
  try {
    log(`${workflow} run ${run}: reset`);
    await resetCloud(admin);
    created = await createServers(inProject, ids, workflow);
    log(`  servers: ${created.servers.map((s) => `${s.name}@${s.host}${s.grouped ? '(aa)' : ''}`).join(' ')}`);
    const startOffset = logSize(o.novaLog);
    svc = await startFenix(o, notifications ? ['--nova-notifications', notifications] : [], `${workflow}-${run}`);
    mgr = await startManager(svc.url, ids.projectId);
    if (created.groupId) {
      const g = await call(`${svc.url}/v1/instance_group/${created.groupId}`, 'PUT', {
        group_id: created.groupId, project_id: ids.projectId, group_name: GROUP_NAME,
        anti_affinity_group: true, max_instances_per_host: 1, max_impacted_members: 1, recovery_time: 0, resource_mitigation: false,
      });
      if (g.status !== 200) throw new Error(`PUT instance_group: ${g.status} ${JSON.stringify(g.body)}`);
      for (const s of created.servers.filter((x) => x.grouped)) {
        const r = await call(`${svc.url}/v1/instance/${s.id}`, 'PUT', {
          instance_id: s.id, project_id: ids.projectId, group_id: created.groupId, instance_name: s.name,
          migration_type: 'MIGRATE', resource_mitigation: false, lead_time: 0,
        });
        if (r.status !== 200) throw new Error(`PUT instance: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    const sessionOffset = logSize(o.novaLog);
    const maintenanceAt = new Date(Date.now() + o.leadS * 1000);
    const c = await call(`${svc.url}/v1/maintenance`, 'POST', {
      state: 'MAINTENANCE', hosts: [], workflow, maintenance_at: maintenanceAt.toISOString(), metadata: { openstack_version: 'Zed', bench: 'nova' },
    });
    if (c.status !== 200 || typeof c.body?.session_id !== 'string') throw new Error(`session create: ${c.status} ${JSON.stringify(c.body).slice(0, 400)}`);
    sid = c.body.session_id as string;
    const sentAt = Date.now();
    log(`  session ${sid} (${workflow}), maintenance_at +${o.leadS} s`);
    const deadline = maintenanceAt.getTime() + o.timeoutS * 1000;
    let end: Json = null;
    let endSeen = 0;
    for (;;) {
      const g = await call(`${svc.url}/v1/maintenance/${sid}`, 'GET').catch(() => null);
      if (g?.status === 200 && (g.body.state === 'MAINTENANCE_DONE' || g.body.state === 'MAINTENANCE_FAILED')) {
        end = g.body;
        endSeen = Date.now();
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    const endOffset = logSize(o.novaLog);
    if (!end) {
      res.outcome = 'TIMEOUT';
      res.reason = `not done ${o.timeoutS} s after maintenance_at`;
    } else {
      res.outcome = end.state;
      res.reason = end.reason ?? null;
      const createdAt = Date.parse(c.body.created_at ?? end.created_at);
      const updatedAt = Date.parse(end.updated_at);
      const at = Date.parse(end.maintenance_at ?? c.body.maintenance_at ?? maintenanceAt.toISOString());
      const serverTimes = Number.isFinite(createdAt) && Number.isFinite(updatedAt) && updatedAt >= createdAt;
      res.total_s = +((serverTimes ? updatedAt - createdAt : endSeen - sentAt) / 1000).toFixed(2);
      res.after_lead_s = +(((serverTimes ? updatedAt : endSeen) - (Number.isFinite(at) ? at : maintenanceAt.getTime())) / 1000).toFixed(2);
    }
    if (startOffset !== null && sessionOffset !== null && endOffset !== null) {
      res.nova = countRequests(readSlice(o.novaLog, sessionOffset, endOffset), ids.serviceUserId);
      res.nova_requests = res.nova.service + res.nova.unattributed;
      res.nova_4xx = res.nova.service_4xx + res.nova.unattributed_4xx;
      const before = countRequests(readSlice(o.novaLog, startOffset, sessionOffset), ids.serviceUserId);
      res.nova_requests_before_session = before.service + before.unattributed;
    }
    res.manager = {
      received: mgr.received.reduce<Record<string, number>>((acc, r) => ((acc[r.state] = (acc[r.state] ?? 0) + 1), acc), {}),
      replies: mgr.replies.length,
      errors: mgr.errors,
    };
    if (res.outcome !== 'MAINTENANCE_DONE') log(`  ${res.outcome}: ${res.reason}`);
    moves = await sessionMoves(svc.url, sid).catch(() => null);
  } catch (e) {
    res.reason = [(e as Error).message, svc?.tail()].filter(Boolean).join('\n');
    log(`  error: ${res.reason}`);
  } finally {
    if (svc && sid) {
      await call(`${svc.url}/v1/maintenance/${sid}`, 'DELETE').catch(() => undefined);
      for (let i = 0; i < 300; i++) {
        const g = await call(`${svc.url}/v1/maintenance/${sid}`, 'GET').catch(() => null);
        if (!g || g.status === 404) break;
        await sleep(100);
      }
    }
    await mgr?.close().catch(() => undefined);
    await svc?.stop();
  }
  if (created) {
    // Nova's own record: migrations of this run's servers (they were created for it)
    res.migration_list = await migrationsOf(admin, created.servers.map((s) => s.id));
    const done = res.migration_list.filter((m) => FINISHED.has(m.status) && Number.isFinite(m.updated));
    res.migrations = res.migration_list.length;
    res.migrations_failed = res.migration_list.filter((m) => m.status === 'error' || m.status === 'failed').length;
    const per = done.map((m) => (m.updated - m.created) / 1000);
    res.s_per_migration = per.length ? +(per.reduce((a, b) => a + b, 0) / per.length).toFixed(2) : null;
    if (created.groupId) {
      res.violation_list = violations(created.servers.filter((s) => s.grouped), res.migration_list);
      res.violations = res.violation_list.length;
    }
    if (moves) {
      res.planned_moves = moves.filter((m) => m.target !== null).length;
      res.off_plan_list = offPlan(moves, res.migration_list);
      res.off_plan = res.off_plan_list.length;
    }
    for (const s of created.servers) {
      const r = await admin.req('compute', 'GET', `/servers/${s.id}`);
      res.servers_after.push({ name: s.name, host: r.status === 200 ? r.body.server['OS-EXT-SRV-ATTR:host'] : null, status: r.status === 200 ? r.body.server.status : `HTTP ${r.status}` });
    }
    const svcs = (await admin.ok('compute', 'GET', '/os-services?binary=nova-compute')).services as Json[];
    res.computes_disabled_after = svcs.filter((s) => s.status !== 'enabled').map((s) => String(s.host));
  }
  log(
    `  ${res.outcome}: total ${res.total_s ?? '-'} s, after lead ${res.after_lead_s ?? '-'} s, ${res.migrations} migrations` +
      `, nova requests ${res.nova_requests ?? '-'} (4xx ${res.nova_4xx ?? '-'})${res.violations !== null ? `, violations ${res.violations}` : ''}` +
      (res.planned_moves ? `, ${res.planned_moves - (res.off_plan ?? 0)}/${res.planned_moves} on their planned host` : ''),
  );
  return res;
}

// ---- output ---------------------------------------------------------------------------------

export const TARGETS = { default_after_lead_s: 17, vnf_after_lead_s: 15, nova_requests: 51, nova_4xx: 0, vnf_violations: 0, vnf_off_plan: 0 };

function table(rows: Record<string, string | number>[]): string {
  if (!rows.length) return '(nothing measured)';
  const cols = Object.keys(rows[0]!);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}

const fmt = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

export interface Summary {
  workflow: Workflow;
  runs: number;
  done: number;
  total_s: number | null;
  after_lead_s: number | null;
  migrations: number | null;
  s_per_migration: number | null;
  nova_requests: number | null;
  nova_4xx: number | null;
  violations: number | null;
  /** All runs: moves with a planned host, and those Nova's record contradicts (null: not reported). */
  planned_moves: number | null;
  off_plan: number | null;
}

export function summarize(results: RunResult[]): Summary[] {
  const out: Summary[] = [];
  for (const wf of [...new Set(results.map((r) => r.workflow))]) {
    const rs = results.filter((r) => r.workflow === wf);
    const ok = rs.filter((r) => r.outcome === 'MAINTENANCE_DONE');
    const med = (f: (r: RunResult) => number | null) => median(ok.map((r) => f(r) ?? NaN));
    out.push({
      workflow: wf,
      runs: rs.length,
      done: ok.length,
      total_s: med((r) => r.total_s),
      after_lead_s: med((r) => r.after_lead_s),
      migrations: med((r) => r.migrations),
      s_per_migration: med((r) => r.s_per_migration),
      nova_requests: med((r) => r.nova_requests),
      nova_4xx: med((r) => r.nova_4xx),
      violations: wf === 'vnf' ? rs.reduce((a, r) => a + (r.violations ?? 0), 0) : null,
      planned_moves: rs.some((r) => r.planned_moves !== null) ? rs.reduce((a, r) => a + (r.planned_moves ?? 0), 0) : null,
      off_plan: rs.some((r) => r.off_plan !== null) ? rs.reduce((a, r) => a + (r.off_plan ?? 0), 0) : null,
    });
  }
  return out;
}

export function report(results: RunResult[], summary: Summary[], o: Options): string {
  type Row = Pick<RunResult, 'total_s' | 'after_lead_s' | 's_per_migration' | 'nova_requests' | 'nova_4xx' | 'violations' | 'planned_moves' | 'off_plan'> & { migrations: number | null };
  const row = (wf: string, run: string, r: Row, outcome: string) => ({
    workflow: wf,
    run,
    outcome,
    total_s: fmt(r.total_s),
    after_lead_s: fmt(r.after_lead_s),
    migrations: fmt(r.migrations, 0),
    s_per_migration: fmt(r.s_per_migration),
    nova_requests: fmt(r.nova_requests, 0),
    nova_4xx: fmt(r.nova_4xx, 0),
    violations: r.violations === null ? '-' : String(r.violations),
    on_planned_host: r.planned_moves ? `${r.planned_moves - (r.off_plan ?? 0)}/${r.planned_moves}` : '-',
  });
  const parts = [
    `Real Nova: ${o.runs} run(s) per workflow, 4 servers (${o.flavor}) laid out 1/1/2 over 3 fake computes, session over every host, maintenance_at = create + ${o.leadS} s`,
    table([
      ...results.map((r) => row(r.workflow, String(r.run), r, r.outcome.replace('MAINTENANCE_', ''))),
      ...summary.map((s) => row(s.workflow, 'median', s, `${s.done}/${s.runs} done`)),
    ]),
    '',
  ];
  const problems = results.filter((r) => r.outcome !== 'MAINTENANCE_DONE' || r.violation_list.length || r.off_plan_list.length || r.manager?.errors.length || r.computes_disabled_after.length);
  if (problems.length) {
    parts.push('Problems:');
    for (const r of problems) {
      if (r.outcome !== 'MAINTENANCE_DONE') parts.push(`- ${r.workflow} run ${r.run}: ${r.outcome}: ${r.reason}`);
      for (const v of r.violation_list) parts.push(`- ${r.workflow} run ${r.run}: violation: ${v}`);
      for (const v of r.off_plan_list) parts.push(`- ${r.workflow} run ${r.run}: off plan: ${v}`);
      for (const e of r.manager?.errors ?? []) parts.push(`- ${r.workflow} run ${r.run}: application manager: ${e}`);
      if (r.computes_disabled_after.length) parts.push(`- ${r.workflow} run ${r.run}: still disabled after the session: ${r.computes_disabled_after.join(', ')}`);
    }
    parts.push('');
  }
  const first = results.find((r) => r.nova);
  if (first?.nova) {
    parts.push(`Nova requests of the service during ${first.workflow} run ${first.run} (nova-api's log; others in the window: ${first.nova.others}):`);
    for (const [k, n] of Object.entries(first.nova.by_path)) parts.push(`  ${String(n).padStart(4)}  ${k}`);
    parts.push('');
  }
  const s = new Map(summary.map((x) => [x.workflow, x]));
  const check = (what: string, v: number | null | undefined, target: number) =>
    `${v === null || v === undefined ? '?' : v <= target ? '✓' : '✗'} ${what}: ${fmt(v, 1)} (target ≤ ${target})`;
  parts.push('Targets (issue 10; medians):');
  if (s.has('default')) parts.push(check('default, time after the lead (s)', s.get('default')!.after_lead_s, TARGETS.default_after_lead_s));
  if (s.has('vnf')) parts.push(check('vnf, time after the lead (s)', s.get('vnf')!.after_lead_s, TARGETS.vnf_after_lead_s));
  for (const x of summary) {
    parts.push(check(`${x.workflow}, Nova API requests per session`, x.nova_requests, TARGETS.nova_requests));
    parts.push(check(`${x.workflow}, Nova 4xx per session`, x.nova_4xx, TARGETS.nova_4xx));
  }
  if (s.has('vnf')) parts.push(check('vnf, constraint violations (all runs)', s.get('vnf')!.violations, TARGETS.vnf_violations));
  const vnf = s.get('vnf');
  if (vnf?.planned_moves) parts.push(check(`vnf, moves off their planned host per Nova's records (all runs, of ${vnf.planned_moves} planned)`, vnf.off_plan, TARGETS.vnf_off_plan));
  else if (vnf) parts.push(`? vnf, moves on their planned host: ${vnf.planned_moves === null ? "this version's detail does not say the planned host" : 'no move had a planned host'}`);
  return parts.join('\n');
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  let o: Options;
  let creds: Creds;
  try {
    o = parseOptions(process.argv.slice(2), process.env);
    creds = credsFromEnv(process.env);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${usage()}`);
    return 2;
  }
  const notifications = process.env.FENIX_NOVA_NOTIFICATIONS;
  if (!notifications) {
    console.error("error: FENIX_NOVA_NOTIFICATIONS not set: the lane's admin-openrc sets it when Nova emits versioned notifications (re-run bash .ci/infra/openstack-up.sh, then source /var/tmp/fenix-ci/os/admin-openrc)");
    return 2;
  }
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
    console.error('error: dist/ is missing; run `npm run build` (npm run bench:nova does)');
    return 2;
  }
  if (logSize(o.novaLog) === null) log(`${o.novaLog} not found: Nova requests are not counted (--nova-log)`);
  const passFlag = serveHasFlag('--nova-notifications');
  log(passFlag ? `fenix serve --nova-notifications ${notifications}` : 'fenix serve has no --nova-notifications flag: started without it');

  const admin = new OpenStack(creds);
  const inProject = new OpenStack({ ...creds, project: o.project });
  const ids = await lookup(admin, o);
  await inProject.ids().catch((e: Error) => {
    throw new Error(`${creds.username} cannot act in project ${o.project} (the lane's seed gives admin the admin role there): ${e.message}`);
  });
  workDir = mkdtempSync(join(tmpdir(), 'fenix-bench-nova-'));
  const started = new Date();
  const results: RunResult[] = [];
  try {
    for (const wf of o.workflows)
      for (let run = 1; run <= o.runs; run++) results.push(await oneRun(o, admin, inProject, ids, wf, run, passFlag ? notifications : null));
  } finally {
    await resetCloud(admin).catch((e: Error) => log(`final reset failed: ${e.message}`));
  }
  const summary = summarize(results);
  console.log(report(results, summary, o));
  const out = resolve(o.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        started: started.toISOString(),
        finished: new Date().toISOString(),
        machine: { node: process.version, cpus: cpus().length, loadavg_at_end: loadavg() },
        options: o,
        cloud: { computes: ids.computes, project_id: ids.projectId, service_user_id: ids.serviceUserId, network: ids.networkId, layout: layout(ids.computes) },
        nova_notifications: passFlag ? notifications : null,
        targets: TARGETS,
        summary,
        runs: results,
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${out}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Children never outlive the benchmark.
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    killAll();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => stop(130));
  process.on('SIGTERM', () => stop(143));
  process.on('exit', killAll);
  main().then(stop, (e) => {
    console.error(e);
    stop(1);
  });
}
