// The `fenix` command. `serve` starts the service (built by main/); every other command is an
// HTTP client of a running service.
import { setFlagsFromString } from 'node:v8';
import { Command, Option } from 'commander';
import { envName, loadConfig, OPTIONS, type Config } from '../config/config.js';
import { startThreadedService } from '../main/engine-thread.js';
import { startService } from '../main/service.js';
import { registerClientCommands } from './client.js';
import { registerSimulatorCommand } from './simulator.js';
import { registerVnfmCommand, startSampleVnfm, type SampleVnfm } from './vnfm.js';

const DEMO_PROJECTS = ['demo-a', 'demo-b'];

type Role = 'all' | 'api' | 'engine';

const ROLE_HELP: Record<Role, [string, string]> = {
  all: ['serve', 'run the API, the engine and the notification relay in one process'],
  api: ['api', 'run the stateless API only (any number of replicas; needs --db postgres://)'],
  engine: ['engine', 'run an engine and its notification relay only (any number; needs --db postgres:// and --public-url)'],
};

function serviceCommand(program: Command, role: Role): void {
  const [name, description] = ROLE_HELP[role];
  const cmd = program.command(name).description(description);
  for (const o of OPTIONS) {
    const flag = typeof o.default === 'boolean' ? `--${o.flag}` : `--${o.flag} <value>`;
    cmd.addOption(new Option(flag, `${o.description} [env ${envName(o.flag)}, default ${JSON.stringify(o.default)}]`));
  }
  cmd.action(async (flags: Partial<Record<keyof Config, string | boolean>>) => {
    let config: Config;
    try {
      config = loadConfig(flags);
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      process.exit(2);
    }
    // Memory (measured with bench:scale, 10,000 hosts): between full collections V8 lets the heap
    // grow up to 4× what is live, gigabytes of garbage held as RSS; 10 % keeps the peak near the
    // live set (20 %: +25 MB; 5 %: slower). Semi-spaces of 4 MB (default 16) in each thread: no
    // measurable cost. Peak RSS of a 10,000-host vnf session 1,632 -> 513 MB with the rest.
    setFlagsFromString('--heap-growing-percent=10');
    setFlagsFromString('--max-semi-space-size=4');
    // One process, two threads (engine-thread.ts), unless the database lives in this thread's memory.
    const threaded = role === 'all' && config.engineThread === 'on' && config.db !== ':memory:';
    const svc = await (threaded ? startThreadedService(config) : startService(config, { role })).catch((e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(2);
    });
    const vnfms: SampleVnfm[] = [];
    if (role === 'all' && config.demo && config.driver === 'simulated') {
      for (const projectId of DEMO_PROJECTS)
        vnfms.push(await startSampleVnfm({ projectId, api: svc.url, log: (l) => console.log(`[vnfm ${projectId}] ${l}`) }));
    }
    console.log(role === 'engine' ? `Fenix engine running (db ${config.db}, notifications point to ${svc.url})` : banner(svc.url, config, vnfms.length));
    let stopping = false;
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      await Promise.allSettled(vnfms.map((v) => v.close()));
      await svc.stop();
      process.exit(0);
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}

function banner(url: string, c: Config, vnfms: number): string {
  return [
    '',
    `Fenix maintenance API on ${url}  (db ${c.db}, driver ${c.driver}${c.driver !== 'simulated' ? '' : c.simulatorUrl ? `, simulator ${c.simulatorUrl}` : c.scenario ? `, scenario ${c.scenario}` : ', demo cloud'}, auth ${c.auth})`,
    vnfms ? `Sample application managers attached to ${DEMO_PROJECTS.join(', ')}.` : '',
    'Start a maintenance session over every host:',
    `  curl -s -X POST ${url}/v1/maintenance -H 'Content-Type: application/json' -d '{}'`,
    `  npx fenix session create --wait --api ${url}`,
    'Then watch it:',
    `  npx fenix session detail <session_id> --api ${url}`,
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('fenix').description('rolling infrastructure maintenance with zero application downtime (OpenStack Fenix API)');
  serviceCommand(program, 'all');
  serviceCommand(program, 'api');
  serviceCommand(program, 'engine');
  registerSimulatorCommand(program);
  registerVnfmCommand(program);
  registerClientCommands(program);
  await program.parseAsync(argv);
}
