// Files that flags name (--scenario of `fenix serve` and `fenix simulator`, --tokens). Each
// failure names the flag and the path, as a ConfigError: the command prints
// `error CONFIG_INVALID: --scenario /x.json: no such file` and exits 2, not a bare ENOENT with a stack.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config.js';
import { parseScenario, type ScenarioInput } from '../drivers/simulated/index.js';

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

/** The parsed JSON of the file `flag` names. */
export function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new ConfigError(`${flag} ${path}: ${FS_REASONS[code] ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`${flag} ${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** A file's JSON, checked by `parse`; what `parse` refuses is reported against the flag too. */
export function readFlagFile<T>(path: string, flag: string, parse: (json: unknown) => T): T {
  const json = readJsonFile(path, flag);
  try {
    return parse(json);
  } catch (e) {
    throw new ConfigError(`${flag} ${path}: ${(e as Error).message}`);
  }
}

export const readScenarioFile = (path: string, flag = '--scenario'): ScenarioInput => readFlagFile(path, flag, parseScenario);
