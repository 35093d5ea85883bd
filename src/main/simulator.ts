// The shared simulator service: one SimulatedDriver behind HTTP, so API replicas and engine
// processes share one simulated cloud (they reach it with RemoteSimulatorDriver, --simulator-url).
// Composition only: the driver's routes and error mapping are drivers/simulated/server.ts, the
// `/v1/simulator/*` control routes are the API's own (same shapes as in `fenix serve`).
import { timingSafeEqual } from 'node:crypto';
import { jsonBody } from '../api/json-body.js';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { simulatorRoutes } from '../api/routes/simulator.js';
import { SystemClock } from '../clock/system.js';
import {
  SimulatedDriver,
  demoScenario,
  simulatedDriverRoutes,
  simulatorErrorHandler,
  simulatorNotFound,
  type ScenarioInput,
} from '../drivers/simulated/index.js';
import type { Clock } from '../ports/clock.js';
import { openStore } from '../store/index.js';
import { KyselySimulatorState } from '../store/simulator-state.js';
import { DEFAULT_SIMULATOR_PORT } from '../config/config.js';
import { readScenarioFile } from './flag-files.js';

export { DEFAULT_SIMULATOR_PORT };

export interface SimulatorServerOptions {
  /** The cloud to simulate (ignored when db or statePath holds a saved state). */
  scenario: ScenarioInput;
  /** Default: the system clock. */
  clock?: Clock;
  /** Load the cloud from / save it to this JSON file (the whole file per change). */
  statePath?: string;
  /**
   * Keep the cloud in this database (SQLite file or postgres:// URL; the tables of fenix's own
   * migrations), row by row. Not with statePath. Not a database whose `fenix serve` runs its own
   * in-process simulator: two simulators would overwrite each other's rows.
   */
  db?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port; `fenix simulator` uses 12348). */
  port?: number;
  /** Request log; default none. */
  logger?: Logger;
  /** Serve this driver (its caller opened it and closes it) instead of opening one. */
  driver?: SimulatedDriver;
  /** Refuse requests without `authorization: Bearer <secret>` (an in-process cloud served to a sibling thread). */
  secret?: string;
}

export interface SimulatorServer {
  /** Base URL, e.g. http://127.0.0.1:12348 (give it to --simulator-url). */
  url: string;
  driver: SimulatedDriver;
  close(): Promise<void>;
}

export async function startSimulatorServer(opts: SimulatorServerOptions): Promise<SimulatorServer> {
  const clock = opts.clock ?? new SystemClock();
  if (opts.db !== undefined && opts.statePath) throw new Error('give the simulator a database or a state file, not both');
  const own = opts.driver === undefined;
  const store = own && opts.db !== undefined ? await openStore(opts.db) : undefined;
  let driver: SimulatedDriver;
  try {
    driver =
      opts.driver ??
      (store
        ? await SimulatedDriver.open(opts.scenario, clock, { state: new KyselySimulatorState(store.db) })
        : new SimulatedDriver(opts.scenario, clock, opts.statePath ? { statePath: opts.statePath } : {}));
  } catch (e) {
    await store?.close();
    throw e;
  }
  const closeDriver = async () => {
    if (own) await driver.close();
    await store?.close();
  };
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler(simulatorErrorHandler);
  app.setNotFoundHandler(simulatorNotFound);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBody);
  if (opts.secret !== undefined) {
    const expected = Buffer.from(`Bearer ${opts.secret}`);
    app.addHook('onRequest', async (req, reply) => {
      const got = Buffer.from(req.headers.authorization ?? '');
      if (got.length !== expected.length || !timingSafeEqual(got, expected))
        return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'this simulator answers its own service only', retryable: false } });
    });
  }
  await app.register(simulatedDriverRoutes, { driver });
  await app.register(simulatorRoutes, { sim: driver });
  const host = opts.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (e) {
    await closeDriver();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    driver,
    async close() {
      await app.close();
      await closeDriver();
    },
  };
}

/** What `fenix simulator` starts: the scenario from a JSON file (default the demo cloud). */
export async function startSimulatorService(opts: {
  scenarioFile?: string;
  statePath?: string;
  db?: string;
  host?: string;
  port?: number;
  logger?: Logger;
}): Promise<SimulatorServer> {
  const scenario = opts.scenarioFile ? readScenarioFile(opts.scenarioFile) : demoScenario();
  return startSimulatorServer({
    scenario,
    ...(opts.statePath && { statePath: opts.statePath }),
    ...(opts.db && { db: opts.db }),
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? DEFAULT_SIMULATOR_PORT,
    ...(opts.logger && { logger: opts.logger }),
  });
}
