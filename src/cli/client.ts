// `fenix session …` and `fenix subscription …`: admin client commands over the /v1 HTTP API.
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { FenixHttp, formatError, resolveApi, resolveToken } from './http.js';
import { watchSession, type Screen } from './watch.js';

/** Where the commands write; tests pass their own. */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  /** A terminal to redraw `session watch` on; absent or null: a plain line per change. */
  screen?: Screen | null;
}

const stdio: CliIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  get screen() {
    return process.stdout.isTTY ? process.stdout : null;
  },
};

interface ConnOpts {
  api?: string;
  token?: string;
}

const withConn = (cmd: Command): Command =>
  cmd
    .option('--api <url>', 'Fenix API base URL (env FENIX_API, default http://127.0.0.1:12347)')
    .option('--token <token>', 'X-Auth-Token (env FENIX_TOKEN)');

const clientOf = (o: ConnOpts): FenixHttp => new FenixHttp({ api: resolveApi(o.api), token: resolveToken(o.token) });

const enc = encodeURIComponent;

const jsonArg =
  (name: string) =>
  (v: string): unknown => {
    try {
      return JSON.parse(v) as unknown;
    } catch (err) {
      throw new InvalidArgumentError(`${name} is not valid JSON: ${(err as Error).message}`);
    }
  };

const listArg = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

const intArg =
  (name: string, min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };

// ---------------------------------------------------------------------------------------------
// Reading loosely shaped JSON (the detail view is the API's to grow)

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The first present field among snake_case / camelCase spellings. */
function pick(o: unknown, ...keys: string[]): unknown {
  if (!isObj(o)) return undefined;
  for (const k of keys) {
    if (o[k] !== undefined) return o[k];
    const camel = k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (o[camel] !== undefined) return o[camel];
  }
  return undefined;
}

function asArray(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObj(v)) return Object.entries(v).map(([k, x]) => (isObj(x) ? { name: k, ...x } : { name: k, value: x }));
  return [];
}

/** Times as ISO (ms epoch or strings), other values compactly. */
function show(v: unknown, key = ''): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'number' && v > 1e11 && /(_at|At|time|Time|^at)$/.test(key)) return new Date(v).toISOString();
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map((x) => show(x)).join(',');
  if (isObj(v)) return JSON.stringify(v);
  return String(v);
}

interface Column {
  title: string;
  keys: string[];
}

function table(rows: unknown[], columns: Column[]): string[] {
  const cells = rows.map((r) => columns.map((c) => show(pick(r, ...c.keys), c.keys[0])));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)];
}

function waitingFor(detail: Obj, session: Obj, projects: unknown[]): string[] {
  const w = pick(detail, 'waiting_for', 'waiting') ?? pick(session, 'waiting_for', 'waiting');
  if (typeof w === 'string') return w ? [w] : [];
  if (Array.isArray(w)) {
    return w.map((x) =>
      typeof x === 'string' ? x : show(pick(x, 'description', 'message', 'reason', 'what') ?? x),
    );
  }
  if (isObj(w)) return Object.entries(w).map(([k, v]) => `${k}: ${show(v)}`);
  // Derive it: projects asked for a reply that has not come yet.
  const out: string[] = [];
  for (const p of projects) {
    const awaiting = pick(p, 'awaiting', 'awaited_state');
    const got = pick(p, 'reply');
    if (typeof awaiting === 'string' && awaiting && !got) {
      const until = pick(p, 'reply_at');
      out.push(`project ${show(pick(p, 'project_id', 'id', 'name'))} to answer ${awaiting}${until ? ` by ${show(until, 'reply_at')}` : ''}`);
    }
  }
  return out;
}

/** A list's total from the answer's `page` object (paged detail), else the rows present. */
function totalOf(d: Obj, list: string, shown: number): number {
  const t = pick(pick(d, 'page'), list);
  const n = pick(t, 'total');
  return typeof n === 'number' && n >= shown ? n : shown;
}

/** " (100 of 2000 shown; --all for every one)" when the answer holds one page of a longer list. */
const partial = (shown: number, total: number): string => (total > shown ? ` (${shown} of ${total} shown; --all for every one)` : '');

/** The detail's lists, read a page at a time (GET …/detail?lists=L&L_after=cursor). */
export const DETAIL_LISTS = ['hosts', 'projects', 'instances', 'plugin_runs', 'operations', 'deliveries', 'timeline', 'replies'] as const;

/**
 * Completes a detail answer `d` in place, page by page, until each list holds `want[list]` rows or
 * all of them (default: every row of every list). Only the list being walked is read each time.
 * The timeline's pages go back in time, so older entries go in front.
 */
export async function pageDetail(get: (path: string) => Promise<unknown>, id: string, d: Obj, want: Partial<Record<string, number>> = {}, all = true): Promise<Obj> {
  const page = pick(d, 'page');
  if (!isObj(page)) return d;
  for (const list of DETAIL_LISTS) {
    const p = page[list];
    if (!isObj(p)) continue;
    const goal = want[list] ?? (all ? Infinity : 0);
    let rows = Array.isArray(d[list]) ? (d[list] as unknown[]) : [];
    let next = p.next;
    while (typeof next === 'string' && rows.length < goal) {
      const r = await get(`/v1/maintenance/${enc(id)}/detail?lists=${list}&limit=1000&${list}_after=${enc(next)}`);
      const more = isObj(r) && Array.isArray(r[list]) ? (r[list] as unknown[]) : [];
      rows = list === 'timeline' ? [...more, ...rows] : [...rows, ...more];
      const np = isObj(r) ? pick(pick(r, 'page'), list) : undefined;
      next = isObj(np) ? np.next : null;
    }
    d[list] = rows;
    page[list] = { ...p, next: typeof next === 'string' ? next : null };
  }
  return d;
}

/** A readable summary of GET /v1/maintenance/{id}/detail. */
export function summarizeDetail(detail: unknown, timelineLines = 15): string[] {
  const d: Obj = isObj(detail) ? detail : {};
  const s: Obj = isObj(d.session) ? d.session : d;
  const lines: string[] = [];
  const percent = pick(d, 'percent_done') ?? pick(s, 'percent_done');
  const paused = pick(s, 'paused') === true || pick(d, 'paused') === true;
  lines.push(
    `session ${show(pick(s, 'session_id', 'id'))}  state ${show(pick(s, 'state'))}${paused ? ' (paused)' : ''}  ` +
      `workflow ${show(pick(s, 'workflow'))}  ${percent === undefined ? '-' : show(percent)}% done`,
  );
  const at = pick(s, 'maintenance_at');
  if (at !== undefined) lines.push(`maintenance at ${show(at, 'maintenance_at')}`);
  const reason = pick(s, 'reason', 'error', 'failure');
  if (reason) lines.push(`reason: ${show(reason)}`);

  const projects = asArray(pick(d, 'projects'));
  const waiting = waitingFor(d, s, projects);
  lines.push(`waiting for: ${waiting.length ? waiting.join('; ') : 'nothing'}`);

  const hosts = asArray(pick(d, 'hosts'));
  if (hosts.length) {
    lines.push('', `hosts${partial(hosts.length, totalOf(d, 'hosts', hosts.length))}:`);
    lines.push(
      ...table(hosts, [
        { title: 'HOST', keys: ['name', 'host', 'hostname'] },
        { title: 'TYPE', keys: ['type'] },
        { title: 'STATUS', keys: ['status', 'step', 'current_step', 'state'] },
        { title: 'MAINTAINED', keys: ['maintained', 'maintained_at'] },
        { title: 'DISABLED_BY_US', keys: ['disabled_by_us', 'disabled'] },
      ]).map((l) => '  ' + l),
    );
  }
  if (projects.length) {
    lines.push('', `projects${partial(projects.length, totalOf(d, 'projects', projects.length))}:`);
    lines.push(
      ...table(projects, [
        { title: 'PROJECT', keys: ['project_id', 'id', 'name'] },
        { title: 'AWAITING', keys: ['awaiting', 'state'] },
        { title: 'REPLY', keys: ['reply'] },
        { title: 'REPLY_AT', keys: ['reply_at'] },
        { title: 'LAST_REPLY', keys: ['last_reply'] },
        { title: 'INTERACTING', keys: ['interacting', 'subscribed'] },
      ]).map((l) => '  ' + l),
    );
  }
  const instances = asArray(pick(d, 'instances'));
  if (instances.length) {
    const count: Record<string, number> = {};
    for (const i of instances) {
      const st = show(pick(i, 'status', 'state'));
      count[st] = (count[st] ?? 0) + 1;
    }
    const total = totalOf(d, 'instances', instances.length);
    lines.push(
      '',
      `instances: ${total} (${total > instances.length ? `of the ${instances.length} shown: ` : ''}${Object.entries(count)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')})`,
    );
  }
  const outbox = asArray(pick(d, 'outbox', 'deliveries', 'outbox_deliveries'));
  if (outbox.length) {
    const bad = outbox.filter((o) => {
      const st = pick(o, 'status');
      return st !== 'delivered';
    });
    const total = totalOf(d, 'deliveries', outbox.length);
    lines.push(`deliveries: ${total} (${total > outbox.length ? `of the ${outbox.length} shown: ` : ''}${outbox.length - bad.length} delivered, ${bad.length} pending/dead)`);
    for (const o of bad.slice(-5)) {
      lines.push(
        `  ${show(pick(o, 'event_type'))} to ${show(pick(o, 'subscription_id', 'url'))}: ${show(pick(o, 'status'))}, ` +
          `${show(pick(o, 'attempts'))} attempt(s), last ${show(pick(o, 'last_error', 'last_status'))}`,
      );
    }
  }
  const plugins = asArray(pick(d, 'plugins', 'plugin_runs'));
  if (plugins.length) {
    lines.push('', `plug-ins${partial(plugins.length, totalOf(d, 'plugin_runs', plugins.length))}:`);
    lines.push(
      ...table(plugins, [
        { title: 'PLUGIN', keys: ['plugin', 'name', 'subject'] },
        { title: 'TYPE', keys: ['type'] },
        { title: 'HOST', keys: ['host'] },
        { title: 'STATE', keys: ['state', 'status'] },
      ]).map((l) => '  ' + l),
    );
  }
  const timeline = asArray(pick(d, 'timeline'));
  if (timeline.length) {
    lines.push('', `timeline (last ${Math.min(timelineLines, timeline.length)} of ${totalOf(d, 'timeline', timeline.length)}):`);
    for (const t of timeline.slice(-timelineLines)) {
      if (!isObj(t)) {
        lines.push(`  ${show(t)}`);
        continue;
      }
      const when = pick(t, 'at', 'time', 'timestamp');
      lines.push(`  ${show(when, 'at')}  ${show(pick(t, 'kind', 'type'))}  ${show(pick(t, 'message', 'text'))}`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Commands

type Action<A extends unknown[]> = (...args: A) => Promise<void>;

/**
 * Commander passes (...positionals, options, command). Merge options of parent commands (e.g. a
 * program-wide --api) under the command's own, so either placement works.
 */
export function withGlobals(args: unknown[]): unknown[] {
  const cmd = args.at(-1) as Command | undefined;
  if (args.length < 2 || !cmd || typeof cmd.optsWithGlobals !== 'function') return args;
  const own = Object.fromEntries(Object.entries(args.at(-2) as Obj).filter(([, v]) => v !== undefined));
  return [...args.slice(0, -2), { ...cmd.optsWithGlobals(), ...own }, cmd];
}

export function registerClientCommands(program: Command, io: CliIO = stdio): void {
  /** Runs an action; any error becomes `error CODE: message` and exit code 1. */
  const run =
    <A extends unknown[]>(fn: Action<A>) =>
    async (...args: A): Promise<void> => {
      try {
        await fn(...(withGlobals(args) as A));
      } catch (err) {
        io.err(formatError(err));
        process.exitCode = 1;
      }
    };
  const json = (v: unknown): void => io.out(JSON.stringify(v, null, 2));

  const session = program.command('session').description('maintenance sessions (admin API)');

  withConn(session.command('create'))
    .description('create a maintenance session and print its id')
    .option('--hosts <a,b>', 'hosts to maintain (default: every host)', listArg)
    .option('--at <time>', 'maintenance_at: "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601 (default now)')
    .option('--workflow <name>', 'default | vnf | k8s', 'default')
    .option('--metadata <json>', 'metadata passed to projects, e.g. \'{"openstack_version":"Train"}\'', jsonArg('--metadata'))
    .option('--actions <json>', 'action plug-ins: [{"plugin","type","metadata"}]', jsonArg('--actions'))
    .option('--download <urls>', 'comma-separated URLs to fetch before pre plug-ins', listArg)
    .option('--extra <json>', 'more body fields (project extensions), merged last', jsonArg('--extra'))
    .option('--wait', 'poll until MAINTENANCE_DONE / MAINTENANCE_FAILED, printing state changes')
    .option('--watch', 'then watch it live, as `session watch` does (exit code 0 when done, 1 when failed)')
    .option('--interval <ms>', 'poll interval for --wait and --watch (default 2000 for --wait, 1000 for --watch)', intArg('--interval', 1))
    .option('--no-color', 'no colours in the --watch view (also env NO_COLOR)')
    .option('--json', 'print the created session as JSON (with --watch: then each change of its detail, one JSON line each)')
    .action(
      run(
        async (o: ConnOpts & {
          hosts?: string[];
          at?: string;
          workflow: string;
          metadata?: unknown;
          actions?: unknown;
          download?: string[];
          extra?: unknown;
          wait?: boolean;
          watch?: boolean;
          interval?: number;
          color: boolean;
          json?: boolean;
        }) => {
          const http = clientOf(o);
          const body: Obj = { state: 'MAINTENANCE', workflow: o.workflow };
          if (o.hosts) body.hosts = o.hosts;
          if (o.at) body.maintenance_at = o.at;
          if (o.metadata !== undefined) body.metadata = o.metadata;
          if (o.actions !== undefined) body.actions = o.actions;
          if (o.download) body.download = o.download;
          if (isObj(o.extra)) Object.assign(body, o.extra);
          const res = await http.post<{ session_id?: string }>('/v1/maintenance', body);
          const id = res?.session_id;
          if (!id) throw new Error(`no session_id in answer: ${JSON.stringify(res)}`);
          if (o.json) io.out(o.watch ? JSON.stringify(res) : JSON.stringify(res, null, 2));
          else io.out(id);
          if (o.watch) await watch(http, id, { interval: o.interval ?? 1000, color: o.color, json: o.json });
          else if (o.wait) await waitDone(http, id, o.interval ?? 2000, io);
        },
      ),
    );

  /** `session watch` and `create --watch`: ends with the session (exit code 0 done, 1 failed, 130 Ctrl-C). */
  const watch = async (http: FenixHttp, id: string, o: { interval: number; color: boolean; json?: boolean }): Promise<void> => {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const screen = o.json ? null : (io.screen ?? null);
      const code = await watchSession({
        http,
        id,
        intervalMs: o.interval,
        screen,
        out: io.out,
        err: io.err,
        colour: o.color && Boolean(screen) && !process.env.NO_COLOR,
        json: o.json === true,
        signal: stop.signal,
      });
      if (code !== 0) process.exitCode = code;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };

  withConn(session.command('watch <id>'))
    .description('follow a session live until it ends: host grid, progress, what it waits for, latest events (a plain line per change when stdout is not a terminal)')
    .option('--interval <ms>', 'how often to read the session', intArg('--interval', 1), 1000)
    .option('--no-color', 'no colours (also env NO_COLOR)')
    .option('--json', 'each change of the detail answer as one JSON line')
    .action(
      run(async (id: string, o: ConnOpts & { interval: number; color: boolean; json?: boolean }) => {
        await watch(clientOf(o), id, o);
      }),
    );

  withConn(session.command('list'))
    .description('list sessions: id, state, workflow, progress, created (oldest first)')
    .option('-q, --quiet', 'only the session ids, one a line')
    .option('--json', 'print the raw JSON of GET /v1/maintenance')
    .addOption(new Option('--long').hideHelp()) // the table used to need it; now the default
    .action(
      run(async (o: ConnOpts & { quiet?: boolean; json?: boolean }) => {
        const http = clientOf(o);
        const res = await http.get<{ sessions?: unknown[] }>('/v1/maintenance');
        if (o.json) return json(res);
        const ids = (res?.sessions ?? []).map((s) => (isObj(s) ? String(pick(s, 'session_id', 'id')) : String(s)));
        if (o.quiet) {
          for (const id of ids) io.out(id);
          return;
        }
        if (!ids.length) {
          io.err(`no maintenance sessions at ${http.api}`);
          return;
        }
        // The list holds ids only (the Fenix API's shape). This service's live view lists every
        // session's row in one answer (GET /v1/events); a session it does not show, or an API
        // without it (the original Fenix), costs one GET a session, a few at a time.
        const known = new Map<string, Obj>();
        const live = await http.get<{ lists?: { sessions?: unknown } }>('/v1/events').catch(() => null);
        if (isObj(live) && isObj(live.lists) && Array.isArray(live.lists.sessions))
          for (const r of live.lists.sessions) if (isObj(r) && typeof r.session_id === 'string') known.set(r.session_id, r);
        const rows: Obj[] = ids.map((id) => known.get(id) ?? { session_id: id });
        const missing = ids.flatMap((id, i) => (known.has(id) ? [] : [i]));
        let next = 0;
        const worker = async () => {
          for (let k = next++; k < missing.length; k = next++) {
            const i = missing[k]!;
            try {
              rows[i] = await http.get<Obj>(`/v1/maintenance/${enc(ids[i]!)}`);
            } catch (err) {
              rows[i] = { session_id: ids[i], state: formatError(err) };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(8, missing.length) }, worker));
        rows.sort((a, b) => String(pick(a, 'created_at') ?? '').localeCompare(String(pick(b, 'created_at') ?? '')));
        const view = rows.map((r) => ({ ...r, progress: typeof r.percent_done === 'number' ? `${r.percent_done}%` : undefined, state: r.paused === true ? `${show(r.state)} (paused)` : r.state }));
        for (const l of table(view, [
          { title: 'SESSION', keys: ['session_id'] },
          { title: 'STATE', keys: ['state'] },
          { title: 'WORKFLOW', keys: ['workflow'] },
          { title: 'PROGRESS', keys: ['progress'] },
          { title: 'CREATED', keys: ['created_at'] },
        ]))
          io.out(l);
      }),
    );

  withConn(session.command('show <id>'))
    .description('print a session (GET /v1/maintenance/{id}) as JSON')
    .option('--json', 'the same (every client command takes --json)')
    .action(
      run(async (id: string, o: ConnOpts) => {
        json(await clientOf(o).get(`/v1/maintenance/${enc(id)}`));
      }),
    );

  withConn(session.command('detail <id>'))
    .description('state, progress, what it waits for, hosts, projects and recent timeline')
    .option('--json', 'print the raw detail JSON')
    .option('--timeline <n>', 'timeline entries to show', intArg('--timeline', 0), 15)
    .option('--all', 'every row of every list (the API answers a page of each: this reads them all)')
    .action(
      run(async (id: string, o: ConnOpts & { json?: boolean; timeline: number; all?: boolean }) => {
        const client = clientOf(o);
        const first = await client.get(`/v1/maintenance/${enc(id)}/detail`);
        // The newest timeline page may hold fewer entries than asked for: read older pages too.
        const d = isObj(first) ? await pageDetail((p) => client.get(p), id, first, o.json && !o.all ? {} : { timeline: o.timeline }, o.all === true) : first;
        if (o.json) json(d);
        else for (const l of summarizeDetail(d, o.timeline)) io.out(l);
      }),
    );

  withConn(session.command('delete <id>'))
    .description('stop and remove a session (hosts are put back)')
    .option('--json', "print the API's answer as JSON")
    .action(
      run(async (id: string, o: ConnOpts & { json?: boolean }) => {
        const res = await clientOf(o).delete(`/v1/maintenance/${enc(id)}`);
        if (o.json) return json(res ?? {});
        io.out(`deleted ${id}`);
      }),
    );

  withConn(session.command('continue <id>'))
    .description('continue a MAINTENANCE_FAILED session (from --state, or where it failed)')
    .option('--state <state>', 'state to continue from')
    .option('--json', 'print the session as the API answers it')
    .action(
      run(async (id: string, o: ConnOpts & { state?: string; json?: boolean }) => {
        const body = o.state ? { state: o.state } : { action: 'continue' };
        const res = await clientOf(o).put(`/v1/maintenance/${enc(id)}`, body);
        if (o.json) return json(res);
        io.out(`${id} ${show(pick(res, 'state')) === '-' ? 'continued' : show(pick(res, 'state'))}`);
      }),
    );

  for (const action of ['pause', 'resume', 'abort'] as const) {
    withConn(session.command(`${action} <id>`))
      .description(`${action} a session`)
      .option('--json', 'print the session as the API answers it')
      .action(
        run(async (id: string, o: ConnOpts & { json?: boolean }) => {
          const res = await clientOf(o).put(`/v1/maintenance/${enc(id)}`, { action });
          if (o.json) return json(res);
          const state = pick(res, 'state');
          const paused = pick(res, 'paused');
          io.out(`${id} ${action}d${state ? ` (state ${show(state)}${paused === true ? ', paused' : ''})` : ''}`);
        }),
      );
  }

  withConn(program.command('plan'))
    .description('dry-run: the plan a vnf / k8s session would follow on the cloud as it is now (nothing is created)')
    .option('--hosts <a,b>', 'hosts to maintain (default: every host)', listArg)
    .option('--at <time>', 'maintenance_at: "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601 (default now)')
    .option('--workflow <name>', 'vnf | k8s', 'vnf')
    .option('--max-parallel-hosts <n>', 'hosts in maintenance at once (0: as capacity allows)', intArg('--max-parallel-hosts', 0))
    .option('--estimates <json>', 'durations to assume, e.g. \'{"migrate_s":20,"host_maintenance_s":900}\'', jsonArg('--estimates'))
    .option('--moves', 'list every planned move')
    .option('--json', 'print the plan as JSON')
    .action(
      run(async (o: ConnOpts & { hosts?: string[]; at?: string; workflow: string; maxParallelHosts?: number; estimates?: unknown; moves?: boolean; json?: boolean }) => {
        const body: Obj = { workflow: o.workflow };
        if (o.hosts) body.hosts = o.hosts;
        if (o.at) body.maintenance_at = o.at;
        if (o.maxParallelHosts !== undefined) body.max_parallel_hosts = o.maxParallelHosts;
        if (o.estimates !== undefined) body.estimates = o.estimates;
        const plan = await clientOf(o).post<Obj>(`/v1/maintenance/plan${o.moves || o.json ? '' : '?moves=false'}`, body);
        if (o.json) return json(plan);
        for (const l of summarizePlan(plan, o.moves === true)) io.out(l);
        if (pick(plan, 'feasible') === false) process.exitCode = 1;
      }),
    );

  const sub = program.command('subscription').description('notification subscriptions');

  withConn(sub.command('add'))
    .description('subscribe a webhook and print the subscription id')
    .requiredOption('--url <url>', 'webhook URL the engine POSTs to')
    .option('--project <pid>', 'project id (required for maintenance.scheduled)')
    .option('--events <types>', 'comma-separated event types', listArg, ['maintenance.scheduled'])
    .addOption(new Option('--format <format>', 'notification format').choices(['aodh', 'json']).default('aodh'))
    .option('--secret <secret>', 'HMAC secret (JSON format)')
    .option('--json', 'print the subscription as the API answers it')
    .action(
      run(async (o: ConnOpts & { url: string; project?: string; events: string[]; format: string; secret?: string; json?: boolean }) => {
        const body: Obj = { url: o.url, event_types: o.events, format: o.format };
        if (o.project) body.project_id = o.project;
        if (o.secret) body.secret = o.secret;
        const res = await clientOf(o).post<{ subscription_id?: string; id?: string }>('/v1/subscriptions', body);
        if (o.json) return json(res);
        io.out(String(res?.subscription_id ?? res?.id ?? JSON.stringify(res)));
      }),
    );

  withConn(sub.command('list'))
    .description('list subscriptions')
    .option('--json', 'print the raw JSON')
    .action(
      run(async (o: ConnOpts & { json?: boolean }) => {
        const res = await clientOf(o).get<unknown>('/v1/subscriptions');
        if (o.json) return json(res);
        const rows = Array.isArray(res) ? res : asArray(pick(res, 'subscriptions'));
        for (const l of table(rows, [
          { title: 'ID', keys: ['subscription_id', 'id'] },
          { title: 'PROJECT', keys: ['project_id'] },
          { title: 'FORMAT', keys: ['format'] },
          { title: 'EVENTS', keys: ['event_types'] },
          { title: 'URL', keys: ['url'] },
        ]))
          io.out(l);
      }),
    );

  withConn(sub.command('delete <id>'))
    .description('delete a subscription')
    .option('--json', "print the API's answer as JSON")
    .action(
      run(async (id: string, o: ConnOpts & { json?: boolean }) => {
        const res = await clientOf(o).delete(`/v1/subscriptions/${enc(id)}`);
        if (o.json) return json(res ?? {});
        io.out(`deleted ${id}`);
      }),
    );
}

/** "1 host", "3 hosts", "- hosts" (unknown). */
export const count = (n: unknown, one: string, many = `${one}s`): string => `${show(n)} ${n === 1 ? one : many}`;

/** A readable summary of POST /v1/maintenance/plan. */
export function summarizePlan(plan: unknown, withMoves = false): string[] {
  const p: Obj = isObj(plan) ? plan : {};
  const lb: Obj = isObj(p.lower_bound) ? p.lower_bound : {};
  const stats: Obj = isObj(p.stats) ? p.stats : {};
  const secs = (v: unknown) => (typeof v === 'number' ? `${Math.round(v)}s` : '-');
  // Two different counts: the lower bound's is how many compute hosts today's free vCPUs could hold
  // in maintenance at once (what the bound assumes); the plan's is how many hosts it has out of
  // service at its peak, counting hosts still being emptied and non-compute hosts (controllers go
  // one at a time, beside the computes), so it can be larger. The words say which is which.
  const lines = [
    `${show(p.workflow)} plan over ${count(p.host_count, 'host')}: ${p.feasible === true ? 'feasible' : 'NOT feasible'}` +
      (p.feasible === true ? `, expected ${secs(p.expected_duration_s)} (ends ${show(p.expected_end)})` : ''),
    `lower bound ${secs(lb.total_s)} (bound by ${show(lb.binding)}; the free capacity holds ${count(lb.hosts_in_maintenance_at_once, 'compute host')} in maintenance at a time)`,
    `${count(stats.batches, 'batch', 'batches')}, ${count(stats.moves, 'move')} (${count(stats.second_moves, 'second move')}); ` +
      `at its peak the plan has ${count(stats.max_hosts_out, 'host')} out of service at once (being emptied or in maintenance, non-compute hosts included)`,
  ];
  if (typeof p.missing_vcpus === 'number' && p.missing_vcpus > 0) lines.push(`missing capacity: about ${p.missing_vcpus} vCPUs (the session would ask for scale-in)`);
  const reasons = asArray(p.reasons);
  if (reasons.length) lines.push('', 'reasons:', ...reasons.map((r) => `  ${show(pick(r, 'severity'))} ${show(pick(r, 'kind'))}: ${show(pick(r, 'message'))}`));
  const batches = asArray(p.batches).map((b) => {
    const h = isObj(pick(b, 'headroom')) ? (pick(b, 'headroom') as Obj) : {};
    return { ...(b as Obj), n: asArray(pick(b, 'hosts')).length, free: h.free_vcpus, reserved: h.reserved_vcpus, out: h.hosts_out };
  });
  if (batches.length) {
    lines.push('', 'batches:');
    lines.push(
      ...table(batches, [
        { title: 'BATCH', keys: ['index'] },
        { title: 'START_S', keys: ['start_s'] },
        { title: 'DONE_S', keys: ['done_s'] },
        { title: 'N', keys: ['n'] },
        { title: 'FREE_VCPUS', keys: ['free'] },
        { title: 'RESERVED', keys: ['reserved'] },
        { title: 'HOSTS_OUT', keys: ['out'] },
        { title: 'HOSTS', keys: ['hosts'] },
      ]).map((l) => '  ' + l),
    );
  }
  const moves = asArray(p.moves);
  if (withMoves && moves.length) {
    lines.push('', 'moves:');
    lines.push(
      ...table(moves, [
        { title: 'INSTANCE', keys: ['instance_id'] },
        { title: 'FROM', keys: ['from'] },
        { title: 'TO', keys: ['to'] },
        { title: 'ACTION', keys: ['action'] },
        { title: 'BATCH', keys: ['batch'] },
        { title: 'NOTIFY_S', keys: ['notify_s'] },
        { title: 'START_S', keys: ['start_s'] },
        { title: 'END_S', keys: ['end_s'] },
      ]).map((l) => '  ' + l),
    );
  }
  return lines;
}

/** Polls a session until it is done or failed, printing each change; exit code 1 on failure. */
async function waitDone(http: FenixHttp, id: string, intervalMs: number, io: CliIO): Promise<void> {
  let last = '';
  for (;;) {
    const s = await http.get<Obj>(`/v1/maintenance/${enc(id)}`);
    const state = show(pick(s, 'state'));
    const percent = pick(s, 'percent_done');
    const paused = pick(s, 'paused') === true;
    const line = `${state}${percent === undefined ? '' : ` ${show(percent)}%`}${paused ? ' (paused)' : ''}`;
    if (line !== last) {
      io.out(`${new Date().toISOString()} ${line}`);
      last = line;
    }
    if (state === 'MAINTENANCE_DONE') return;
    if (state === 'MAINTENANCE_FAILED') {
      const reason = pick(s, 'reason');
      if (reason) io.err(`session ${id} failed: ${show(reason)}`);
      process.exitCode = 1;
      return;
    }
    await delay(intervalMs);
  }
}
