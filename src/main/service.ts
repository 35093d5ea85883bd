// The composition root: the only place that builds concrete objects and wires them together.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { noAuth, parseTokenTable, tokenAuth } from '../api/auth.js';
import type { InfraDriver } from '../ports/infra-driver.js';
import type { PlanEstimates } from '../domain/constraints.js';
import { PlanService } from '../services/plan.js';
import { httpDownloader, sessionWorkDir } from './download.js';
import { createLogger } from './logging.js';
import { readFlagFile, readScenarioFile } from './flag-files.js';
import { SystemClock } from '../clock/system.js';
import { publicUrlOf, type Config } from '../config/config.js';
import { demoScenario, parseScenario, RemoteSimulatorDriver, SimulatedDriver, type ScenarioInput } from '../drivers/simulated/index.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { Relay, type RelayOptions } from '../notifier/relay.js';
import { UrlPolicy, parseCidrList } from '../notifier/url-policy.js';
import { WebhookTransport } from '../notifier/webhook.js';
import { pluginRegistry } from '../plugins/index.js';
import { PluginService } from '../services/plugins.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import { ConstraintService } from '../services/constraints.js';
import { ProjectService } from '../services/projects.js';
import { SessionService } from '../services/sessions.js';
import { SubscriptionService } from '../services/subscriptions.js';
import { openStore } from '../store/index.js';
import type { KyselyStore } from '../store/kysely-store.js';
import { KyselySimulatorState } from '../store/simulator-state.js';
import type { Nudges } from '../store/postgres/nudges.js';
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
  /**
   * all: API, engine and relay in one process (`fenix serve`); api: the stateless API only
   * (`fenix api`, any number of replicas); engine: engine and relay only (`fenix engine`, any number).
   * Split roles need PostgreSQL: engines share sessions through leases, the API nudges them by NOTIFY.
   */
  role?: 'all' | 'api' | 'engine';
  /** Use this infrastructure driver (e.g. a test's wrapper of the OpenStack driver). */
  driver?: InfraDriver;
  /** Use this simulated cloud (already open) instead of building one. */
  simulator?: SimulatedDriver | RemoteSimulatorDriver;
  /** Use this store (already open; closed by stop()). */
  store?: KyselyStore;
  /**
   * How split roles wake each other: default PostgreSQL LISTEN/NOTIFY. The engine thread of
   * `fenix serve` (engine-thread.ts) passes its message port, which also works on SQLite.
   */
  nudges?: Nudges;
}

export interface Service {
  /** Absent in the engine role. */
  app?: FastifyInstance;
  engine: Engine;
  relay: Relay;
  store: Store;
  /** The simulated cloud (in-process or the shared service); absent with --driver openstack. */
  simulator?: SimulatedDriver | RemoteSimulatorDriver;
  /** The infrastructure driver in use, whatever its kind. */
  infra: InfraDriver;
  clock: Clock;
  url: string;
  config: Config;
  stop(): Promise<void>;
}

/**
 * The in-process simulated cloud and where it lives: --simulator-state's JSON file when given, else
 * the service's own database, rows per change, on every store (an older `<db>.simulator.json`
 * beside a SQLite file is imported once). Split api / engine processes keep their own unsaved
 * clouds, as before: several processes writing one cloud's rows would overwrite each other (share
 * one cloud with `fenix simulator --db …` and --simulator-url).
 */
export async function inProcessSimulator(
  scenario: ScenarioInput,
  clock: Clock,
  config: Pick<Config, 'db' | 'simulatorState'>,
  store: KyselyStore,
  role: 'all' | 'api' | 'engine',
): Promise<SimulatedDriver> {
  if (config.simulatorState) return new SimulatedDriver(scenario, clock, { statePath: config.simulatorState });
  if (role !== 'all') return new SimulatedDriver(scenario, clock);
  const legacy = store.dialect === 'sqlite' && config.db !== ':memory:' ? `${config.db}.simulator.json` : undefined;
  return SimulatedDriver.open(scenario, clock, { state: new KyselySimulatorState(store.db), ...(legacy && { importFrom: legacy }) });
}

/** The simulated cloud to start from: the override, --scenario's file, or the demo cloud. */
export function scenarioOf(config: Pick<Config, 'scenario'>, override?: unknown): ScenarioInput {
  if (override !== undefined) return parseScenario(override);
  return config.scenario ? readScenarioFile(config.scenario) : demoScenario();
}

async function simulatorEstimates(sim: SimulatedDriver | RemoteSimulatorDriver): Promise<Partial<PlanEstimates>> {
  const t = await sim.timingsView();
  return { migrateS: t.migrate_s, liveMigrateS: t.live_migrate_s, evictS: t.evict_s, hostMaintenanceS: t.host_maintenance_s };
}

export async function startService(config: Config, o: ServiceOverrides = {}): Promise<Service> {
  const clock = o.clock ?? new SystemClock();
  const log = o.logger ?? createLogger(config);
  // OpenStack: one Keystone session (the service user of OS_* / --os-*) for Nova, AODH and token validation.
  const keystone =
    config.driver === 'openstack' || config.auth === 'keystone' || config.aodh
      ? await openstack().then((m) => new m.KeystoneSession(m.credentialsFromEnv(process.env, osCredentialFlags(config))))
      : null;
  const authenticate =
    config.auth === 'token'
      ? tokenAuth(readFlagFile(config.tokens!, '--tokens', parseTokenTable))
      : config.auth === 'keystone'
        ? (await import('../api/keystone-auth.js')).keystoneAuth({ validate: (t) => keystone!.validateToken(t) })
        : noAuth;
  const role = o.role ?? 'all';
  const store = o.store ?? (await openStore(config.db));
  // --simulator-url: a shared simulator service (fenix simulator) owns the cloud, its scenario and state.
  const simulator =
    config.driver === 'openstack' || config.driver === 'kubernetes'
      ? undefined
      : (o.simulator ??
        (config.simulatorUrl
          ? new RemoteSimulatorDriver(config.simulatorUrl)
          : await inProcessSimulator(scenarioOf(config, o.scenario), clock, config, store, role)));
  // Nova's notifications tell the engine's driver what changed (issue 10); the API's driver only
  // answers single lookups. Unreachable at start: the driver polls, and the consumer reconnects.
  const novaEvents =
    !o.driver && config.driver === 'openstack' && config.novaNotifications && role !== 'api'
      ? new (await import('../drivers/openstack/nova-events.js')).NovaNotifications({
          url: config.novaNotifications,
          onError: (err) => log.warn({ err: err.message }, 'nova notifications: reconnect failed'),
        })
      : null;
  await novaEvents?.start().catch((err: Error) => log.warn({ err: err.message }, 'nova notifications: not connected; polling Nova until they are'));
  const infra: InfraDriver =
    o.driver ??
    simulator ??
    (config.driver === 'kubernetes'
      ? await kubernetesDriver(config)
      : new (await openstack()).OpenStackDriver(keystone!, novaEvents ? { events: novaEvents } : {}));
  // What the planner assumes a move or a host maintenance takes: the simulated cloud's own timings
  // (unreachable shared simulator: the planner's defaults).
  const estimates = simulator ? await simulatorEstimates(simulator).catch(() => undefined) : undefined;
  if (role !== 'all' && store.dialect !== 'postgres' && !o.nudges) throw new Error(`fenix ${role} needs --db postgres://…; use fenix serve with SQLite`);
  if (role === 'engine' && !config.publicUrl) throw new Error('fenix engine needs --public-url: the API address that notifications point to');
  // An SQLite file has one engine, this one: leases of a previous (crashed) process are void.
  if (store.dialect === 'sqlite' && role !== 'api') await store.releaseAllLeases();
  // Across processes (or threads) the API wakes engines with nudges; in one thread it calls the engine.
  const pgNudges: Nudges | null = role === 'all' ? null : (o.nudges ?? new (await import('../store/postgres/nudges.js')).PgNudges(config.db));
  const urlPolicy = urlPolicyOf(config);
  // Webhooks and downloads connect through it: the policy holds on the address actually connected to.
  const outbound = urlPolicy.dispatcher();
  // Built-in action plug-ins and --plugins-dir's (docs/plugins.md); the http plug-in goes through the URL policy too.
  const plugins = await pluginRegistry({
    dir: config.pluginsDir,
    http: { dispatcher: outbound, checkUrl: (url, what) => urlPolicy.checkRegistration(url, what) },
    ssh: { user: config.sshUser, key: config.sshKey, knownHosts: config.sshKnownHosts },
  });

  // The API nudges the engine, which is built after the API (it needs the bound URL).
  const late: { engine?: Engine; relay?: Relay } = {};
  const nudge = (id: string) =>
    pgNudges ? void pgNudges.notify(id).catch((err) => log.warn({ err }, 'nudge failed; engines will sweep')) : late.engine?.nudge(id);
  const sessions = new SessionService({
    store,
    driver: infra,
    clock,
    plugins,
    nudge,
    urlPolicy,
    defaults: {
      replyWindowS: config.replyWindow,
      scaleInReplyWindowS: config.scaleInReplyWindow,
      ownActionTimeoutS: config.ownActionTimeout,
      noSubscription: config.noSubscription,
      minNoticeS: config.minNotice,
      workflows: Object.keys(WORKFLOW_IMPLS) as WorkflowName[],
    },
  });
  let app: FastifyInstance | undefined;
  let metricsApp: FastifyInstance | undefined;

  let url = config.publicUrl ? publicUrlOf(config) : '';
  if (role !== 'engine') {
    const { metricsRegistry, startMetricsServer } = await import('../api/metrics.js');
    const metrics = metricsRegistry(store);
    const { buildApp } = await import('../api/app.js');
    app = await buildApp({
      store,
      clock,
      sessions,
      projects: new ProjectService({ store, clock, nudge }),
      subscriptions: new SubscriptionService({ store, clock, urlPolicy }),
      plugins: new PluginService({ store, clock, plugins, nudge }),
      authenticate,
      metrics,
      constraints: new ConstraintService({ store, clock, driver: infra }),
      plan: new PlanService({ store, driver: infra, clock, ...(estimates && { estimates }) }),
      ...(simulator && { simulator }),
      // Request lines only at debug: the engine's log tells the story; errors still show.
      logger: log.child({ part: 'api' }, { level: config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn' }),
    });
    await app.listen({ port: config.port, host: config.host });
    if (config.metricsPort) metricsApp = await startMetricsServer(metrics, config.host, config.metricsPort);
    const addr = app.server.address();
    url = publicUrlOf(config, typeof addr === 'object' && addr ? addr.port : config.port);
  }

  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  // --notify-amqp: `oslo:` subscriptions (the infrastructure events, AODH projects) go on the oslo.messaging bus.
  const osloModule = config.notifyAmqp ? await import('../notifier/oslo-transport.js') : null;
  const oslo = osloModule ? new osloModule.OsloTransport({ url: config.notifyAmqp!, exchange: config.osloExchange }) : null;
  if (osloModule) await osloModule.ensureOsloAdminSubscription(store, { exchange: config.osloExchange, now: clock.now() });
  const webhook = new WebhookTransport({ dispatcher: outbound });
  const transport = oslo ? new osloModule!.RoutingTransport(webhook, oslo) : webhook;
  const relay = new Relay({ store, transport, clock, log: log.child({ part: 'relay' }), owner }, o.relay);
  const engine = new Engine(
    {
      store,
      driver: infra,
      plugins,
      clock,
      ctx: { publicUrl: url, adminProject: config.adminProject, plugins: plugins.names(), ...(estimates && { estimates }) },
      log: log.child({ part: 'engine' }),
      owner,
      onOutbox: () => relay.nudge(),
      download: httpDownloader(config.workDir, { dispatcher: outbound }),
      workDir: (sessionId) => sessionWorkDir(config.workDir, sessionId),
    },
    { leaseTtlMs: config.leaseTtl * 1000, ...moveLimitsOf(config, infra), ...o.engine },
  );
  late.engine = engine;
  const stop = new AbortController();
  const runLoops = role !== 'api' && !o.manual;
  const loops = runLoops ? [engine.run(stop.signal), relay.run(stop.signal)] : [];
  if (runLoops && config.aodh) {
    const { AodhSubscriptionSync } = await openstack();
    const { osloSubscriptionUrl } = await import('../notifier/oslo-transport.js');
    const sync = new AodhSubscriptionSync({ keystone: keystone!, store, subscriptionUrl: osloSubscriptionUrl(config.osloExchange), now: () => clock.now(), log: log.child({ part: 'aodh' }) });
    loops.push(sync.run(stop.signal));
  }
  if (runLoops && pgNudges) await pgNudges.listen((id) => engine.nudge(id || undefined), (err) => log.warn({ err }, 'LISTEN connection lost'));

  return {
    app,
    engine,
    relay,
    store,
    ...(simulator && { simulator }),
    infra,
    clock,
    url,
    config,
    async stop() {
      stop.abort();
      await app?.close();
      await metricsApp?.close();
      await Promise.allSettled(loops);
      await oslo?.close();
      await infra.close?.();
      await novaEvents?.close();
      if (simulator !== infra) await simulator?.close(); // writes what the simulator still queues
      await pgNudges?.close();
      await outbound.close();
      await store.close();
    },
  };
}

/**
 * Modules a process loads only when its configuration uses them (each costs megabytes per thread:
 * the engine thread of `fenix serve` needs neither the API nor OpenStack on a simulated cloud).
 */
const openstack = () => import('../drivers/openstack/index.js');

/** --driver kubernetes (loaded only then): the cluster of --kubeconfig / KUBECONFIG / the pod's service account. */
async function kubernetesDriver(config: Config): Promise<InfraDriver> {
  const k8s = await import('../drivers/kubernetes/index.js');
  const { kc } = k8s.loadKubeConfig(config.kubeconfig);
  return new k8s.KubernetesDriver(kc, { drain: { force: config.drainForce, deleteEmptyDirData: config.drainDeleteEmptydirData } });
}

/** --max-moves* over the driver's own caps (a flag of 0 lifts that cap). */
function moveLimitsOf(config: Config, driver: InfraDriver): Partial<EngineOptions> {
  const d = driver.moveLimits ?? {};
  const pick = (flag: number | null, own: number | undefined) => flag ?? own ?? 0;
  if (config.maxMoves === null && config.maxMovesPerSource === null && config.maxMovesPerTarget === null) return {};
  return {
    moveLimits: {
      total: pick(config.maxMoves, d.total),
      perSource: pick(config.maxMovesPerSource, d.perSource),
      perTarget: pick(config.maxMovesPerTarget, d.perTarget),
    },
  };
}

/**
 * The webhook / download URL policy: strict (loopback, link-local, metadata… refused) unless the
 * service runs with --auth none (loopback-only development) and neither --webhook-allow nor
 * --webhook-deny is given, so the demo's receivers on 127.0.0.1 keep working.
 */
export function urlPolicyOf(config: Pick<Config, 'auth' | 'webhookAllow' | 'webhookDeny'>): UrlPolicy {
  const explicit = Boolean(config.webhookAllow || config.webhookDeny);
  return new UrlPolicy({
    mode: config.auth === 'none' && !explicit ? 'open' : 'strict',
    allow: parseCidrList(config.webhookAllow),
    deny: parseCidrList(config.webhookDeny),
  });
}

/** --os-* flags that were given, as credentials overriding the OS_* variables. */
function osCredentialFlags(c: Config): Record<string, string> {
  const out: Record<string, string> = {};
  const map: [keyof Config, string][] = [
    ['osAuthUrl', 'authUrl'],
    ['osUsername', 'username'],
    ['osPassword', 'password'],
    ['osProjectName', 'projectName'],
    ['osUserDomainName', 'userDomainName'],
    ['osProjectDomainName', 'projectDomainName'],
    ['osRegionName', 'regionName'],
    ['osInterface', 'interface'],
  ];
  for (const [k, v] of map) if (typeof c[k] === 'string' && c[k]) out[v] = c[k] as string;
  return out;
}
