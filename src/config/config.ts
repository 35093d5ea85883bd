// One schema for the service's configuration, with defaults. Every option has a CLI flag
// (--reply-window) and an environment variable derived from its name (FENIX_REPLY_WINDOW).
import { isIP } from 'node:net';

export interface Config {
  port: number;
  host: string;
  publicUrl: string | null;
  db: string;
  driver: string;
  scenario: string | null;
  simulatorState: string | null;
  simulatorUrl: string | null;
  replyWindow: number;
  scaleInReplyWindow: number;
  ownActionTimeout: number;
  noSubscription: 'act' | 'fail';
  minNotice: number;
  adminProject: string;
  auth: 'none' | 'token' | 'keystone';
  tokens: string | null;
  logLevel: string;
  /** Log lines as JSON (one object a line) or pretty text; auto: pretty on a terminal, JSON otherwise. */
  logFormat: 'auto' | 'json' | 'pretty';
  workDir: string;
  leaseTtl: number;
  engineThread: 'on' | 'off';
  demo: boolean;
  /** Serve /metrics without a token on this port (0/absent: only on the API port, admin token needed). */
  metricsPort: number | null;
  // OpenStack (--driver openstack, --auth keystone): flags over the standard OS_* variables of an openrc.
  osAuthUrl: string | null;
  osUsername: string | null;
  osPassword: string | null;
  osProjectName: string | null;
  osUserDomainName: string | null;
  osProjectDomainName: string | null;
  osRegionName: string | null;
  osInterface: string | null;
  /** oslo.messaging notifications on this AMQP broker (amqp:// or an oslo rabbit:// transport_url). */
  notifyAmqp: string | null;
  osloExchange: string;
  /** Caps on moves in flight (null: the driver's default; 0: none). */
  maxMoves: number | null;
  maxMovesPerSource: number | null;
  maxMovesPerTarget: number | null;
  /** --driver openstack: Nova's versioned notifications from this broker (oslo transport_url). */
  novaNotifications: string | null;
  /** Projects with an AODH event alarm on maintenance.scheduled are interacting (needs --notify-amqp). */
  aodh: boolean;
  /** --driver kubernetes: the kubeconfig file (default $KUBECONFIG, the in-cluster service account, ~/.kube/config). */
  kubeconfig: string | null;
  /** --driver kubernetes: evict pods no controller re-creates (kubectl drain --force). */
  drainForce: boolean;
  /** --driver kubernetes: evict pods with emptyDir volumes, losing that data (kubectl drain --delete-emptydir-data). */
  drainDeleteEmptydirData: boolean;
  /** Webhook / download targets allowed even if built-in forbidden (comma-separated CIDRs). */
  webhookAllow: string | null;
  /** Webhook / download targets always refused (comma-separated CIDRs). */
  webhookDeny: string | null;
  /** Operators' own action plug-ins: ES modules in this directory (docs/plugins.md). */
  pluginsDir: string | null;
  /** The ssh plug-in: remote user (default the engine's own), private key, and the only host keys it accepts. */
  sshUser: string | null;
  sshKey: string | null;
  sshKnownHosts: string | null;
}

/** A flag, variable or file named by one that cannot be used: `error CONFIG_INVALID: …`, exit 2, no stack. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The shared simulator service's port (`fenix simulator`), here so the CLI can show it without loading the server. */
export const DEFAULT_SIMULATOR_PORT = 12348;

export interface OptionSpec {
  key: keyof Config;
  flag: string;
  description: string;
  default: Config[keyof Config];
  parse: (raw: string) => Config[keyof Config];
}

const int = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
};
const oneOf =
  <T extends string>(name: string, values: readonly T[]) =>
  (raw: string): T => {
    if (!values.includes(raw as T)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw as T;
  };
const str = (raw: string) => raw;
const httpUrl = (name: string) => (raw: string) => {
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
};
// A CIDR list is checked here so a typo stops the start; notifier/url-policy.ts builds the policy from it.
const cidrList = (name: string) => (raw: string) => {
  const items = raw.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of items) {
    const [addr = '', len, extra] = c.split('/');
    const family = isIP(addr);
    const ok = family !== 0 && extra === undefined && (len === undefined || (/^\d{1,3}$/.test(len) && Number(len) <= (family === 4 ? 32 : 128)));
    if (!ok) throw new ConfigError(`${name}: ${JSON.stringify(c)} is not a CIDR (a.b.c.d/n, an IPv6 prefix like fd00::/8, or one address)`);
  }
  return items.length ? items.join(',') : null;
};
const bool = (raw: string) => !['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase());

export const OPTIONS: OptionSpec[] = [
  { key: 'port', flag: 'port', description: 'TCP port of the API', default: 12347, parse: int('--port') },
  { key: 'host', flag: 'host', description: 'address to bind', default: '127.0.0.1', parse: str },
  { key: 'publicUrl', flag: 'public-url', description: 'base of URLs sent in notifications (default http://<host>:<port>)', default: null, parse: str },
  { key: 'db', flag: 'db', description: 'SQLite file path, :memory:, or a postgres:// URL', default: 'fenix.db', parse: str },
  { key: 'driver', flag: 'driver', description: 'infrastructure driver', default: 'simulated', parse: oneOf('--driver', ['simulated', 'openstack', 'kubernetes'] as const) },
  { key: 'scenario', flag: 'scenario', description: 'simulated cloud (JSON file); default: the built-in demo cloud', default: null, parse: str },
  { key: 'simulatorState', flag: 'simulator-state', description: 'keep the in-process simulated cloud in this JSON file (rewritten whole on each change) instead of the database', default: null, parse: str },
  { key: 'simulatorUrl', flag: 'simulator-url', description: 'use a shared simulator service (fenix simulator) at this URL instead of an in-process one', default: null, parse: httpUrl('--simulator-url') },
  { key: 'replyWindow', flag: 'reply-window', description: 'seconds to answer MAINTENANCE / PREPARE / PLANNED', default: 40, parse: int('--reply-window') },
  { key: 'scaleInReplyWindow', flag: 'scale-in-reply-window', description: 'seconds to answer SCALE_IN / MAINTENANCE_COMPLETE', default: 60, parse: int('--scale-in-reply-window') },
  { key: 'ownActionTimeout', flag: 'own-action-timeout', description: 'seconds for OWN_ACTION instances to leave a host', default: 600, parse: int('--own-action-timeout') },
  { key: 'noSubscription', flag: 'no-subscription', description: 'projects without a subscription: act (default behaviour) or fail', default: 'act', parse: oneOf('--no-subscription', ['act', 'fail'] as const) },
  { key: 'minNotice', flag: 'min-notice', description: 'seconds maintenance_at must be ahead when given (0: any time)', default: 0, parse: int('--min-notice') },
  { key: 'adminProject', flag: 'admin-project', description: 'project_id in maintenance.host events', default: 'admin', parse: str },
  { key: 'auth', flag: 'auth', description: 'none (loopback only), token, or keystone (X-Auth-Token validated by Keystone)', default: 'none', parse: oneOf('--auth', ['none', 'token', 'keystone'] as const) },
  { key: 'tokens', flag: 'tokens', description: 'tokens file for --auth token', default: null, parse: str },
  { key: 'leaseTtl', flag: 'lease-ttl', description: 'seconds an engine owns a session without renewing (takeover time after a crash)', default: 10, parse: int('--lease-ttl') },
  { key: 'workDir', flag: 'work-dir', description: "where sessions' download lists are fetched (one folder per session)", default: '.fenix/work', parse: str },
  { key: 'logLevel', flag: 'log-level', description: 'pino log level', default: 'info', parse: oneOf('--log-level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) },
  { key: 'logFormat', flag: 'log-format', description: 'log lines: pretty (readable text), json (one JSON object a line), or auto (pretty when stdout is a terminal, else json)', default: 'auto', parse: oneOf('--log-format', ['auto', 'json', 'pretty'] as const) },
  { key: 'metricsPort', flag: 'metrics-port', description: 'also serve /metrics, without a token, on this port (keep it on a private network)', default: null, parse: int('--metrics-port') },
  { key: 'engineThread', flag: 'engine-thread', description: 'fenix serve: run the engine in its own thread (on), or on the API\'s thread (off); a :memory: database always uses one thread', default: 'on', parse: oneOf('--engine-thread', ['on', 'off'] as const) },
  { key: 'demo', flag: 'demo', description: 'attach a sample application manager to each demo project (simulated driver)', default: false, parse: bool },
  { key: 'osAuthUrl', flag: 'os-auth-url', description: 'Keystone URL (default $OS_AUTH_URL)', default: null, parse: str },
  { key: 'osUsername', flag: 'os-username', description: 'service user (default $OS_USERNAME)', default: null, parse: str },
  { key: 'osPassword', flag: 'os-password', description: 'its password (default $OS_PASSWORD)', default: null, parse: str },
  { key: 'osProjectName', flag: 'os-project-name', description: 'its project (default $OS_PROJECT_NAME)', default: null, parse: str },
  { key: 'osUserDomainName', flag: 'os-user-domain-name', description: 'default $OS_USER_DOMAIN_NAME or Default', default: null, parse: str },
  { key: 'osProjectDomainName', flag: 'os-project-domain-name', description: 'default $OS_PROJECT_DOMAIN_NAME or Default', default: null, parse: str },
  { key: 'osRegionName', flag: 'os-region-name', description: 'catalog region (default $OS_REGION_NAME)', default: null, parse: str },
  { key: 'osInterface', flag: 'os-interface', description: 'catalog interface: public, internal, admin (default $OS_INTERFACE or public)', default: null, parse: str },
  { key: 'notifyAmqp', flag: 'notify-amqp', description: 'also publish notifications as oslo.messaging on this AMQP broker (amqp://user:pass@host:5672/)', default: null, parse: str },
  { key: 'osloExchange', flag: 'oslo-exchange', description: "oslo.messaging control_exchange for --notify-amqp", default: 'openstack', parse: str },
  { key: 'webhookAllow', flag: 'webhook-allow', description: 'CIDRs webhooks and downloads may reach even if refused by default (loopback, link-local, metadata, …)', default: null, parse: cidrList('--webhook-allow') },
  { key: 'webhookDeny', flag: 'webhook-deny', description: 'CIDRs webhooks and downloads may never reach (beats --webhook-allow)', default: null, parse: cidrList('--webhook-deny') },
  { key: 'pluginsDir', flag: 'plugins-dir', description: 'load action plug-ins from the ES modules (.js, .mjs) in this directory (docs/plugins.md)', default: null, parse: str },
  { key: 'sshUser', flag: 'ssh-user', description: "the ssh plug-in's remote user (default: the engine's own user)", default: null, parse: str },
  { key: 'sshKey', flag: 'ssh-key', description: "the ssh plug-in's private key file", default: null, parse: str },
  { key: 'sshKnownHosts', flag: 'ssh-known-hosts', description: 'the ssh plug-in\'s known_hosts file: the only host keys it accepts', default: null, parse: str },
  { key: 'maxMoves', flag: 'max-moves', description: "moves in flight at once in all (0: no cap; default: the driver's, openstack 4, simulated none)", default: null, parse: int('--max-moves') },
  { key: 'maxMovesPerSource', flag: 'max-moves-per-source', description: "moves in flight at once off one host (default: the driver's, openstack 3)", default: null, parse: int('--max-moves-per-source') },
  { key: 'maxMovesPerTarget', flag: 'max-moves-per-target', description: "moves in flight at once into one planned target host (default: the driver's, openstack 2)", default: null, parse: int('--max-moves-per-target') },
  { key: 'novaNotifications', flag: 'nova-notifications', description: "--driver openstack: consume Nova's versioned notifications from this broker (an oslo transport_url, rabbit://user:pass@host:5672/) instead of polling Nova", default: null, parse: str },
  { key: 'kubeconfig', flag: 'kubeconfig', description: '--driver kubernetes: kubeconfig file (default $KUBECONFIG, then the in-cluster service account, then ~/.kube/config)', default: null, parse: str },
  { key: 'drainForce', flag: 'drain-force', description: '--driver kubernetes: also evict pods no controller re-creates (they are deleted for good), like kubectl drain --force', default: false, parse: bool },
  { key: 'drainDeleteEmptydirData', flag: 'drain-delete-emptydir-data', description: '--driver kubernetes: also evict pods with emptyDir volumes (their data is lost), like kubectl drain --delete-emptydir-data', default: false, parse: bool },
  { key: 'aodh', flag: 'aodh', description: 'subscriptions from AODH: a project with an event alarm on maintenance.scheduled is interacting (needs --notify-amqp)', default: false, parse: bool },
];

export const envName = (flag: string): string => `FENIX_${flag.toUpperCase().replace(/-/g, '_')}`;

export const DEFAULT_CONFIG: Config = Object.fromEntries(OPTIONS.map((o) => [o.key, o.default])) as unknown as Config;

/** Defaults, overridden by environment variables, overridden by flags (raw strings). */
export function loadConfig(flags: Partial<Record<keyof Config, string | boolean>>, env: NodeJS.ProcessEnv = process.env): Config {
  const cfg: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const o of OPTIONS) {
    const fromEnv = env[envName(o.flag)];
    const fromFlag = flags[o.key];
    const raw = fromFlag !== undefined ? fromFlag : fromEnv;
    if (raw === undefined) continue;
    cfg[o.key] = typeof raw === 'boolean' ? raw : o.parse(raw);
  }
  const c = cfg as unknown as Config;
  if (c.auth === 'none' && !isLoopback(c.host))
    throw new ConfigError(`--auth none is allowed only on a loopback address; use --auth token to bind ${c.host}`);
  if (c.auth === 'token' && !c.tokens) throw new ConfigError('--auth token needs --tokens <file.json>');
  if (c.aodh && !c.notifyAmqp) throw new ConfigError('--aodh needs --notify-amqp (AODH gets the events from the oslo.messaging bus)');
  if (Boolean(c.sshKey) !== Boolean(c.sshKnownHosts)) throw new ConfigError('--ssh-key and --ssh-known-hosts go together: the ssh plug-in accepts no host key it does not know');
  checkDbUrl(c.db, env);
  return c;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const DB_URL_FORM = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/**
 * A postgres:// --db must name a user (in the URL, ?user=, or PGUSER / USER as node-postgres reads
 * them): without one the server closes the connection with a bare protocol error
 * ("no PostgreSQL user name specified in startup packet") after the service has started to boot.
 */
function checkDbUrl(db: string, env: NodeJS.ProcessEnv): void {
  if (!POSTGRES_URL.test(db)) return;
  let u: URL;
  try {
    u = new URL(db);
  } catch {
    throw new ConfigError(`--db ${redactDbUrl(db)} is not a URL; write ${DB_URL_FORM}`);
  }
  if (!u.username && !u.searchParams.get('user') && !env.PGUSER && !env.USER)
    throw new ConfigError(`--db ${redactDbUrl(db)} names no user; write ${DB_URL_FORM} (or set PGUSER)`);
}

/** A database URL as it may be printed: without its password. */
export const redactDbUrl = (db: string): string => db.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

export const publicUrlOf = (c: Config, boundPort?: number): string =>
  (c.publicUrl ?? `http://${c.host.includes(':') ? `[${c.host}]` : c.host}:${boundPort ?? c.port}`).replace(/\/+$/, '');
