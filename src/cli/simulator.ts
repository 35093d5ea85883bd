// `fenix simulator`: run the shared simulated cloud (built by main/) until SIGINT / SIGTERM, so
// `fenix serve` / API replicas / engines started with --simulator-url <url> share one cloud.
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_SIMULATOR_PORT, isLoopback } from '../config/config.js';
import type { SimulatorServer } from '../main/simulator.js';

interface SimulatorCliOptions {
  scenario?: string;
  state?: string;
  db?: string;
  port: number;
  host: string;
}

const portArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('--port must be an integer from 0 to 65535');
  return n;
};

export function registerSimulatorCommand(program: Command): Command {
  return program
    .command('simulator')
    .description('run the simulated cloud as a service shared by several fenix processes (they use --simulator-url)')
    .option('--scenario <file>', 'simulated cloud (JSON file); default: the built-in demo cloud')
    .option('--db <db>', 'keep the simulated cloud across restarts in this database (SQLite file or postgres:// URL), one row per change; loaded instead of the scenario when it holds one')
    .option('--state <file>', 'keep it in this JSON file instead (rewritten whole on each change; loaded instead of the scenario when it exists)')
    .option('--port <port>', 'TCP port (0 = any free port)', portArg, DEFAULT_SIMULATOR_PORT)
    .option('--host <addr>', 'address to bind (the service has no authentication)', '127.0.0.1')
    .action(async (o: SimulatorCliOptions) => {
      let sim: SimulatorServer;
      try {
        // The server (Fastify, the store) is loaded only by this command.
        const { startSimulatorService } = await import('../main/simulator.js');
        sim = await startSimulatorService({
          ...(o.scenario && { scenarioFile: o.scenario }),
          ...(o.state && { statePath: o.state }),
          ...(o.db && { db: o.db }),
          host: o.host,
          port: o.port,
        });
      } catch (err) {
        const code = (err as { code?: unknown }).code === 'CONFIG_INVALID' ? 'CONFIG_INVALID' : 'START_FAILED';
        process.stderr.write(`error ${code}: ${(err as Error).message}\n`);
        process.exitCode = code === 'CONFIG_INVALID' ? 2 : 1;
        return;
      }
      if (!isLoopback(o.host)) process.stderr.write(`warning: the simulator has no authentication and listens on ${o.host}\n`);
      console.log(`Fenix simulated cloud on ${sim.url}${o.scenario ? ` (scenario ${o.scenario})` : ' (demo cloud)'}${o.state ? `, state ${o.state}` : ''}${o.db ? ', state in its database' : ''}`);
      console.log(`  fenix serve --simulator-url ${sim.url}   (or FENIX_SIMULATOR_URL=${sim.url})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
    });
}
