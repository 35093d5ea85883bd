// One schema for the service's configuration, with defaults. Every option has a CLI flag
// (--reply-window) and an environment variable derived from its name (FENIX_REPLY_WINDOW).
export interface Config {
  port: number;
  host: string;
  publicUrl: string | null;
  db: string;
  driver: string;
  scenario: string | null;
  replyWindow: number;
  scaleInReplyWindow: number;
  ownActionTimeout: number;
  noSubscription: 'act' | 'fail';
  minNotice: number;
  adminProject: string;
  auth: 'none' | 'token';
  tokens: string | null;
  logLevel: string;
  demo: boolean;
}

export interface OptionSpec {
  key: keyof Config;
  flag: string;
  description: string;
  default: Config[keyof Config];
  parse: (raw: string) => Config[keyof Config];
}

const int = (name: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
};
const oneOf =
  <T extends string>(name: string, values: readonly T[]) =>
  (raw: string): T => {
    if (!values.includes(raw as T)) throw new Error(`${name} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw as T;
  };
const str = (raw: string) => raw;
const bool = (raw: string) => !['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase());

export const OPTIONS: OptionSpec[] = [
  { key: 'port', flag: 'port', description: 'TCP port of the API', default: 12347, parse: int('--port') },
  { key: 'host', flag: 'host', description: 'address to bind', default: '127.0.0.1', parse: str },
  { key: 'publicUrl', flag: 'public-url', description: 'base of URLs sent in notifications (default http://<host>:<port>)', default: null, parse: str },
  { key: 'db', flag: 'db', description: 'SQLite file path, :memory:, or a postgres:// URL', default: 'fenix.db', parse: str },
  { key: 'driver', flag: 'driver', description: 'infrastructure driver', default: 'simulated', parse: oneOf('--driver', ['simulated'] as const) },
  { key: 'scenario', flag: 'scenario', description: 'simulated cloud (JSON file); default: the built-in demo cloud', default: null, parse: str },
  { key: 'replyWindow', flag: 'reply-window', description: 'seconds to answer MAINTENANCE / PREPARE / PLANNED', default: 40, parse: int('--reply-window') },
  { key: 'scaleInReplyWindow', flag: 'scale-in-reply-window', description: 'seconds to answer SCALE_IN / MAINTENANCE_COMPLETE', default: 60, parse: int('--scale-in-reply-window') },
  { key: 'ownActionTimeout', flag: 'own-action-timeout', description: 'seconds for OWN_ACTION instances to leave a host', default: 600, parse: int('--own-action-timeout') },
  { key: 'noSubscription', flag: 'no-subscription', description: 'projects without a subscription: act (default behaviour) or fail', default: 'act', parse: oneOf('--no-subscription', ['act', 'fail'] as const) },
  { key: 'minNotice', flag: 'min-notice', description: 'seconds maintenance_at must be ahead when given (0: any time)', default: 0, parse: int('--min-notice') },
  { key: 'adminProject', flag: 'admin-project', description: 'project_id in maintenance.host events', default: 'admin', parse: str },
  { key: 'auth', flag: 'auth', description: 'none (loopback only) or token', default: 'none', parse: oneOf('--auth', ['none', 'token'] as const) },
  { key: 'tokens', flag: 'tokens', description: 'tokens file for --auth token', default: null, parse: str },
  { key: 'logLevel', flag: 'log-level', description: 'pino log level', default: 'info', parse: oneOf('--log-level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) },
  { key: 'demo', flag: 'demo', description: 'attach a sample application manager to each demo project (simulated driver)', default: false, parse: bool },
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
    throw new Error(`--auth none is allowed only on a loopback address; use --auth token to bind ${c.host}`);
  if (c.auth === 'token' && !c.tokens) throw new Error('--auth token needs --tokens <file.json>');
  return c;
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

export const publicUrlOf = (c: Config, boundPort?: number): string =>
  (c.publicUrl ?? `http://${c.host.includes(':') ? `[${c.host}]` : c.host}:${boundPort ?? c.port}`).replace(/\/+$/, '');
