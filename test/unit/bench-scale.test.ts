// The scale benchmark's pure parts: its options, the cloud it generates and how it judges figures.
import { describe, expect, it } from 'vitest';
import {
  defaultOptions,
  evaluate,
  INSTANT,
  judged,
  medianRun,
  runsAt,
  parseOptions,
  runTimeoutS,
  scaleScenario,
  workHostSeconds,
  type EngineResult,
  type LoadResult,
} from '../../src/bench/scale.js';
import { parseScenario } from '../../src/drivers/simulated/scenario.js';

describe('bench:scale options', () => {
  it('defaults to the issue: 50/1,000/10,000 hosts, both stores and workflows, 20 connections for 20 s', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({ hosts: [50, 1000, 10_000], stores: ['sqlite', 'postgres'], workflows: ['default', 'vnf'], loadHosts: [10, 1000], connections: 20, loadDurationS: 20 });
    expect(runTimeoutS(o, 10_000)).toBe(1260);
  });

  it('takes flags over env vars, both spellings, and "none" to skip a section', () => {
    const o = parseOptions(['--hosts', '50,200', '--stores=sqlite', '--load-hosts', 'none'], { BENCH_SCALE_HOSTS: '10', BENCH_SCALE_WORKFLOWS: 'vnf', BENCH_SCALE_LOAD_DURATION: '5' });
    expect(o).toMatchObject({ hosts: [50, 200], stores: ['sqlite'], workflows: ['vnf'], loadHosts: [], loadDurationS: 5 });
  });

  it('refuses what it does not know with a clear message', () => {
    expect(() => parseOptions(['--stores', 'mysql'])).toThrow(/--stores: "mysql" is not one of sqlite, postgres/);
    expect(() => parseOptions(['--hosts', '1'])).toThrow(/whole number of hosts/);
    expect(() => parseOptions(['--load-duration', '0'])).toThrow(/positive number/);
    expect(() => parseOptions(['--nope', '1'])).toThrow(/unknown argument/);
    expect(() => parseOptions(['--out'])).toThrow(/needs a value/);
  });

  it('reports the median of repeated engine sessions, or the first that did not end', () => {
    expect(parseOptions(['--repeat', '3']).repeat).toBe(3);
    expect(() => parseOptions(['--repeat', '1.5'])).toThrow(/positive integer/);
    const run = (ms: number | null, outcome = 'MAINTENANCE_DONE') =>
      ({ store: 'sqlite', workflow: 'default', hosts: 10, instances: 80, outcome, reason: null, engine_ms: ms === null ? null : ms * 10, engine_ms_per_host: ms, observed_ms: null, create_ms: null, probe: null, peak_rss: [] }) as Parameters<typeof medianRun>[0][number];
    expect(medianRun([run(9), run(7), run(8)])).toMatchObject({ engine_ms_per_host: 8, runs_ms_per_host: [9, 7, 8] });
    expect(medianRun([run(9), run(7)]).engine_ms_per_host).toBe(7);
    expect(medianRun([run(7), run(null, 'TIMEOUT'), run(8)])).toMatchObject({ outcome: 'TIMEOUT', runs_ms_per_host: [7, null, 8] });
    expect(medianRun([run(5)])).not.toHaveProperty('runs_ms_per_host');
  });

  it('repeats the sizes the targets are judged at, and keeps the worst answer and memory of the repeats', () => {
    const o = defaultOptions();
    expect([50, 1000, 10_000].map((h) => runsAt(o, h))).toEqual([3, 3, 1]);
    expect(runsAt(parseOptions(['--repeat', '1']), 1000)).toBe(1);
    expect(runsAt(parseOptions(['--repeat-up-to', '10000']), 10_000)).toBe(3);
    const probe = (slowest: number) => ({ answers: 1, errors: 0, slowest_ms: slowest, longest_gap_ms: 0, last_error: null });
    const run = (ms: number, slowest: number, rss: number) =>
      ({ store: 'sqlite', workflow: 'default', hosts: 10, instances: 80, outcome: 'MAINTENANCE_DONE', reason: null, engine_ms: ms * 10, engine_ms_per_host: ms, observed_ms: null, create_ms: null, probe: probe(slowest), peak_rss: [{ pid: 1, rss_mb: rss }] }) as Parameters<typeof medianRun>[0][number];
    const r = medianRun([run(9, 10, 300), run(7, 80, 200), run(8, 20, 250)]);
    expect(r).toMatchObject({ engine_ms_per_host: 8, probe: { slowest_ms: 80 }, peak_rss: [{ rss_mb: 300 }] });
  });

  it('keeps a working load session busy for longer than both loads', () => {
    const o = { ...defaultOptions(), loadHosts: [10, 1000], loadDurationS: 20 };
    expect(workHostSeconds(o) * 10).toBeGreaterThanOrEqual(2 * 20 * 1.5);
  });
});

describe('bench:scale cloud', () => {
  it('is a valid scenario: 8 instances per host, half full, 20 instances per project spread over the hosts', () => {
    const s = parseScenario(scaleScenario(50, INSTANT));
    expect(s.hosts).toHaveLength(50);
    expect(s.instances).toHaveLength(400);
    const perProject = new Map<string, Set<string>>();
    for (const i of s.instances) perProject.set(i.project_id, (perProject.get(i.project_id) ?? new Set()).add(i.host));
    expect(perProject.size).toBe(20);
    for (const hosts of perProject.values()) expect(hosts.size).toBe(20);
    const used = s.instances.filter((i) => i.host === s.hosts[0]!.name).reduce((n, i) => n + i.vcpus, 0);
    expect(used * 2).toBe(s.hosts[0]!.vcpus);
  });
});

const engineRow = (hosts: number, perHost: number | null, over: Partial<EngineResult> = {}): EngineResult => ({
  store: 'sqlite', workflow: 'default', hosts, instances: hosts * 8, outcome: 'MAINTENANCE_DONE', reason: null,
  engine_ms: perHost === null ? null : perHost * hosts, engine_ms_per_host: perHost, observed_ms: null, create_ms: 1,
  probe: { answers: 3, errors: 0, slowest_ms: 20, longest_gap_ms: 60, last_error: null }, peak_rss: [{ pid: 1, rss_mb: 100 }], ...over,
});

const figures = (reqPerS: number, p99: number) => ({ req_per_s: reqPerS, p50_ms: 1, p99_ms: p99, max_ms: p99, requests: reqPerS * 20, non2xx: 0, errors: 0, timeouts: 0, status_codes: { 200: reqPerS * 20 }, session_state_after: 'MAINTENANCE' });
const loadRow = (hosts: number, reqPerS: number, p99: number): LoadResult => ({
  store: 'sqlite', mode: 'waiting', hosts, instances: hosts * 8, project: 'project-0000', timings: INSTANT, outcome: 'OK', reason: null,
  projects_known_ms: 5, get: figures(reqPerS, p99), put: figures(reqPerS, p99), probe: null, peak_rss: [],
});

describe('bench:scale targets', () => {
  it('judges engine time at 1,000 hosts per store and growth between the smallest and largest size', () => {
    const ok = evaluate([engineRow(50, 4), engineRow(1000, 5)], []);
    expect(ok.every((c) => c.ok)).toBe(true);
    expect(ok.map((c) => c.what)).toContain('sqlite default: per-host cost 1000 vs 50 hosts');
    const slow = evaluate([engineRow(50, 4), engineRow(1000, 7), engineRow(1000, 16, { store: 'postgres' })], []);
    expect(slow.filter((c) => !c.ok).map((c) => c.what)).toEqual([
      'sqlite default 1000 hosts: engine time per host',
      'postgres default 1000 hosts: engine time per host',
      'sqlite default: per-host cost 1000 vs 50 hosts',
    ]);
  });

  it('fails a run that did not finish, a slow answer and a large process', () => {
    const bad = evaluate([engineRow(50, null, { outcome: 'TIMEOUT', probe: { answers: 1, errors: 0, slowest_ms: 150, longest_gap_ms: 150, last_error: null }, peak_rss: [{ pid: 1, rss_mb: 600 }] })], []);
    expect(bad.filter((c) => !c.ok).map((c) => c.value)).toEqual(['TIMEOUT', '150 ms', '600 MB']);
  });

  it('--judge outcomes leaves the figures of the machine out of the verdict, not out of the report', () => {
    const checks = evaluate(
      [engineRow(50, 9, { probe: { answers: 1, errors: 0, slowest_ms: 150, longest_gap_ms: 150, last_error: null } }), engineRow(1000, 50), engineRow(1000, null, { store: 'postgres', outcome: 'MAINTENANCE_FAILED' })],
      [loadRow(10, 100, 50)],
    );
    expect(judged(checks, 'all')).toBe(checks);
    const outcomes = judged(checks, 'outcomes');
    expect(outcomes.filter((c) => !c.ok).map((c) => c.what)).toEqual(['postgres default 1000 hosts: reaches MAINTENANCE_DONE']);
    expect(checks.filter((c) => c.figure && !c.ok).length).toBeGreaterThan(3); // time, growth, load, slowest: still measured
    expect(outcomes.some((c) => c.what.includes('answers'))).toBe(true);
    expect(parseOptions(['--judge', 'outcomes']).judge).toBe('outcomes');
    expect(parseOptions([]).judge).toBe('all');
    expect(() => parseOptions(['--judge', 'some'])).toThrow(/--judge/);
    expect(() => parseOptions(['--judge', 'all,outcomes'])).toThrow(/--judge/);
  });

  it('judges load at the largest size and against the smallest', () => {
    expect(evaluate([], [loadRow(10, 6000, 8), loadRow(1000, 5500, 9)]).every((c) => c.ok)).toBe(true);
    const failed = evaluate([], [loadRow(10, 12000, 2), loadRow(1000, 5500, 9)]).filter((c) => !c.ok).map((c) => c.what);
    expect(failed).toEqual([
      'sqlite waiting: project GET at 1000 hosts: req/s, 10 hosts / 1000 hosts',
      'sqlite waiting: project GET at 1000 hosts: p99, 1000 hosts / 10 hosts (p99 under 1 ms counts as 1)',
      'sqlite waiting: reply PUT at 1000 hosts: req/s, 10 hosts / 1000 hosts',
      'sqlite waiting: reply PUT at 1000 hosts: p99, 1000 hosts / 10 hosts (p99 under 1 ms counts as 1)',
    ]);
  });
});
