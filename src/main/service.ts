// The composition root: the only place that builds concrete objects and wires them together.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from '../api/app.js';
import { noAuth, tokenAuth, validateTokenTable } from '../api/auth.js';
import { SystemClock } from '../clock/system.js';
import { publicUrlOf, type Config } from '../config/config.js';
import { demoScenario, parseScenario, SimulatedDriver } from '../drivers/simulated/index.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { Relay, type RelayOptions } from '../notifier/relay.js';
import { WebhookTransport } from '../notifier/webhook.js';
import { dummyPlugin } from '../plugins/dummy.js';
import { MapPluginRegistry } from '../plugins/registry.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import { ProjectService } from '../services/projects.js';
import { SessionService } from '../services/sessions.js';
import { SubscriptionService } from '../services/subscriptions.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { WORKFLOW_IMPLS } from '../workflows/index.js';
import type { WorkflowName } from '../domain/states.js';

export interface ServiceOverrides {
  clock?: Clock;
  logger?: Logger;
  engine?: Partial<EngineOptions>;
  relay?: RelayOptions;
  /** Don't start the engine and relay loops (tests drive runOnce themselves). */
  manual?: boolean;
  /** A scenario object instead of --scenario / the demo cloud. */
  scenario?: unknown;
}

export interface Service {
  app: FastifyInstance;
  engine: Engine;
  relay: Relay;
  store: Store;
  driver: SimulatedDriver;
  clock: Clock;
  url: string;
  config: Config;
  stop(): Promise<void>;
}

export async function openStore(db: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(db)) throw new Error('PostgreSQL support is not built yet; use a SQLite path');
  return openSqliteStore(db);
}

export function simulatorStatePath(db: string): string | undefined {
  return db === ':memory:' || /^postgres/.test(db) ? undefined : `${db}.simulator.json`;
}

export async function startService(config: Config, o: ServiceOverrides = {}): Promise<Service> {
  const clock = o.clock ?? new SystemClock();
  const log = o.logger ?? pino({ level: config.logLevel, base: { svc: 'fenix' } });
  const authenticate = config.auth === 'token' ? tokenAuth(validateTokenTable(JSON.parse(readFileSync(config.tokens!, 'utf8')))) : noAuth;
  const scenario =
    o.scenario !== undefined
      ? parseScenario(o.scenario)
      : config.scenario
        ? parseScenario(JSON.parse(readFileSync(config.scenario, 'utf8')))
        : demoScenario();
  const statePath = simulatorStatePath(config.db);
  const driver = new SimulatedDriver(scenario, clock, statePath ? { statePath } : {});
  const store = await openStore(config.db);
  // An SQLite file has one engine, this one: leases of a previous (crashed) process are void.
  if (store.dialect === 'sqlite') await store.releaseAllLeases();
  const plugins = new MapPluginRegistry([dummyPlugin]);

  // The API nudges the engine, which is built after the API (it needs the bound URL).
  const late: { engine?: Engine; relay?: Relay } = {};
  const nudge = (id: string) => late.engine?.nudge(id);
  const sessions = new SessionService({
    store,
    driver,
    clock,
    plugins,
    nudge,
    defaults: {
      replyWindowS: config.replyWindow,
      scaleInReplyWindowS: config.scaleInReplyWindow,
      ownActionTimeoutS: config.ownActionTimeout,
      noSubscription: config.noSubscription,
      minNoticeS: config.minNotice,
      workflows: Object.keys(WORKFLOW_IMPLS) as WorkflowName[],
    },
  });
  const app = await buildApp({
    store,
    clock,
    sessions,
    projects: new ProjectService({ store, clock, nudge }),
    subscriptions: new SubscriptionService({ store, clock }),
    authenticate,
    simulator: driver,
    // Request lines only at debug: the engine's log tells the story; errors still show.
    logger: log.child({ part: 'api' }, { level: config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn' }),
  });
  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = publicUrlOf(config, port);

  const relay = new Relay({ store, transport: new WebhookTransport(), clock, log: log.child({ part: 'relay' }) }, o.relay);
  const engine = new Engine(
    {
      store,
      driver,
      plugins,
      clock,
      ctx: { publicUrl: url, adminProject: config.adminProject, plugins: plugins.names() },
      log: log.child({ part: 'engine' }),
      owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      onOutbox: () => relay.nudge(),
    },
    o.engine,
  );
  late.engine = engine;
  const stop = new AbortController();
  const loops = o.manual ? [] : [engine.run(stop.signal), relay.run(stop.signal)];

  return {
    app,
    engine,
    relay,
    store,
    driver,
    clock,
    url,
    config,
    async stop() {
      stop.abort();
      await app.close();
      await Promise.allSettled(loops);
      await store.close();
    },
  };
}
