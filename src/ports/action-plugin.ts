// Action plug-ins run the actual upgrade work (spec §3 `actions`): pre, host, compute, controller, post.
import type { PluginType } from '../domain/states.js';

export interface PluginContext {
  sessionId: string;
  type: PluginType;
  /** The host being maintained, for host / compute / controller plug-ins. */
  host?: string;
  metadata: Record<string, unknown>;
  sessionMetadata: Record<string, unknown>;
  /** The session's work directory (downloads land here). */
  workDir?: string;
  signal: AbortSignal;
}

export interface PluginResult {
  ok: boolean;
  output: string;
}

/** Plug-ins must be idempotent: after a crash the engine runs an interrupted plug-in again. */
export interface ActionPlugin {
  readonly name: string;
  run(ctx: PluginContext): Promise<PluginResult>;
}

/** Fetches a `download` URL into a session's work directory; returns the file's path. */
export type Downloader = (url: string, sessionId: string, signal: AbortSignal) => Promise<string>;

export interface PluginRegistry {
  get(name: string): ActionPlugin | undefined;
  names(): string[];
}
