// The simulated cloud seen through its HTTP service (server.ts, `fenix simulator`): an InfraDriver
// for every process that shares one simulator, plus the simulator control API (asynchronous).
//
// Errors: anything that kept the request from getting an answer (refused, reset, timeout) is a
// retryable DriverError with code UNAVAILABLE; an error answer becomes the DriverError the server
// threw (code and retryable carried on the wire), and on the control methods a FenixError when the
// code is one of the domain's (NO_CAPACITY, VALIDATION_FAILED, ...), like the in-process driver.
import { request, type Dispatcher } from 'undici';
import { ERROR_CODES, FenixError, type ErrorCode } from '../../domain/errors.js';
import {
  DriverError,
  type HostInfo,
  type InfraDriver,
  type InstanceInfo,
  type MoveKind,
  type OpStatus,
  type WorldChanges,
} from '../../ports/infra-driver.js';
import type { ScenarioTimings } from './scenario.js';
import type { CreateInstanceRequest, SimHostView, SimInstanceView, SimOp, SimState } from './simulated-driver.js';
import {
  NO_DRIVER_CODE,
  hostFromWire,
  instanceFromWire,
  opStatusFromWire,
  worldChangesFromWire,
  type WireCreateInstanceBody,
  type WireHost,
  type WireInstance,
  type WireOpStatus,
  type WireWorldChanges,
} from './wire.js';

export interface RemoteSimulatorOptions {
  /** Per-request limit (connect, answer and body), ms. Default 10000. */
  timeoutMs?: number;
  /** undici dispatcher (connection pool); default the global one. Not closed by close(). */
  dispatcher?: Dispatcher;
  /** Sent as `authorization: Bearer <secret>` (a simulator served with a secret). */
  secret?: string;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** Port methods fail with DriverError only; control methods with FenixError for domain codes. */
type ErrorStyle = 'driver' | 'control';

interface Answer {
  status: number;
  body: unknown;
}

export class RemoteSimulatorDriver implements InfraDriver {
  readonly name = 'simulated';
  /** The service's base URL, without a trailing slash. */
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly authorization: Record<string, string>;

  constructor(url: string, opts: RemoteSimulatorOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.dispatcher = opts.dispatcher;
    this.authorization = opts.secret === undefined ? {} : { authorization: `Bearer ${opts.secret}` };
  }

  // ---------------------------------------------------------------- InfraDriver

  async listHosts(): Promise<HostInfo[]> {
    const b = (await this.call('GET', '/hosts')) as { hosts: WireHost[] };
    return b.hosts.map(hostFromWire);
  }

  /** Host names must not contain commas (they travel as one comma-separated parameter). */
  async listInstances(filter: { hosts?: string[]; projectId?: string } = {}): Promise<InstanceInfo[]> {
    const q = new URLSearchParams();
    if (filter.hosts !== undefined) q.set('hosts', filter.hosts.join(','));
    if (filter.projectId !== undefined) q.set('project_id', filter.projectId);
    const qs = q.toString();
    const b = (await this.call('GET', `/instances${qs ? `?${qs}` : ''}`)) as { instances: WireInstance[] };
    return b.instances.map(instanceFromWire);
  }

  /** `GET /instances/{id}`; undefined when the simulator has no such instance. */
  async getInstance(id: string): Promise<InstanceInfo | undefined> {
    const ans = await this.send('GET', `/instances/${encodeURIComponent(id)}`, undefined);
    if (ans.status === 404 && (ans.body as { error?: { code?: unknown } } | null)?.error?.code === 'NOT_FOUND') return undefined;
    if (ans.status >= 200 && ans.status < 300) return instanceFromWire(ans.body as WireInstance);
    throw this.errorOf('GET', '/instances/{id}', ans, 'driver');
  }

  /** `GET /watch?cursor=`: the simulator's change feed (a restarted simulator answers the whole world). */
  async watch(cursor: string | null): Promise<WorldChanges> {
    const qs = cursor === null ? '' : `?${new URLSearchParams({ cursor }).toString()}`;
    return worldChangesFromWire((await this.call('GET', `/watch${qs}`)) as WireWorldChanges);
  }

  async setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void> {
    await this.call('PUT', `/hosts/${encodeURIComponent(host)}/scheduling`, { enabled, reason });
  }

  /** `opts.target` is sent along; the server passes it on when its driver takes it. */
  async startMove(instanceId: string, kind: MoveKind, key: string, opts?: { target?: string }): Promise<string> {
    const body = { instance_id: instanceId, kind, key, ...(opts?.target !== undefined && { target: opts.target }) };
    return ((await this.call('POST', '/moves', body)) as { ref: string }).ref;
  }

  async startHostMaintenance(host: string, key: string): Promise<string> {
    return ((await this.call('POST', '/host-maintenance', { host, key })) as { ref: string }).ref;
  }

  async getOperation(ref: string): Promise<OpStatus> {
    return opStatusFromWire((await this.call('GET', `/operations/${encodeURIComponent(ref)}`)) as WireOpStatus);
  }

  async close(): Promise<void> {
    // Connections belong to the (global or given) dispatcher; nothing of our own to release.
  }

  // ---------------------------------------------------------------- simulator control API

  /** `GET /v1/simulator/hosts`. */
  async hostsView(): Promise<SimHostView[]> {
    return ((await this.call('GET', '/v1/simulator/hosts', undefined, 'control')) as { hosts: SimHostView[] }).hosts;
  }

  /** `GET /v1/simulator/instances`. */
  async instancesView(filter: { projectId?: string } = {}): Promise<SimInstanceView[]> {
    const qs = filter.projectId === undefined ? '' : `?${new URLSearchParams({ project_id: filter.projectId }).toString()}`;
    return ((await this.call('GET', `/v1/simulator/instances${qs}`, undefined, 'control')) as { instances: SimInstanceView[] }).instances;
  }

  /** Like SimulatedDriver.createInstance (host placement, fixed id); rejects with FenixError NO_CAPACITY etc. */
  async createInstance(req: CreateInstanceRequest): Promise<InstanceInfo> {
    const body: WireCreateInstanceBody = {
      name: req.name,
      project_id: req.projectId,
      vcpus: req.vcpus,
      ...(req.id !== undefined && { id: req.id }),
      ...(req.host !== undefined && { host: req.host }),
      ...(req.floatingIp !== undefined && { floating_ip: req.floatingIp }),
      ...(req.liveMigratable !== undefined && { live_migratable: req.liveMigratable }),
    };
    return instanceFromWire((await this.call('POST', '/instances', body, 'control')) as WireInstance);
  }

  /** `DELETE /v1/simulator/instances/{id}`; false when unknown. */
  async deleteInstance(id: string): Promise<boolean> {
    try {
      await this.call('DELETE', `/v1/simulator/instances/${encodeURIComponent(id)}`, undefined, 'control');
      return true;
    } catch (e) {
      if (e instanceof FenixError && e.code === 'INSTANCE_NOT_FOUND') return false;
      throw e;
    }
  }

  /** Moves of these instances fail from now on (also moves already in flight). */
  async failMigrationsOf(ids: string[]): Promise<void> {
    await this.call('POST', '/failures', { migrations: ids }, 'control');
  }

  /** Infrastructure maintenance of this host fails from now on. */
  async failHost(name: string): Promise<void> {
    await this.call('POST', '/failures', { hosts: [name] }, 'control');
  }

  /** Clear every injected failure. */
  async heal(): Promise<void> {
    await this.call('DELETE', '/failures', undefined, 'control');
  }

  /** Every op, oldest first. */
  async operations(): Promise<SimOp[]> {
    return ((await this.call('GET', '/operations', undefined, 'control')) as { operations: SimOp[] }).operations;
  }

  /** `GET /timings`: what the simulated operations take (not the whole state, as snapshot() is). */
  async timingsView(): Promise<ScenarioTimings> {
    return (await this.call('GET', '/timings', undefined, 'control')) as ScenarioTimings;
  }

  /** The full state as persisted. */
  async snapshot(): Promise<SimState> {
    return (await this.call('GET', '/state', undefined, 'control')) as SimState;
  }

  // ---------------------------------------------------------------- HTTP

  /** The parsed 2xx body (null when empty); throws DriverError / FenixError otherwise. */
  private async call(method: Method, path: string, body?: unknown, style: ErrorStyle = 'driver'): Promise<unknown> {
    const ans = await this.send(method, path, body);
    if (ans.status >= 200 && ans.status < 300) return ans.body;
    throw this.errorOf(method, path, ans, style);
  }

  private async send(method: Method, path: string, body: unknown): Promise<Answer> {
    const url = this.url + path;
    try {
      const res = await request(url, {
        method,
        headers: { accept: 'application/json', ...this.authorization, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(this.dispatcher && { dispatcher: this.dispatcher }),
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: res.statusCode, body: parsed };
    } catch (e) {
      throw new DriverError(`simulator ${method} ${url} failed: ${describe(e)}`, true, 'UNAVAILABLE');
    }
  }

  private errorOf(method: Method, path: string, ans: Answer, style: ErrorStyle): Error {
    const err = (ans.body as { error?: { code?: unknown; message?: unknown; retryable?: unknown } } | null)?.error;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    const message = typeof err?.message === 'string' ? err.message : `simulator ${method} ${path} answered ${ans.status}`;
    if (style === 'control' && code !== undefined && code in ERROR_CODES) return new FenixError(code as ErrorCode, message);
    const retryable = typeof err?.retryable === 'boolean' ? err.retryable : ans.status >= 500 || ans.status === 408 || ans.status === 429;
    return new DriverError(message, retryable, code === NO_DRIVER_CODE ? undefined : (code ?? `HTTP_${ans.status}`));
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  const code = (e as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  return `${e.name === 'TimeoutError' ? 'timed out' : e.message}${typeof code === 'string' && !e.message.includes(code) ? ` (${code})` : ''}`;
}
