// The `fenix` command. `serve` starts the service (built by main/); every other command is an
// HTTP client of a running service.
import { Command, Option } from 'commander';
import { envName, loadConfig, OPTIONS, type Config } from '../config/config.js';
import { startService } from '../main/service.js';
import { registerClientCommands } from './client.js';
import { registerVnfmCommand, startSampleVnfm, type SampleVnfm } from './vnfm.js';

const DEMO_PROJECTS = ['demo-a', 'demo-b'];

function serveCommand(program: Command): void {
  const cmd = program.command('serve').description('run the API, the engine and the notification relay in one process');
  for (const o of OPTIONS) {
    const flag = o.key === 'demo' ? '--demo' : `--${o.flag} <value>`;
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
    const svc = await startService(config);
    const vnfms: SampleVnfm[] = [];
    if (config.demo && config.driver === 'simulated') {
      for (const projectId of DEMO_PROJECTS)
        vnfms.push(await startSampleVnfm({ projectId, api: svc.url, log: (l) => console.log(`[vnfm ${projectId}] ${l}`) }));
    }
    console.log(banner(svc.url, config, vnfms.length));
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
    `Fenix maintenance API on ${url}  (db ${c.db}, driver ${c.driver}${c.scenario ? `, scenario ${c.scenario}` : ', demo cloud'}, auth ${c.auth})`,
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
  serveCommand(program);
  registerVnfmCommand(program);
  registerClientCommands(program);
  await program.parseAsync(argv);
}
