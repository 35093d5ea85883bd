// What one change of the simulated cloud costs to save (issue 9): the whole JSON file rewritten
// (--simulator-state) against the rows of the database (the default), at a given size.
//   npm run build && node dist/bench/simulator-state.js [--hosts 10000] [--instances 80000] [--db postgres://…]
// Without --db the database is a SQLite file in a temporary directory.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ManualClock } from '../clock/manual.js';
import { SimulatedDriver, type ScenarioInput } from '../drivers/simulated/index.js';
import { SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../ports/simulator-state.js';
import { openStore } from '../store/index.js';
import { KyselySimulatorState } from '../store/simulator-state.js';

const { values: args } = parseArgs({
  options: { hosts: { type: 'string', default: '10000' }, instances: { type: 'string', default: '80000' }, db: { type: 'string' }, changes: { type: 'string', default: '20' } },
});
const HOSTS = Number(args.hosts);
const INSTANCES = Number(args.instances);
const CHANGES = Number(args.changes);

const pad = (i: number) => String(i).padStart(5, '0');
const perHost = Math.ceil(INSTANCES / HOSTS);
const scenario: ScenarioInput = {
  hosts: Array.from({ length: HOSTS }, (_, i) => ({ name: `compute-${pad(i)}`, type: 'compute' as const, vcpus: perHost * 2 })),
  instances: Array.from({ length: INSTANCES }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `vm-${i}`,
    project_id: `project-${i % 50}`,
    host: `compute-${pad(i % HOSTS)}`,
    vcpus: 1,
  })),
  timings: { migrate_s: 60, live_migrate_s: 60, host_maintenance_s: 600 },
};

/** Rows, bytes and time of each apply(). */
class Measured implements SimulatorStateStore {
  log: { rows: number; bytes: number; ms: number }[] = [];
  constructor(private readonly inner: SimulatorStateStore) {}
  load() {
    return this.inner.load();
  }
  get(t: SimulatorTable, k: string) {
    return this.inner.get(t, k);
  }
  async apply(c: SimulatorRows) {
    let rows = 0;
    let bytes = 0;
    for (const t of SIMULATOR_TABLES)
      for (const [k, v] of c[t]) {
        rows++;
        bytes += k.length + (v === null ? 0 : JSON.stringify(v).length);
      }
    const t0 = performance.now();
    await this.inner.apply(c);
    this.log.push({ rows, bytes, ms: performance.now() - t0 });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const ms = (x: number) => `${x.toFixed(2)} ms`;
const kb = (x: number) => `${(x / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fenix-simstate-bench-'));
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  console.log(`${HOSTS} hosts, ${INSTANCES} instances; ${CHANGES} changes each (median)`);
  try {
    // The JSON file: every change rewrites it whole.
    const file = join(dir, 'sim.json');
    let t0 = performance.now();
    const old = new SimulatedDriver(scenario, clock, { statePath: file });
    console.log(`JSON file: first save ${ms(performance.now() - t0)} (incl. building the cloud), ${kb(statSync(file).size)}`);
    const fileMs: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      t0 = performance.now();
      await old.setHostScheduling(`compute-${pad(i)}`, false, 'bench');
      fileMs.push(performance.now() - t0);
    }
    console.log(`JSON file: one change (host disabled) ${ms(median(fileMs))}, ${kb(statSync(file).size)} written`);

    // The database: the rows of the change.
    const db = args.db ?? join(dir, 'fenix.db');
    const store = await openStore(db);
    try {
      const state = new Measured(new KyselySimulatorState(store.db));
      t0 = performance.now();
      const d = await SimulatedDriver.open(scenario, clock, { state });
      const first = state.log[0]!;
      console.log(`${store.dialect}: first save ${ms(performance.now() - t0)} (incl. building the cloud; write ${ms(first.ms)}), ${first.rows} rows, ${kb(first.bytes)}`);
      state.log = [];
      const callMs: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        t0 = performance.now();
        await d.setHostScheduling(`compute-${pad(i)}`, false, 'bench');
        callMs.push(performance.now() - t0);
      }
      const hostLog = state.log;
      console.log(`${store.dialect}: one change (host disabled) ${ms(median(callMs))} per call, write ${ms(median(hostLog.map((l) => l.ms)))}, ${median(hostLog.map((l) => l.rows))} row, ${median(hostLog.map((l) => l.bytes))} bytes`);
      state.log = [];
      const moveMs: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        t0 = performance.now();
        await d.startMove(scenario.instances[perHost * HOSTS - 1 - i]!.id, 'MIGRATE', `bench:move-${i}`);
        moveMs.push(performance.now() - t0);
      }
      const moveLog = state.log;
      console.log(`${store.dialect}: startMove ${ms(median(moveMs))} per call (the scheduler's own work included), write ${ms(median(moveLog.map((l) => l.ms)))}, ${median(moveLog.map((l) => l.rows))} rows, ${median(moveLog.map((l) => l.bytes))} bytes`);
      t0 = performance.now();
      await SimulatedDriver.open(scenario, clock, { state: new KyselySimulatorState(store.db) });
      console.log(`${store.dialect}: load at start ${ms(performance.now() - t0)}`);
    } finally {
      await store.close();
    }
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (both clouds in one process)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
