// Where the simulated cloud keeps its state between restarts, row by row, so one change costs the
// rows it touched whatever the size of the cloud (issue 9: 10,000 hosts / 80,000 instances).
//
// The rows are JSON documents owned by the simulator (drivers/simulated): a store keeps each under
// its key and never looks inside. Tables: hosts (by name), instances (by id), ops (by ref),
// keys (idempotency key → op ref, as a JSON string) and meta (format version, timings, sequences,
// injected failures).

export const SIMULATOR_TABLES = ['hosts', 'instances', 'ops', 'keys', 'meta'] as const;

export type SimulatorTable = (typeof SIMULATOR_TABLES)[number];

/** Rows by key, per table. In a change set, a null value deletes the row (rows are never null). */
export type SimulatorRows = Record<SimulatorTable, Map<string, unknown>>;

export const emptySimulatorRows = (): SimulatorRows => ({
  hosts: new Map(),
  instances: new Map(),
  ops: new Map(),
  keys: new Map(),
  meta: new Map(),
});

export interface SimulatorStateStore {
  /** Every saved row; empty maps when nothing was ever saved. */
  load(): Promise<SimulatorRows>;
  /**
   * One saved row, or undefined: what the simulator reads back of a row it no longer keeps in
   * memory (finished operations). An indexed lookup, O(1) in the rows stored.
   */
  get(table: SimulatorTable, key: string): Promise<unknown>;
  /**
   * Upsert (value) or delete (null) these rows in one transaction, so a crash never keeps half of
   * a change. Must cost O(rows given), not O(rows stored).
   */
  apply(changes: SimulatorRows): Promise<void>;
}
