// The service's log: pino, written as JSON lines (for collectors: `--log-format json`, the default
// when stdout is not a terminal) or as one readable line per record (`--log-format pretty`, the
// default on a terminal). The pretty form is formatted here rather than by pino-pretty: that is a
// dev dependency with a dozen packages of its own and, as a pino transport, one more thread per
// logger (the engine thread has its own logger); one line needs about forty lines of code.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

export type LogFormat = 'json' | 'pretty';

/** --log-format auto: pretty on a terminal, JSON lines otherwise. */
export const resolveLogFormat = (setting: Config['logFormat'], isTTY: boolean | undefined): LogFormat =>
  setting === 'auto' ? (isTTY ? 'pretty' : 'json') : setting;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '31' };
/** Fields shown in the line's fixed columns, or not at all. */
const OWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'svc', 'part']);

const clock = (t: unknown): string => (typeof t === 'number' ? new Date(t).toISOString().slice(11, 23) : '--:--:--.---');

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  // pino's error serializer: {type, message, stack}; the message is what an operator reads.
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return JSON.stringify((v as { message: string }).message);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One pino JSON record as `HH:MM:SS.mmm LEVEL part  message key=value …` (UTC, like the API's
 * times). Not JSON (a line pino did not write): as it is.
 */
export function prettyLine(line: string, colour = false): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.replace(/\n$/, '');
  }
  const level = typeof r.level === 'number' ? r.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const paint = (code: string | undefined, s: string) => (colour && code ? `\x1b[${code}m${s}\x1b[0m` : s);
  const part = typeof r.part === 'string' ? r.part : typeof r.svc === 'string' ? r.svc : '';
  const fields = Object.entries(r)
    .filter(([k, v]) => !OWN.has(k) && v !== undefined)
    .map(([k, v]) => `${paint('2', k + '=')}${value(v)}`);
  const msg = typeof r.msg === 'string' ? r.msg : '';
  return [paint('2', clock(r.time)), paint(LEVEL_COLOURS[level], name), paint('36', part.padEnd(6)), msg, ...fields].filter((s) => s !== '').join(' ');
}

/** Colours when stdout is a terminal and NO_COLOR is not set (https://no-color.org). */
export const colourDefault = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

/** A pino destination that writes pretty lines to stdout. */
export function prettyStream(colour = colourDefault()): DestinationStream {
  return { write: (line: string) => void process.stdout.write(prettyLine(line, colour) + '\n') };
}

/**
 * The service's root logger. `config.logFormat` is resolved by the command (`auto` → json here),
 * and the engine thread is told both format and colour: its stdout is never a terminal.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, colour = colourDefault()): Logger {
  const opts = { level: config.logLevel, base: { svc: 'fenix' } };
  return config.logFormat === 'pretty' ? pino(opts, prettyStream(colour)) : pino(opts);
}
