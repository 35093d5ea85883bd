// The shared simulator service: one SimulatedDriver behind HTTP, so API replicas and engine
// processes share one simulated cloud (they reach it with RemoteSimulatorDriver, --simulator-url).
// Composition only: the driver's routes and error mapping are drivers/simulated/server.ts, the
// `/v1/simulator/*` control routes are the API's own (same shapes as in `fenix serve`).
import { readFileSync } from 'node:fs';
import { jsonBody } from '../api/app.js';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { simulatorRoutes } from '../api/routes/simulator.js';
import { SystemClock } from '../clock/system.js';
import {
  SimulatedDriver,
  demoScenario,
  parseScenario,
  simulatedDriverRoutes,
  simulatorErrorHandler,
  simulatorNotFound,
  type ScenarioInput,
} from '../drivers/simulated/index.js';
import type { Clock } from '../ports/clock.js';

export const DEFAULT_SIMULATOR_PORT = 12348;

export interface SimulatorServerOptions {
  /** The cloud to simulate (ignored when statePath holds a saved state). */
  scenario: ScenarioInput;
  /** Default: the system clock. */
  clock?: Clock;
  /** Load the cloud from / save it to this JSON file. */
  statePath?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port; `fenix simulator` uses 12348). */
  port?: number;
  /** Request log; default none. */
  logger?: Logger;
}

export interface SimulatorServer {
  /** Base URL, e.g. http://127.0.0.1:12348 (give it to --simulator-url). */
  url: string;
  driver: SimulatedDriver;
  close(): Promise<void>;
}

export async function startSimulatorServer(opts: SimulatorServerOptions): Promise<SimulatorServer> {
  const clock = opts.clock ?? new SystemClock();
  const driver = new SimulatedDriver(opts.scenario, clock, opts.statePath ? { statePath: opts.statePath } : {});
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler(simulatorErrorHandler);
  app.setNotFoundHandler(simulatorNotFound);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBody);
  await app.register(simulatedDriverRoutes, { driver });
  await app.register(simulatorRoutes, { sim: driver });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    driver,
    async close() {
      await app.close();
      await driver.close();
    },
  };
}

/** What `fenix simulator` starts: the scenario from a JSON file (default the demo cloud). */
export async function startSimulatorService(opts: {
  scenarioFile?: string;
  statePath?: string;
  host?: string;
  port?: number;
  logger?: Logger;
}): Promise<SimulatorServer> {
  const scenario = opts.scenarioFile ? parseScenario(JSON.parse(readFileSync(opts.scenarioFile, 'utf8'))) : demoScenario();
  return startSimulatorServer({
    scenario,
    ...(opts.statePath && { statePath: opts.statePath }),
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? DEFAULT_SIMULATOR_PORT,
    ...(opts.logger && { logger: opts.logger }),
  });
}
