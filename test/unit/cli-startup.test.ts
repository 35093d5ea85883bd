// What `fenix serve` says before it starts: the help of its options, configuration errors (a
// postgres:// URL without a user, a --scenario file that is not there) and the log's two formats.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionHelp, packageVersion } from '../../src/cli/main.js';
import { ConfigError, loadConfig, OPTIONS, redactDbUrl } from '../../src/config/config.js';
import { readScenarioFile } from '../../src/main/flag-files.js';
import { prettyLine, resolveLogFormat } from '../../src/main/logging.js';

const option = (flag: string) => OPTIONS.find((o) => o.flag === flag)!;

describe('serve --help', () => {
  it('shows a default only where there is one', () => {
    expect(optionHelp(option('port'))).toBe('TCP port of the API [env FENIX_PORT, default 12347]');
    expect(optionHelp(option('public-url'))).toBe('base of URLs sent in notifications (default http://<host>:<port>) [env FENIX_PUBLIC_URL]');
    expect(optionHelp(option('demo'))).not.toMatch(/default/);
    for (const o of OPTIONS) expect(optionHelp(o)).not.toMatch(/default null/);
  });

  it('--version is the package version', () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('configuration errors', () => {
  it('a postgres:// URL without a user name gets the form to write', () => {
    const err = (() => {
      try {
        loadConfig({ db: 'postgres://db.example/fenix' }, {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toBe('--db postgres://db.example/fenix names no user; write postgres://USER:PASSWORD@HOST:5432/DATABASE (or set PGUSER)');
    // A user anywhere node-postgres looks for one is fine.
    expect(loadConfig({ db: 'postgres://fenix:pw@db.example/fenix' }, {}).db).toBe('postgres://fenix:pw@db.example/fenix');
    expect(() => loadConfig({ db: 'postgresql://db.example/fenix?user=fenix' }, {})).not.toThrow();
    expect(() => loadConfig({ db: 'postgres://db.example/fenix' }, { PGUSER: 'fenix' })).not.toThrow();
    expect(() => loadConfig({ db: 'postgres://db.example:port/fenix' }, {})).toThrow(/is not a URL; write postgres:\/\/USER:PASSWORD@HOST:5432\/DATABASE/);
  });

  it('a database URL is printed without its password', () => {
    expect(redactDbUrl('postgres://fenix:s3cret@db/fenix')).toBe('postgres://fenix:***@db/fenix');
    expect(redactDbUrl('fenix.db')).toBe('fenix.db');
  });

  it('--scenario names the flag and the path, whatever is wrong with the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-scenario-'));
    expect(() => readScenarioFile('/nonexistent.json')).toThrow(new ConfigError('--scenario /nonexistent.json: no such file'));
    expect(() => readScenarioFile(dir)).toThrow(new ConfigError(`--scenario ${dir}: is a directory, not a file`));
    writeFileSync(join(dir, 'bad.json'), '{"hosts": [');
    expect(() => readScenarioFile(join(dir, 'bad.json'))).toThrow(/^--scenario .*bad\.json: not valid JSON \(/);
    writeFileSync(join(dir, 'odd.json'), '{"hosts": 3}');
    expect(() => readScenarioFile(join(dir, 'odd.json'))).toThrow(/^--scenario .*odd\.json: /);
  });

  it('a bad --log-format is refused', () => {
    expect(() => loadConfig({ logFormat: 'xml' }, {})).toThrow(new ConfigError('--log-format must be one of auto, json, pretty, got "xml"'));
    expect(loadConfig({}, { FENIX_LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });
});

describe('log format', () => {
  it('auto: pretty on a terminal, JSON lines elsewhere', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', undefined)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('pretty: one line, UTC time, level, part, message, then the other fields', () => {
    const rec = { level: 40, time: Date.UTC(2026, 0, 1, 10, 2, 3, 45), pid: 1, hostname: 'h', svc: 'fenix', part: 'engine', session: 'S1', kind: 'state', msg: 'PREPARE_MAINTENANCE: emptying compute-0' };
    expect(prettyLine(JSON.stringify(rec))).toBe('10:02:03.045 WARN  engine PREPARE_MAINTENANCE: emptying compute-0 session=S1 kind=state');
    expect(prettyLine(JSON.stringify({ level: 50, time: 0, part: 'relay', msg: 'failed', err: { type: 'Error', message: 'connect ECONNREFUSED', stack: '…' } }))).toBe(
      '00:00:00.000 ERROR relay  failed err="connect ECONNREFUSED"',
    );
    expect(prettyLine('not json\n')).toBe('not json');
    expect(prettyLine(JSON.stringify(rec), true)).toContain('\x1b[33mWARN \x1b[0m');
  });
});
