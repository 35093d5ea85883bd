// Plug-ins as the API shows them: the list (GET /v1/plugins) and the callback of an external job
// (PUT /v1/maintenance/{session_id}/{host}/{plugin}, Fenix 2020's plug-in callback): the job says
// DONE or FAILED, the run waiting for it finishes. Admin only; docs/plugins.md.
import { FenixError } from '../domain/errors.js';
import type { PluginInfo, PluginRegistry } from '../ports/action-plugin.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import { requireAdmin, type Principal } from './principal.js';

export interface PluginServiceDeps {
  store: Store;
  clock: Clock;
  plugins: PluginRegistry;
  nudge: (sessionId: string) => void;
}

/** What a job may send along with its state (shown with the run). */
const MAX_OUTPUT = 64 * 1024;
/** The host segment of a pre / post run's callback URL (no host name can be "-"). */
export const NO_HOST = '-';

export class PluginService {
  constructor(private readonly deps: PluginServiceDeps) {}

  list(who: Principal): PluginInfo[] {
    requireAdmin(who);
    const reg = this.deps.plugins;
    return reg.list?.() ?? reg.names().map((name) => ({ name, description: '', source: 'built-in', idempotent: null }));
  }

  /** Whether a path segment names a plug-in (then PUT …/{host}/{plugin} is a callback, not an instance reply). */
  isPlugin(name: string): boolean {
    return this.deps.plugins.get(name) !== undefined;
  }

  async callback(who: Principal, sessionId: string, host: string, plugin: string, body: { state?: unknown; output?: unknown }): Promise<{ accepted: boolean; duplicate?: boolean }> {
    requireAdmin(who);
    const state = body.state;
    if (state !== 'DONE' && state !== 'FAILED') throw new FenixError('VALIDATION_FAILED', `state must be "DONE" or "FAILED", got ${JSON.stringify(state) ?? 'nothing'}`);
    const output = body.output;
    if (output !== undefined && output !== null && (typeof output !== 'string' || output.length > MAX_OUTPUT))
      throw new FenixError('VALIDATION_FAILED', `output must be a string of at most ${MAX_OUTPUT} characters`);
    const r = await this.deps.store.recordPluginCallback({
      sessionId,
      host: host === NO_HOST ? null : host,
      plugin,
      state,
      output: typeof output === 'string' ? output : null,
      at: this.deps.clock.now(),
    });
    switch (r.result) {
      case 'no_session':
        throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${sessionId}`);
      case 'no_run':
        throw new FenixError('STATE_CONFLICT', `no run of plug-in ${plugin} ${host === NO_HOST ? 'outside a host (pre, post)' : `on ${host}`} is going on in session ${sessionId}`);
      case 'conflict':
        throw new FenixError('STATE_CONFLICT', `this run already reported ${r.state}`);
      default:
        this.deps.nudge(sessionId); // the run waiting for it looks now
        return r.result === 'duplicate' ? { accepted: true, duplicate: true } : { accepted: true };
    }
  }
}
