// `fenix vnfm`: the OPNFV Doctor "sample" application manager (spec §9) as a real webhook server.
// It subscribes for one project, answers every notification with 200 at once, then acts on it
// asynchronously through the HTTP API only: replies, scale-in and scale-out via the simulator.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ApiError, FenixHttp, formatError, resolveApi, resolveToken } from './http.js';
import { novaScaler, novaScalerFromEnv, type InstanceScaler } from './nova-scaler.js';
import { decodeTraitText } from './python-literal.js';

export type NotificationFormat = 'aodh' | 'json';

export interface SampleVnfmOptions {
  /** The project (tenant) this application manager answers for. */
  projectId: string;
  /** Fenix API base; default FENIX_API or http://127.0.0.1:12347. */
  api?: string;
  /** X-Auth-Token; default FENIX_TOKEN. */
  token?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** URL the engine should POST notifications to; default http://<host>:<port>/maintenance. */
  publicUrl?: string;
  /** Instances to delete on SCALE_IN (re-created on MAINTENANCE_COMPLETE); default 1. */
  scaleIn?: number;
  /** Notification format to subscribe with; default aodh. */
  format?: NotificationFormat;
  /** Extra wait before each reply PUT (a slow application manager); default 0. */
  replyDelayMs?: number;
  /** Wait between attempts of a failed reply PUT or API read; default 1000. */
  retryDelayMs?: number;
  /** Attempts of a reply PUT or API read before giving up; default 6 (the first and 5 retries). */
  attempts?: number;
  /** Subscription secret (JSON format: the engine signs its POSTs with it). */
  secret?: string;
  /** One message per step, without the project (the caller's logger names it); default: stdout as `vnfm[<project>] message`. */
  log?: (message: string) => void;
  /** Scale through this (e.g. a real Nova: novaScaler in nova-scaler.ts) instead of the simulator API. */
  scaler?: InstanceScaler;
}

/** A notification as this application manager understood it. */
export interface ReceivedEvent {
  messageId: string | null;
  eventType: string;
  format: NotificationFormat;
  /** Payload `state`, e.g. PREPARE_MAINTENANCE or INSTANCE_ACTION_DONE. */
  state: string | null;
  sessionId: string | null;
  projectId: string | null;
  /** The project URL, or a list of ids (per-instance events). */
  instanceIds: string | string[] | null;
  allowedActions: string[];
  replyUrl: string | null;
  metadata: Record<string, unknown>;
  /** The whole decoded payload. */
  payload: Record<string, unknown>;
  receivedAt: number;
}

/** A reply PUT, recorded once it succeeded or gave up. */
export interface SentReply {
  url: string;
  body: Record<string, unknown>;
  /** The reply state, e.g. ACK_SCALE_IN. */
  state: string;
  /** Message id of the notification answered. */
  messageId: string | null;
  /** Last HTTP status (0: not reachable). */
  status: number;
  attempts: number;
  ok: boolean;
  at: number;
}

export interface ScaledInInstance {
  id: string;
  name: string;
  vcpus: number;
}

export interface SampleVnfm {
  /** The webhook URL it subscribed with (publicUrl when given). */
  url: string;
  /** Where it actually listens: http://<host>:<port>/maintenance. */
  localUrl: string;
  subscriptionId: string;
  projectId: string;
  /** Notifications received (duplicates by message_id left out), in arrival order. */
  received: ReceivedEvent[];
  /** Replies sent, in order. */
  replies: SentReply[];
  /** Instances deleted on SCALE_IN and not re-created yet. */
  scaledIn: ScaledInInstance[];
  /** Resolves when every notification received so far has been handled. */
  idle(): Promise<void>;
  /** Stops acting, deletes the subscription, closes the server. Idempotent. */
  close(): Promise<void>;
}

const REPLY_ATTEMPTS = 6; // the first PUT and up to 5 retries, like the Doctor clients
const MAX_BODY = 1024 * 1024;

interface SimInstance {
  id: string;
  name: string;
  project_id?: string;
  host?: string;
  vcpus?: number;
}

// ---------------------------------------------------------------------------------------------
// Decoding notifications

export interface DecodedNotification {
  format: NotificationFormat;
  messageId: string | null;
  eventType: string;
  generated: string | null;
  payload: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** AODH traits `[name, dtype, value]` (or `{name, dtype, value}`) to a payload object. */
export function decodeTraits(traits: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(traits)) return out;
  for (const t of traits) {
    let name: unknown, dtype: unknown, value: unknown;
    if (Array.isArray(t)) [name, dtype, value] = t as unknown[];
    else if (isObj(t)) ({ name, dtype, value } = t);
    else continue;
    if (typeof name !== 'string') continue;
    let v: unknown = value;
    if (typeof value === 'string') {
      if ((dtype === 2 || dtype === 3) && value.trim() !== '' && !Number.isNaN(Number(value))) v = Number(value);
      else if (dtype !== 4) v = decodeTraitText(value);
    }
    Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** An AODH alarm POST or a JSON-format POST (spec §7); throws on anything else. */
export function decodeNotification(body: unknown): DecodedNotification {
  if (!isObj(body)) throw new Error('notification is not a JSON object');
  const rd = body.reason_data;
  if (isObj(rd) && isObj(rd.event)) {
    const ev = rd.event;
    return {
      format: 'aodh',
      messageId: str(ev.message_id),
      eventType: str(ev.event_type) ?? '',
      generated: str(ev.generated),
      payload: decodeTraits(ev.traits),
    };
  }
  if (isObj(body.payload)) {
    const payload: Record<string, unknown> = { ...body.payload };
    // Tolerate Python-literal strings here too.
    for (const k of ['instance_ids', 'allowed_actions', 'metadata']) {
      if (typeof payload[k] === 'string') payload[k] = decodeTraitText(payload[k]);
    }
    return {
      format: 'json',
      messageId: str(body.message_id),
      eventType: str(body.event_type) ?? '',
      generated: str(body.generated),
      payload,
    };
  }
  throw new Error('neither an AODH alarm (reason_data.event) nor a JSON notification (payload)');
}

function toReceived(n: DecodedNotification, now: number): ReceivedEvent {
  const p = n.payload;
  const ids = p.instance_ids;
  const allowed = p.allowed_actions;
  return {
    messageId: n.messageId,
    eventType: n.eventType,
    format: n.format,
    state: str(p.state),
    sessionId: str(p.session_id),
    projectId: str(p.project_id),
    instanceIds: Array.isArray(ids) ? ids.map(String) : typeof ids === 'string' ? ids : null,
    allowedActions: Array.isArray(allowed)
      ? allowed.map(String)
      : typeof allowed === 'string'
        ? (allowed.match(/\b(?:LIVE_MIGRATE|OWN_ACTION|EVICTION|MIGRATE)\b/g) ?? [])
        : [],
    replyUrl: str(p.reply_url),
    metadata: isObj(p.metadata) ? p.metadata : {},
    payload: p,
    receivedAt: now,
  };
}

// ---------------------------------------------------------------------------------------------
// The application manager

export async function startSampleVnfm(opts: SampleVnfmOptions): Promise<SampleVnfm> {
  if (!opts.projectId) throw new Error('projectId is required');
  const projectId = opts.projectId;
  const http = new FenixHttp({ api: resolveApi(opts.api), token: resolveToken(opts.token) });
  const scaleIn = opts.scaleIn ?? 1;
  const format = opts.format ?? 'aodh';
  const replyDelayMs = opts.replyDelayMs ?? 0;
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const attemptsMax = Math.max(1, opts.attempts ?? REPLY_ATTEMPTS);
  const log = opts.log ?? ((msg: string) => void process.stdout.write(`vnfm[${projectId}] ${msg}\n`));

  const received: ReceivedEvent[] = [];
  const replies: SentReply[] = [];
  const scaledIn: ScaledInInstance[] = [];
  const seen = new Set<string>();
  const abort = new AbortController();
  const signal = abort.signal;
  let closing = false;
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;

  const enqueue = (task: () => Promise<void>): void => {
    pending++;
    queue = queue
      .then(task)
      .catch((err: unknown) => {
        if (!signal.aborted) log(`failed: ${formatError(err)}`);
      })
      .finally(() => {
        pending--;
      });
  };

  /** GET with retries on transport errors and 5xx. */
  const read = async <T>(url: string): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await http.get<T>(url, signal);
      } catch (err) {
        const retriable = err instanceof ApiError && (err.status === 0 || err.status >= 500);
        if (!retriable || attempt >= attemptsMax || signal.aborted) throw err;
        log(`GET ${url} failed (${formatError(err)}), retrying`);
        await delay(retryDelayMs, undefined, { signal });
      }
    }
  };

  const projectUrl = (sessionId: string): string => `/v1/maintenance/${encodeURIComponent(sessionId)}/${encodeURIComponent(projectId)}`;

  /** The instance ids a notification concerns: its list, or what its project URL lists. */
  const instanceIdsOf = async (ev: ReceivedEvent): Promise<string[]> => {
    if (Array.isArray(ev.instanceIds)) return ev.instanceIds;
    const url = typeof ev.instanceIds === 'string' && /^https?:\/\//i.test(ev.instanceIds) ? ev.instanceIds : projectUrl(ev.sessionId ?? '');
    const res = await read<{ instance_ids?: unknown }>(url);
    const ids = Array.isArray(res?.instance_ids) ? res.instance_ids.map(String) : [];
    log(`GET ${url} -> ${ids.length} instance(s): ${ids.join(', ')}`);
    return ids;
  };

  const reply = async (ev: ReceivedEvent, body: Record<string, unknown>): Promise<void> => {
    if (replyDelayMs > 0) await delay(replyDelayMs, undefined, { signal });
    const url = ev.replyUrl ?? http.url(projectUrl(ev.sessionId ?? ''));
    const state = String(body.state);
    let status = 0;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        const res = await http.raw('PUT', url, body, signal);
        status = res.status;
      } catch (err) {
        if (signal.aborted) throw err;
        status = 0;
        log(`PUT ${url} ${state}: ${formatError(err)}`);
      }
      if (status >= 200 && status < 300) break;
      if (attempts >= attemptsMax) break;
      log(`PUT ${url} ${state} -> ${status}, retry ${attempts}/${attemptsMax - 1}`);
      await delay(retryDelayMs, undefined, { signal });
    }
    const ok = status >= 200 && status < 300;
    replies.push({ url, body, state, messageId: ev.messageId, status, attempts, ok, at: Date.now() });
    log(ok ? `PUT ${url} ${state} -> ${status}` : `PUT ${url} ${state} gave up after ${attempts} attempts (last ${status})`);
  };

  const scaler = opts.scaler;
  const listInstances = async (): Promise<SimInstance[]> => {
    if (scaler) return scaler.list(signal);
    const res = await read<{ instances?: SimInstance[] }>(`/v1/simulator/instances?project_id=${encodeURIComponent(projectId)}`);
    return (res?.instances ?? []).filter((i) => i.project_id === undefined || i.project_id === projectId);
  };

  const doScaleIn = async (): Promise<void> => {
    const instances = await listInstances();
    const victims = [...instances]
      .sort((a, b) => b.name.localeCompare(a.name, 'en', { numeric: true }) || b.id.localeCompare(a.id))
      .slice(0, Math.max(0, scaleIn));
    for (const v of victims) {
      if (scaler) await scaler.remove(v.id, signal);
      else await http.delete(`/v1/simulator/instances/${encodeURIComponent(v.id)}`, signal);
      scaledIn.push({ id: v.id, name: v.name, vcpus: v.vcpus ?? 1 });
      log(`scaled in: deleted ${v.name} (${v.id})`);
    }
    if (victims.length === 0) log('scale in: no instance to delete');
  };

  const doScaleOut = async (): Promise<void> => {
    for (const gone of [...scaledIn]) {
      try {
        const created = scaler
          ? await scaler.create({ name: gone.name, vcpus: gone.vcpus }, signal)
          : await http.post<SimInstance>('/v1/simulator/instances', { name: gone.name, project_id: projectId, vcpus: gone.vcpus }, signal);
        scaledIn.splice(scaledIn.indexOf(gone), 1);
        log(`scaled out: created ${gone.name} (${created?.id ?? '?'})`);
      } catch (err) {
        if (signal.aborted) throw err;
        log(`scale out of ${gone.name} failed: ${formatError(err)}`);
      }
    }
  };

  const handle = async (ev: ReceivedEvent): Promise<void> => {
    const sessionId = ev.sessionId;
    const state = ev.state;
    switch (state) {
      case 'MAINTENANCE': {
        const ids = await instanceIdsOf(ev);
        await reply(ev, { instance_ids: ids, session_id: sessionId, state: 'ACK_MAINTENANCE' });
        return;
      }
      case 'SCALE_IN': {
        try {
          await doScaleIn();
        } catch (err) {
          if (signal.aborted) throw err;
          log(`scale in failed: ${formatError(err)}`);
        }
        await reply(ev, { session_id: sessionId, state: 'ACK_SCALE_IN' });
        return;
      }
      case 'PREPARE_MAINTENANCE':
      case 'PLANNED_MAINTENANCE': {
        // MIGRATE, as the Doctor sample; where instances cannot migrate (k8s: pods) EVICTION.
        const action = ev.allowedActions.includes('MIGRATE') ? 'MIGRATE' : ev.allowedActions.includes('EVICTION') ? 'EVICTION' : null;
        if (!action) {
          log(`neither MIGRATE nor EVICTION in allowed_actions [${ev.allowedActions.join(', ')}]`);
          await reply(ev, { session_id: sessionId, state: `NACK_${state}` });
          return;
        }
        const ids = await instanceIdsOf(ev);
        const instanceActions: Record<string, string> = {};
        for (const id of ids) instanceActions[id] = action;
        await reply(ev, { instance_actions: instanceActions, session_id: sessionId, state: `ACK_${state}` });
        return;
      }
      case 'MAINTENANCE_COMPLETE': {
        await doScaleOut();
        await reply(ev, { session_id: sessionId, state: 'ACK_MAINTENANCE_COMPLETE' });
        return;
      }
      case 'INSTANCE_ACTION_DONE': {
        const ids = Array.isArray(ev.instanceIds) ? ev.instanceIds.join(', ') : String(ev.instanceIds);
        log(`instance action done: ${ids}`);
        return;
      }
      default:
        log(`unknown state ${String(state)}, ignored`);
    }
  };

  const onNotification = (body: unknown): void => {
    const n = decodeNotification(body);
    if (n.messageId !== null) {
      if (seen.has(n.messageId)) {
        log(`duplicate ${n.messageId}, dropped`);
        return;
      }
      seen.add(n.messageId);
    }
    const ev = toReceived(n, Date.now());
    if (n.eventType !== 'maintenance.scheduled') {
      log(`<- ${n.eventType || 'unknown event'} ignored (msg ${n.messageId})`);
      return;
    }
    if (ev.projectId !== null && ev.projectId !== projectId) {
      log(`<- ${ev.state} for project ${ev.projectId} ignored (not mine, msg ${n.messageId})`);
      return;
    }
    received.push(ev);
    log(`<- ${ev.state} session ${ev.sessionId} (msg ${n.messageId})`);
    enqueue(() => handle(ev));
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET') {
      send(200, { project_id: projectId, received: received.length, replies: replies.length });
      return;
    }
    if (req.method !== 'POST') {
      send(405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} not allowed` } });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (size > MAX_BODY) return send(413, { error: { code: 'TOO_LARGE', message: 'body too large' } });
      if (closing) return send(503, { error: { code: 'CLOSING', message: 'application manager is stopping' } });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        onNotification(body);
      } catch (err) {
        log(`bad notification: ${(err as Error).message}`);
        return send(400, { error: { code: 'BAD_REQUEST', message: (err as Error).message } });
      }
      send(200, { ok: true });
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const callHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const localUrl = `http://${callHost}:${port}/maintenance`;
  const url = opts.publicUrl ?? localUrl;

  const shutdownServer = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  let subscriptionId: string;
  try {
    const body: Record<string, unknown> = {
      project_id: projectId,
      url,
      event_types: ['maintenance.scheduled'],
      format,
    };
    if (opts.secret) body.secret = opts.secret;
    const sub = await http.post<{ subscription_id?: string; id?: string }>('/v1/subscriptions', body);
    const id = sub?.subscription_id ?? sub?.id;
    if (!id) throw new Error(`subscription answer without subscription_id: ${JSON.stringify(sub)}`);
    subscriptionId = id;
  } catch (err) {
    await shutdownServer();
    throw err;
  }
  log(`listening on ${host}:${port}, subscribed ${subscriptionId} (${format}) at ${http.api} for ${url}`);

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      try {
        await http.delete(`/v1/subscriptions/${encodeURIComponent(subscriptionId)}`);
        log(`unsubscribed ${subscriptionId}`);
      } catch (err) {
        log(`unsubscribe ${subscriptionId} failed: ${formatError(err)}`);
      }
      abort.abort(new Error('closed'));
      await queue.catch(() => undefined);
      await shutdownServer();
    })();
    return closed;
  };

  const idle = async (): Promise<void> => {
    while (pending > 0) await queue;
  };

  return { url, localUrl, subscriptionId, projectId, received, replies, scaledIn, idle, close };
}

// ---------------------------------------------------------------------------------------------
// The command

const intArg =
  (name: string, min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };

interface VnfmCliOptions {
  project: string;
  api?: string;
  token?: string;
  port: number;
  host: string;
  publicUrl?: string;
  scaleIn: number;
  format: NotificationFormat;
  replyDelayMs: number;
  retryDelayMs: number;
  attempts: number;
  secret?: string;
  nova?: boolean;
}

export function registerVnfmCommand(program: Command): Command {
  return program
    .command('vnfm')
    .description('run the Doctor sample application manager for one project (subscribes, answers every notification)')
    .requiredOption('--project <pid>', 'project id to answer for')
    .option('--api <url>', 'Fenix API base URL (env FENIX_API)')
    .option('--token <token>', 'X-Auth-Token (env FENIX_TOKEN)')
    .option('--port <port>', 'port to listen on (0 = any free port)', intArg('--port', 0), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--public-url <url>', 'URL the engine should POST notifications to (default http://<host>:<port>/maintenance)')
    .option('--scale-in <n>', 'instances to delete on SCALE_IN (re-created on MAINTENANCE_COMPLETE)', intArg('--scale-in', 0), 1)
    .addOption(new Option('--format <format>', 'notification format').choices(['aodh', 'json']).default('aodh'))
    .option('--reply-delay-ms <ms>', 'wait before each reply', intArg('--reply-delay-ms', 0), 0)
    .option('--retry-delay-ms <ms>', 'wait between reply retries', intArg('--retry-delay-ms', 0), 1000)
    .option('--attempts <n>', 'attempts of a reply or API read before giving up', intArg('--attempts', 1), REPLY_ATTEMPTS)
    .option('--secret <secret>', 'subscription secret (JSON format signing)')
    .option('--nova', "scale through a real Nova with the OS_* variables of the project's openrc, not the simulator API")
    .action(async (own: VnfmCliOptions, cmd: Command) => {
      const defined = Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined));
      const o = { ...cmd.optsWithGlobals(), ...defined } as VnfmCliOptions;
      let vnfm: SampleVnfm;
      try {
        vnfm = await startSampleVnfm({
          projectId: o.project,
          api: o.api,
          token: o.token,
          port: o.port,
          host: o.host,
          publicUrl: o.publicUrl,
          scaleIn: o.scaleIn,
          format: o.format,
          replyDelayMs: o.replyDelayMs,
          retryDelayMs: o.retryDelayMs,
          attempts: o.attempts,
          secret: o.secret,
          ...(o.nova && { scaler: novaScaler(novaScalerFromEnv()) }),
        });
      } catch (err) {
        process.stderr.write(formatError(err) + '\n');
        process.exitCode = 1;
        return;
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await vnfm.close();
    });
}
