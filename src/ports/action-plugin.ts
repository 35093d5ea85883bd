// Action plug-ins run the actual upgrade work (spec §3 `actions`): pre, host, compute, controller,
// verify (health gates), post. docs/plugins.md.
import type { PluginType } from '../domain/states.js';

export interface PluginContext {
  sessionId: string;
  type: PluginType;
  /** The host being maintained, for host / compute / controller / verify plug-ins. */
  host?: string;
  metadata: Record<string, unknown>;
  sessionMetadata: Record<string, unknown>;
  /** The session's work directory (downloads land here). */
  workDir?: string;
  /** Aborted on timeout, when the session is aborted or deleted, or when the engine loses the session. */
  signal: AbortSignal;
  /** 1 on the first run; one more each time the run is started again after an engine crash. */
  attempt: number;
  /** The same for every attempt of this run (a continued session gets new ones): an idempotency key. */
  runKey: string;
  /** What an earlier attempt of this run saved (null: none); see saveState. */
  savedState: Record<string, unknown> | null;
  /**
   * Store a small JSON object with the run, durably, before going on: the next attempt after a crash
   * gets it as `savedState` (a process group to clean up, an external job to follow instead of
   * starting another). `resumable: true` in it tells the engine that a plug-in that is not
   * idempotent can pick the run up from there.
   */
  saveState(state: Record<string, unknown>): Promise<void>;
  /** Where an external job reports this run's outcome (PUT {"state": "DONE" | "FAILED"}), when the API's URL is known. */
  callbackUrl?: string;
  /** Resolves with the first callback to `callbackUrl` (one that came before the call included). */
  callback?: (signal: AbortSignal) => Promise<PluginCallback>;
}

export interface PluginCallback {
  state: 'DONE' | 'FAILED';
  /** What the job said, if anything (shown with the run). */
  output: string | null;
}

export interface PluginResult {
  ok: boolean;
  /** What the run printed or answered (bounded by the plug-in; the engine keeps the last 16 KB). */
  output: string;
}

export interface ActionPlugin {
  readonly name: string;
  /** One line for GET /v1/plugins. */
  readonly description?: string;
  /**
   * Whether running it again from the start does no harm (default true). After an engine crash a
   * run that was under way is started again when its plug-in is idempotent, or when it saved
   * `resumable` state; otherwise it is reported failed and the admin decides (continue the session).
   * A function decides per action (an operator's script may say it is not).
   */
  readonly idempotent?: boolean | ((metadata: Record<string, unknown>) => boolean);
  /** Seconds a run may take unless the action's metadata says `timeout_s` (default 3600). */
  readonly defaultTimeoutS?: number;
  /** Checked when a session is created: a message saying what is wrong with this action's metadata, or null. */
  validate?(metadata: Record<string, unknown>, type: PluginType): string | null | Promise<string | null>;
  run(ctx: PluginContext): Promise<PluginResult>;
}

/** Fetches a `download` URL into a session's work directory; returns the file's path. */
export type Downloader = (url: string, sessionId: string, signal: AbortSignal) => Promise<string>;

export interface PluginInfo {
  name: string;
  description: string;
  /** Built in, or loaded from --plugins-dir (the file). */
  source: string;
  /** As declared (a per-action decision shows as null). */
  idempotent: boolean | null;
}

export interface PluginRegistry {
  get(name: string): ActionPlugin | undefined;
  names(): string[];
  /** What GET /v1/plugins lists. */
  list?(): PluginInfo[];
}
