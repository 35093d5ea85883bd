// Checks of action metadata shared by the built-in plug-ins, and the environment their programs get.
// Messages name the field, so a bad session body is refused with a clear 400 at create.
import type { PluginContext } from '../ports/action-plugin.js';

const MAX_ARG = 64 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A program and its arguments: a non-empty list of strings, never one string for a shell. */
export function argvError(v: unknown, field = 'command'): string | null {
  if (typeof v === 'string') return `${field} must be a list ["/path/to/program", "arg", ...], not a string: nothing is run through a shell`;
  if (!Array.isArray(v) || v.length === 0 || v.length > 1000) return `${field} must be a list of 1 to 1000 strings ["/path/to/program", "arg", ...]`;
  for (const [i, a] of v.entries()) {
    if (typeof a !== 'string') return `${field}[${i}] must be a string`;
    if (a.length > MAX_ARG || a.includes('\0')) return `${field}[${i}] is too long or holds a NUL character`;
  }
  return (v[0] as string) === '' ? `${field}[0] must name a program` : null;
}

/** Extra environment variables: names of letters, digits and _, string values; FENIX_* are the engine's. */
export function envError(v: unknown, field = 'env'): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${field} must be an object of strings {"NAME": "value"}`;
  for (const [k, x] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) return `${field}: ${JSON.stringify(k)} is not a variable name`;
    if (k.startsWith('FENIX_')) return `${field}: ${k}: FENIX_* variables are set by the engine`;
    if (typeof x !== 'string' || x.length > MAX_ARG || x.includes('\0')) return `${field}.${k} must be a string (no NUL, at most 64 KiB)`;
  }
  return null;
}

export const stringError = (v: unknown, field: string, optional = true): string | null =>
  v === undefined && optional ? null : typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\0') ? null : `${field} must be a non-empty string`;

export const intError = (v: unknown, field: string, min: number, max: number): string | null =>
  v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) ? null : `${field} must be an integer from ${min} to ${max}`;

export const objectError = (v: unknown, field: string): string | null =>
  v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v)) ? null : `${field} must be an object`;

/** The first error of several checks, or null. */
export const firstError = (...errors: (string | null)[]): string | null => errors.find((e) => e !== null) ?? null;

/**
 * What a plug-in's program runs with: not the engine's environment (it holds database and cloud
 * credentials), only what programs need to find their way (PATH, HOME, locale, time zone), the
 * action's `env`, and the run's FENIX_* variables (docs/plugins.md).
 */
export function programEnv(ctx: PluginContext, extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME', 'TMPDIR']) {
    const v = process.env[k];
    if (v !== undefined) base[k] = v;
  }
  base.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const own = (ctx.metadata.env ?? {}) as Record<string, string>;
  return { ...base, ...own, ...extra, ...fenixEnv(ctx) };
}

/** The run's FENIX_* variables. */
export function fenixEnv(ctx: PluginContext): Record<string, string> {
  return {
    FENIX_SESSION_ID: ctx.sessionId,
    FENIX_PLUGIN_TYPE: ctx.type,
    FENIX_HOST: ctx.host ?? '',
    FENIX_WORK_DIR: ctx.workDir ?? '',
    FENIX_ATTEMPT: String(ctx.attempt),
    FENIX_RUN_KEY: ctx.runKey,
    FENIX_METADATA: JSON.stringify(ctx.metadata),
    FENIX_SESSION_METADATA: JSON.stringify(ctx.sessionMetadata),
  };
}
