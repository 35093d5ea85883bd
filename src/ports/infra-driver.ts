// The one small interface between workflows and an infrastructure (spec §8).
// Every mutating call is idempotent or keyed, so a restarted engine never repeats an effect.
import { TARGET_REFUSED, type HostInfo, type InstanceInfo } from '../domain/infra.js';
import type { InstanceAction } from '../domain/states.js';

export type { HostInfo, InstanceInfo };
export { TARGET_REFUSED };

/** A long-running driver operation (migration, host maintenance). */
export interface OpStatus {
  status: 'running' | 'done' | 'failed';
  /** Human-readable cause when failed (e.g. Nova's fault message). */
  error?: string;
  /** Where the instance is now, for moves. */
  host?: string;
  /** When the driver expects the operation to finish (ms epoch), so the engine can sleep until then. */
  expectedAt?: number;
}

export type MoveKind = Exclude<InstanceAction, 'OWN_ACTION'>;

export interface MoveOptions {
  /** Destination host; absent = the infrastructure's scheduler decides. */
  target?: string;
}

export interface WorldChanges {
  cursor: string;
  /** true: hosts and instances are the whole world, replacing what was known. */
  full: boolean;
  hosts: HostInfo[];
  instances: InstanceInfo[];
  /** Ids of instances that are gone. */
  removed: string[];
}

export class DriverError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

export interface InfraDriver {
  readonly name: string;
  /**
   * Moves this infrastructure absorbs at once (in all, per source host, per target host): the
   * engine's defaults for it, measured on a real cloud; flags override them. Absent: no cap.
   */
  readonly moveLimits?: { total?: number; perSource?: number; perTarget?: number };
  listHosts(): Promise<HostInfo[]>;
  listInstances(filter?: { hosts?: string[]; projectId?: string }): Promise<InstanceInfo[]>;
  /**
   * What changed since `cursor` (from a previous answer; null: everything). A driver that keeps a
   * change log answers in O(changes); `full` says the answer is the whole world (the cursor was
   * unknown or too old). Without it the engine lists everything when it needs a fresh look.
   */
  watch?(cursor: string | null): Promise<WorldChanges>;
  /** One instance by id, undefined when the infrastructure has none: who owns it is the cloud's word. */
  getInstance?(id: string): Promise<InstanceInfo | undefined>;
  /** Enable or disable scheduling of new instances onto a host. Idempotent. */
  setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void>;
  /**
   * Start moving an instance off its current host. `key` is an idempotency key: calling again with
   * the same key returns the same operation instead of starting a second move. `opts.target` asks
   * for that destination host (the vnf workflow's planned target); without it the infrastructure's
   * scheduler chooses. A target that cannot take the instance fails the operation.
   */
  startMove(instanceId: string, kind: MoveKind, key: string, opts?: MoveOptions): Promise<string>;
  /** Start the infrastructure's own maintenance of an empty host (a no-op for clouds where plug-ins do it). */
  startHostMaintenance(host: string, key: string): Promise<string>;
  /** Status of an operation started by startMove / startHostMaintenance. */
  getOperation(ref: string): Promise<OpStatus>;
  /**
   * A driver that learns of progress by events (Nova's notifications) calls `listener` with the refs
   * of operations that may have moved on, so the engine polls them now rather than at the time they
   * were expected. Returns the unsubscribe.
   */
  onOperationProgress?(listener: (refs: string[]) => void): () => void;
  close?(): Promise<void>;
}

/** One instance by id: the driver's own lookup, else a scan of the list (drivers without getInstance). */
export async function instanceById(driver: InfraDriver, id: string): Promise<InstanceInfo | undefined> {
  if (driver.getInstance) return driver.getInstance(id);
  return (await driver.listInstances()).find((i) => i.id === id);
}
