// Plug-in runs of the sessions an engine holds (docs/plugins.md): each in the background, with its
// attempt number, a timeout, a durable place for what it needs after a crash (saveState), the
// callback of an external job, and cancellation (timeout, aborted or deleted session, lost lease:
// the plug-in's signal; its programs' process groups are killed by the plug-in). The outcome is
// written at once under the session's lease, then the session is nudged.
import type { ActionSpec, Op, SessionRow } from '../domain/model.js';
import type { SessionData } from '../domain/snapshot.js';
import type { PluginType } from '../domain/states.js';
import { isTerminal } from '../domain/states.js';
import type { ActionPlugin, PluginCallback, PluginContext, PluginRegistry } from '../ports/action-plugin.js';
import type { Clock } from '../ports/clock.js';
import type { Lease, OpPatch, Store } from '../ports/store.js';

/** A run's timeout unless its action or plug-in says otherwise. */
export const DEFAULT_PLUGIN_TIMEOUT_S = 3600;
/** After its signal, a plug-in has this long to return before its run is recorded failed anyway. */
const STOP_GRACE_MS = 15_000;
/** How often a run waiting for its callback looks (a nudge of the session looks at once). */
const CALLBACK_POLL_MS = 1_000;
/** Output kept with a run: its beginning and its end. */
const OUTPUT_HEAD = 2_000;
const OUTPUT_TAIL = 14_000;
/** Output quoted in the run's error (and so in the session's reason): its end. */
const REASON_TAIL = 600;

/** Why a run's signal was aborted. */
export class PluginStop extends Error {
  constructor(
    readonly kind: 'timeout' | 'cancelled' | 'lease',
    message: string,
  ) {
    super(message);
  }
}

export interface PluginRunsDeps {
  store: Store;
  plugins: PluginRegistry;
  clock: Clock;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
  /** Base of the callback URLs (the API's public URL). */
  publicUrl: string;
  workDir?: (sessionId: string) => string;
  /** Write an op's outcome under the lease and mirror it in memory; false: the lease is lost. */
  record: (op: Op, lease: Lease, patch: OpPatch) => Promise<boolean>;
  nudge: (sessionId: string) => void;
}

interface Run {
  sessionId: string;
  done: Promise<void>;
  abort: AbortController;
}

/** The action an op runs: by its index (args.action), else the first of its plug-in and type (ops of older versions). */
export function actionOf(session: SessionRow, op: Op): ActionSpec | undefined {
  const i = op.args.action;
  const a = typeof i === 'number' ? session.actions[i] : undefined;
  if (a && a.plugin === op.subject && a.type === op.args.type) return a;
  return session.actions.find((x) => x.plugin === op.subject && x.type === op.args.type);
}

/** Whether a run of `p` with this action's metadata may be started again from the start. */
export function isIdempotent(p: ActionPlugin, metadata: Record<string, unknown>): boolean {
  if (typeof metadata.idempotent === 'boolean') return metadata.idempotent;
  if (typeof p.idempotent === 'function') return p.idempotent(metadata);
  return p.idempotent ?? true;
}

/** The session is being stopped: its runs are cancelled and none starts. */
const stopping = (s: SessionRow): string | null => (s.deleting ? 'the session was deleted' : s.phase.aborted ? 'the session was aborted' : null);

export class PluginRuns {
  private readonly runs = new Map<number, Run>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly deps: PluginRunsDeps) {}

  has(opId: number): boolean {
    return this.runs.has(opId);
  }

  /** Sessions with a run going on in this process (their leases are kept by the heartbeat). */
  sessions(): Set<string> {
    return new Set([...this.runs.values()].map((r) => r.sessionId));
  }

  /** Every run's end, for a clean stop. */
  all(): Promise<void>[] {
    return [...this.runs.values()].map((r) => r.done);
  }

  /** Stop a session's runs (their outcome is recorded as failed, saying why). */
  stop(sessionId: string, why: PluginStop): void {
    for (const r of this.runs.values()) if (r.sessionId === sessionId && !r.abort.signal.aborted) r.abort.abort(why);
  }

  /** Cancel the runs of a session that is being aborted or deleted. */
  cancelIfStopping(session: SessionRow): void {
    const why = stopping(session);
    if (why) this.stop(session.id, new PluginStop('cancelled', `cancelled: ${why}`));
  }

  /** Something happened to the session (a callback may have come): runs waiting for one look now. */
  wake(sessionId?: string): void {
    for (const [id, ws] of this.waiters) if (sessionId === undefined || id === sessionId) for (const w of ws) w();
  }

  /** Start a pending run: written as started (attempt 1, durably) before it runs. */
  async start(data: SessionData, op: Op, lease: Lease): Promise<void> {
    const now = this.deps.clock.now();
    const over = stopping(data.session) ?? (isTerminal(data.session.state) ? `the session is ${data.session.state}` : null);
    if (over) {
      await this.deps.record(op, lease, { status: 'failed', error: `plug-in ${op.subject} not started: ${over}`, startedAt: now, finishedAt: now });
      return;
    }
    if (await this.deps.record(op, lease, { status: 'started', startedAt: now, attempts: op.attempts + 1 })) this.launch(data, op, lease);
  }

  /**
   * A run that was going on when its engine stopped (a crash, a takeover): started again, with the
   * next attempt number, when its plug-in is idempotent or saved state it can resume from;
   * otherwise recorded failed, so the admin checks the host and continues the session.
   */
  async resume(data: SessionData, op: Op, lease: Lease): Promise<void> {
    const now = this.deps.clock.now();
    const why = stopping(data.session);
    if (why) {
      await this.deps.record(op, lease, { status: 'failed', error: `plug-in ${op.subject} cancelled: ${why}`, finishedAt: now });
      return;
    }
    const plugin = this.deps.plugins.get(op.subject);
    const meta = actionOf(data.session, op)?.metadata ?? {};
    const saved = savedStateOf(op);
    if (plugin && !isIdempotent(plugin, meta) && saved?.resumable !== true) {
      const where = typeof op.args.host === 'string' ? ` on ${op.args.host}` : '';
      await this.deps.record(op, lease, {
        status: 'failed',
        finishedAt: now,
        error:
          `plug-in ${op.subject}${where} was interrupted (the engine stopped during attempt ${op.attempts}) and is not idempotent, ` +
          'so it is not started again: check what it did, then continue the session (PUT {"state": ...})',
      });
      return;
    }
    this.deps.log.warn({ session: op.sessionId, plugin: op.subject, attempt: op.attempts + 1 }, 'plug-in run interrupted by an engine stop; starting it again');
    if (await this.deps.record(op, lease, { attempts: op.attempts + 1 })) this.launch(data, op, lease);
  }

  private launch(data: SessionData, op: Op, lease: Lease): void {
    const { clock, plugins, log } = this.deps;
    const plugin = plugins.get(op.subject);
    const meta = actionOf(data.session, op)?.metadata ?? {};
    const host = typeof op.args.host === 'string' ? op.args.host : undefined;
    const timeoutS = typeof meta.timeout_s === 'number' && meta.timeout_s > 0 ? meta.timeout_s : (plugin?.defaultTimeoutS ?? DEFAULT_PLUGIN_TIMEOUT_S);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new PluginStop('timeout', `timed out after ${timeoutS}s`)), timeoutS * 1000);
    const ctx: PluginContext = {
      sessionId: op.sessionId,
      type: op.args.type as PluginType,
      ...(host !== undefined && { host }),
      metadata: meta,
      sessionMetadata: data.session.metadata,
      ...(this.deps.workDir && { workDir: this.deps.workDir(op.sessionId) }),
      signal: ac.signal,
      attempt: op.attempts,
      runKey: `${op.sessionId}:${op.key}`,
      savedState: savedStateOf(op),
      saveState: async (state) => {
        if (!(await this.deps.record(op, lease, { result: { state } }))) throw new Error('the engine no longer holds the session');
      },
      ...(this.deps.publicUrl && {
        callbackUrl: `${this.deps.publicUrl}/v1/maintenance/${encodeURIComponent(op.sessionId)}/${encodeURIComponent(host ?? '-')}/${encodeURIComponent(op.subject)}`,
      }),
      callback: (signal) => this.callback(op, signal),
    };
    const run = (async () => {
      const res = plugin ? await this.guarded(plugin, ctx, ac.signal) : { ok: false, output: `unknown plug-in ${op.subject} (not loaded by this engine)` };
      clearTimeout(timer);
      const stop = ac.signal.aborted && ac.signal.reason instanceof PluginStop ? ac.signal.reason : null;
      if (stop?.kind === 'lease') return; // another engine has the session (and the run) now
      const ok = res.ok && !stop;
      const where = host ? ` on ${host}` : '';
      const head = stop ? `plug-in ${op.subject}${where} ${stop.message}` : `plug-in ${op.subject}${where} failed`;
      await this.deps.record(op, lease, {
        status: ok ? 'done' : 'failed',
        result: { output: bounded(res.output) },
        error: ok ? null : `${head}${res.output.trim() ? `: ${tail(res.output)}` : ''}`,
        finishedAt: clock.now(),
      });
      log.info({ session: op.sessionId, plugin: op.subject, host, attempt: op.attempts, ok, stop: stop?.kind }, 'plug-in finished');
    })()
      .catch((err: unknown) => log.error({ err, session: op.sessionId }, 'recording a plug-in result failed'))
      .finally(() => {
        clearTimeout(timer);
        this.runs.delete(op.id);
        this.deps.nudge(op.sessionId);
      });
    this.runs.set(op.id, { sessionId: op.sessionId, done: run, abort: ac });
  }

  /** The plug-in's result; a throw is a failure, and a plug-in that ignores its signal is let go after a grace period. */
  private async guarded(plugin: ActionPlugin, ctx: PluginContext, signal: AbortSignal): Promise<{ ok: boolean; output: string }> {
    const result = plugin.run(ctx).then(
      (r) => ({ ok: r.ok === true, output: typeof r.output === 'string' ? r.output : String(r.output ?? '') }),
      (err: unknown) => ({ ok: false, output: err instanceof Error ? err.message : String(err) }),
    );
    let grace: NodeJS.Timeout | undefined;
    const letGo = new Promise<{ ok: boolean; output: string }>((resolve) => {
      const onAbort = () => {
        grace = setTimeout(() => resolve({ ok: false, output: `the plug-in did not stop within ${STOP_GRACE_MS / 1000}s of being told to` }), STOP_GRACE_MS);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      void result.finally(() => signal.removeEventListener('abort', onAbort));
    });
    try {
      return await Promise.race([result, letGo]);
    } finally {
      clearTimeout(grace);
    }
  }

  /** The first callback stored for the run: looked up now, on every nudge of the session, and every second. */
  private async callback(op: Op, signal: AbortSignal): Promise<PluginCallback> {
    for (;;) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const c = await this.deps.store.pluginCallback(op.id);
      if (c) return { state: c.state, output: c.output };
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(op.sessionId) ?? new Set();
        this.waiters.set(op.sessionId, set);
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          set.delete(done);
          if (!set.size) this.waiters.delete(op.sessionId);
          resolve();
        };
        const t = setTimeout(done, CALLBACK_POLL_MS);
        signal.addEventListener('abort', done, { once: true });
        set.add(done);
      });
    }
  }
}

function savedStateOf(op: Op): Record<string, unknown> | null {
  const s = op.result?.state;
  return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Record<string, unknown>) : null;
}

/** Output as kept with the run: its beginning and its end. */
export function bounded(text: string): string {
  if (text.length <= OUTPUT_HEAD + OUTPUT_TAIL) return text;
  return `${text.slice(0, OUTPUT_HEAD)}\n[... ${text.length - OUTPUT_HEAD - OUTPUT_TAIL} characters left out ...]\n${text.slice(-OUTPUT_TAIL)}`;
}

/** The end of the output, on whole lines where it can, for a reason. */
function tail(text: string): string {
  const t = text.trim();
  if (t.length <= REASON_TAIL) return t;
  const cut = t.slice(-REASON_TAIL);
  const nl = cut.indexOf('\n');
  return `…${nl >= 0 && nl < REASON_TAIL - 100 ? cut.slice(nl + 1) : cut}`;
}
