// `fenix serve` in two threads: the API on the main thread, the engine, the relay and the in-process
// simulated cloud in a worker thread. A step of the engine can take as long as it needs (the first
// step of a 10,000-host vnf session inventories 80,000 instances and plans them) without one API
// answer waiting for it, and the API's requests and the engine's steps run on two cores.
//
// The two threads share nothing but the database and a message port: the worker is an ordinary
// `fenix engine` (leases, the change feed, nudges) whose nudges arrive on the port instead of by
// PostgreSQL NOTIFY, so SQLite works too (two connections to one WAL file: the API reads while the
// engine writes). The API reaches the worker's simulated cloud through the simulator's own HTTP
// service on loopback, guarded by a per-start secret.
//
// Start-up is two-phase because each side needs an address from the other: the worker opens the
// store and the cloud and serves the cloud ('ready'); the API starts with it and listens; the
// worker then starts the engine with the API's URL for the notifications it sends ('started').
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from '../config/config.js';
import { RemoteSimulatorDriver, type SimulatedDriver } from '../drivers/simulated/index.js';
import { SystemClock } from '../clock/system.js';
import type { Nudges } from '../store/postgres/nudges.js';
import { openStore } from '../store/index.js';
import type { KyselyStore } from '../store/kysely-store.js';
import { createLogger, colourDefault } from './logging.js';
import { inProcessSimulator, scenarioOf, startService, type Service } from './service.js';
import { startSimulatorServer, type SimulatorServer } from './simulator.js';

type ToWorker = { type: 'start'; publicUrl: string } | { type: 'nudge'; id: string } | { type: 'stop' };
type FromWorker =
  | { type: 'ready'; simulatorUrl: string | null; secret: string }
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string; code?: string };

interface Port {
  postMessage(m: ToWorker | FromWorker): void;
  on(event: 'message', f: (m: unknown) => void): unknown;
  off(event: 'message', f: (m: unknown) => void): unknown;
}

/** Nudges over a message port: the API side posts them, the engine side listens. */
export class PortNudges implements Nudges {
  private handler: ((m: unknown) => void) | null = null;
  constructor(private readonly port: Port) {}

  async notify(sessionId: string): Promise<void> {
    this.port.postMessage({ type: 'nudge', id: sessionId });
  }

  async listen(onNudge: (sessionId: string) => void): Promise<void> {
    this.handler = (m) => {
      const msg = m as ToWorker;
      if (msg.type === 'nudge') onNudge(msg.id);
    };
    this.port.on('message', this.handler);
    onNudge(''); // nudges posted before the engine listened were dropped: look at everything once
  }

  async close(): Promise<void> {
    if (this.handler) this.port.off('message', this.handler);
    this.handler = null;
  }
}

export interface ThreadedService {
  app: FastifyInstance | undefined;
  url: string;
  stop(): Promise<void>;
}

/**
 * `fenix serve` with the engine in a worker thread. The process exits with code 1 if the worker
 * dies: an API without its engine would accept sessions nobody runs.
 */
export async function startThreadedService(config: Config): Promise<ThreadedService> {
  const worker = new Worker(new URL('./engine-thread.js', import.meta.url), { workerData: { fenixEngineThread: config, logColour: colourDefault() } });
  let stopping = false;
  const next = (want: FromWorker['type']) =>
    new Promise<FromWorker>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type !== want && m.type !== 'failed') return;
        cleanup();
        if (m.type === 'failed') reject(m.code === 'CONFIG_INVALID' ? new ConfigError(m.message) : new Error(m.message));
        else resolve(m);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`the engine thread exited (code ${code})`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });

  let api: Service | undefined;
  try {
    const ready = (await next('ready')) as Extract<FromWorker, { type: 'ready' }>;
    const simulator = ready.simulatorUrl ? new RemoteSimulatorDriver(ready.simulatorUrl, { secret: ready.secret }) : undefined;
    api = await startService(config, { role: 'api', nudges: new PortNudges(worker), ...(simulator && { simulator }) });
    const started = next('started');
    worker.postMessage({ type: 'start', publicUrl: api.url } satisfies ToWorker);
    await started;
  } catch (e) {
    await api?.stop().catch(() => {});
    await worker.terminate();
    throw e;
  }
  worker.on('exit', (code) => {
    if (stopping) return;
    console.error(`error: the engine thread stopped (code ${code}); exiting`);
    process.exit(1);
  });
  const svc = api;
  return {
    app: svc.app,
    url: svc.url,
    async stop() {
      if (stopping) return;
      stopping = true;
      await svc.stop(); // no more requests, so nothing reaches the worker's cloud after this
      const stopped = next('stopped').catch(() => undefined);
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
      await stopped;
      await worker.terminate();
    },
  };
}

/** The simulated cloud in this thread, and its server for the API's thread. */
async function startInProcessCloud(config: Config, clock: SystemClock, store: KyselyStore, secret: string) {
  const scenario = scenarioOf(config);
  const simulator = await inProcessSimulator(scenario, clock, config, store, 'all');
  try {
    return { simulator, simServer: await startSimulatorServer({ scenario, driver: simulator, secret, clock }) };
  } catch (e) {
    await simulator.close();
    throw e;
  }
}

/** The worker: phase 1 at load, phase 2 on 'start', then runs until 'stop'. */
async function runEngineThread(port: MessagePort, config: Config, logColour: boolean): Promise<void> {
  const post = (m: FromWorker) => port.postMessage(m);
  const secret = randomBytes(24).toString('base64url');
  const clock = new SystemClock();
  let store: KyselyStore | undefined;
  let simulator: SimulatedDriver | undefined;
  let simServer: SimulatorServer | undefined;
  let svc: Service | undefined;
  try {
    // In the try: a database that refuses the connection is reported as 'failed', not a thread crash.
    store = await openStore(config.db);
    if (config.driver === 'simulated' && !config.simulatorUrl) {
      // In a helper, not here: this frame lives as long as the thread, and the scenario (tens of MB
      // at 10,000 hosts) is needed only to build the cloud.
      ({ simulator, simServer } = await startInProcessCloud(config, clock, store, secret));
    }
    post({ type: 'ready', simulatorUrl: simServer?.url ?? null, secret });
    const start = await new Promise<ToWorker>((resolve) => {
      const f = (m: ToWorker) => {
        if (m.type !== 'start' && m.type !== 'stop') return;
        port.off('message', f);
        resolve(m);
      };
      port.on('message', f);
    });
    if (start.type === 'start') {
      svc = await startService(
        { ...config, publicUrl: start.publicUrl },
        { role: 'engine', clock, store, logger: createLogger(config, logColour), nudges: new PortNudges(port), ...(simulator && { simulator }) },
      );
      post({ type: 'started' });
      await new Promise<void>((resolve) => {
        const f = (m: ToWorker) => m.type === 'stop' && (port.off('message', f), resolve());
        port.on('message', f);
      });
    }
  } catch (e) {
    post({ type: 'failed', message: (e as Error).message, ...(e instanceof ConfigError && { code: e.code }) });
  } finally {
    await simServer?.close().catch(() => {});
    if (svc) await svc.stop(); // closes the cloud (it writes what it still queues) and the store
    else {
      await simulator?.close();
      await store?.close().catch(() => {});
    }
    post({ type: 'stopped' });
    port.close();
  }
}

const data = isMainThread ? undefined : (workerData as { fenixEngineThread?: Config; logColour?: boolean } | null);
if (parentPort && data?.fenixEngineThread) void runEngineThread(parentPort, data.fenixEngineThread, data.logColour === true);
