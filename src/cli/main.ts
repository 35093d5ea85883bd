// The `fenix` command. `serve` starts the service (built by main/); every other command is an
// HTTP client of a running service. Only commander, the config schema and the client commands
// load up front: the service (Fastify, Kysely, drivers, ~0.8 s of module loading) is imported by
// the command that starts it, so `fenix --help`, `--version` and the client commands answer at once.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { ConfigError, envName, loadConfig, OPTIONS, redactDbUrl, type Config } from '../config/config.js';
import { registerClientCommands } from './client.js';
import { registerSimulatorCommand } from './simulator.js';
import { registerVnfmCommand, type SampleVnfm } from './vnfm.js';

const DEMO_PROJECTS = ['demo-a', 'demo-b'];

type Role = 'all' | 'api' | 'engine';

const ROLE_HELP: Record<Role, [string, string]> = {
  all: ['serve', 'run the API, the engine and the notification relay in one process'],
  api: ['api', 'run the stateless API only (any number of replicas; needs --db postgres://)'],
  engine: ['engine', 'run an engine and its notification relay only (any number; needs --db postgres:// and --public-url)'],
};

/** `[env FENIX_X, default 1]`; no default shown for options that have none (null) or are off. */
export function optionHelp(o: (typeof OPTIONS)[number]): string {
  const shown = o.default !== null && o.default !== false;
  return `${o.description} [env ${envName(o.flag)}${shown ? `, default ${JSON.stringify(o.default)}` : ''}]`;
}

/** `error CODE: message` on stderr and the exit code: 2 for a configuration error, 1 otherwise. */
function startFailed(e: unknown): never {
  const config = e instanceof ConfigError || (e as { code?: unknown }).code === 'CONFIG_INVALID';
  console.error(`error ${config ? 'CONFIG_INVALID' : 'START_FAILED'}: ${(e as Error).message}`);
  process.exit(config ? 2 : 1);
}

/**
 * Started by an npm script (`npm start`): npm forwards SIGINT / SIGTERM to us (the script `exec`s
 * node, so no shell sits between), but if npm itself dies without forwarding (SIGKILL), we are
 * reparented: leave then too rather than keep the port. Not for a service started any other way:
 * `nohup fenix serve &` must outlive its shell.
 */
function exitWithNpm(parent: number, stop: () => void): void {
  if (!process.env.npm_lifecycle_event) return;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
}

function serviceCommand(program: Command, role: Role): void {
  const [name, description] = ROLE_HELP[role];
  const cmd = program.command(name).description(description);
  for (const o of OPTIONS) {
    const flag = typeof o.default === 'boolean' ? `--${o.flag}` : `--${o.flag} <value>`;
    cmd.addOption(new Option(flag, optionHelp(o)));
  }
  cmd.action(async (flags: Partial<Record<keyof Config, string | boolean>>) => {
    // Taken before the start, which takes a while: npm may be gone by the time it is done.
    const parent = process.ppid;
    let config: Config;
    try {
      config = loadConfig(flags);
    } catch (e) {
      startFailed(e);
    }
    const { resolveLogFormat, createLogger } = await import('../main/logging.js');
    // Decided here: the engine thread's stdout is never a terminal.
    config = { ...config, logFormat: resolveLogFormat(config.logFormat, process.stdout.isTTY) };
    const log = createLogger(config);
    // Memory (measured with bench:scale, 10,000 hosts): between full collections V8 lets the heap
    // grow up to 4× what is live, gigabytes of garbage held as RSS; 10 % keeps the peak near the
    // live set (20 %: +25 MB; 5 %: slower). Semi-spaces of 4 MB (default 16) in each thread: no
    // measurable cost. Peak RSS of a 10,000-host vnf session 1,632 -> 513 MB with the rest.
    setFlagsFromString('--heap-growing-percent=10');
    setFlagsFromString('--max-semi-space-size=4');
    // One process, two threads (engine-thread.ts), unless the database lives in this thread's memory.
    const threaded = role === 'all' && config.engineThread === 'on' && config.db !== ':memory:';
    const svc = await (threaded
      ? import('../main/engine-thread.js').then((m) => m.startThreadedService(config))
      : import('../main/service.js').then((m) => m.startService(config, { role, logger: log }))
    ).catch(startFailed);
    const vnfms: SampleVnfm[] = [];
    if (role === 'all' && config.demo && config.driver === 'simulated') {
      const { startSampleVnfm } = await import('./vnfm.js');
      for (const projectId of DEMO_PROJECTS) {
        const vlog = log.child({ part: `vnfm ${projectId}` });
        vnfms.push(await startSampleVnfm({ projectId, api: svc.url, log: (m) => vlog.info(m) }));
      }
    }
    if (config.logFormat === 'pretty') console.log(role === 'engine' ? engineBanner(svc.url, config) : banner(svc.url, config, vnfms.length));
    else log.info({ url: svc.url, role, db: redactDbUrl(config.db), driver: config.driver, auth: config.auth }, role === 'engine' ? engineBanner(svc.url, config) : `Fenix maintenance API on ${svc.url}`);
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) {
        // A second Ctrl-C: the operator does not want to wait for a clean stop.
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      stopping = true;
      // A stop that hangs (a connection that never closes) must not keep the port.
      setTimeout(() => {
        console.error('error STOP_TIMEOUT: the service did not stop within 15 s; exiting');
        process.exit(1);
      }, 15_000).unref();
      await Promise.allSettled(vnfms.map((v) => v.close()));
      await svc.stop();
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    exitWithNpm(parent, () => void shutdown('SIGTERM'));
  });
}

const engineBanner = (url: string, c: Config): string => `Fenix engine running (db ${redactDbUrl(c.db)}, notifications point to ${url})`;

function banner(url: string, c: Config, vnfms: number): string {
  return [
    '',
    `Fenix maintenance API on ${url}  (db ${redactDbUrl(c.db)}, driver ${c.driver}${c.driver !== 'simulated' ? '' : c.simulatorUrl ? `, simulator ${c.simulatorUrl}` : c.scenario ? `, scenario ${c.scenario}` : ', demo cloud'}, auth ${c.auth})`,
    vnfms ? `Sample application managers attached to ${DEMO_PROJECTS.join(', ')}.` : '',
    'Start a maintenance session over every host and watch it:',
    `  npx fenix session create --watch --api ${url}`,
    `  curl -s -X POST ${url}/v1/maintenance -H 'Content-Type: application/json' -d '{}'`,
    'Watch a session, or read all about it:',
    `  npx fenix session watch <session_id> --api ${url}`,
    `  npx fenix session detail <session_id> --api ${url}`,
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** package.json's version (two levels up from both src/cli/ and dist/cli/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('fenix')
    .description('rolling infrastructure maintenance with zero application downtime (OpenStack Fenix API)')
    .version(packageVersion(), '-V, --version', 'print the version');
  serviceCommand(program, 'all');
  serviceCommand(program, 'api');
  serviceCommand(program, 'engine');
  registerSimulatorCommand(program);
  registerVnfmCommand(program);
  registerClientCommands(program);
  await program.parseAsync(argv);
}
