// What an infrastructure driver reports: the observed world the workflows decide over.
import type { HostType } from './states.js';

export interface HostInfo {
  name: string;
  type: HostType;
  vcpus: number;
  vcpusUsed: number;
  /** Scheduling enabled (Nova service enabled / node not cordoned). */
  enabled: boolean;
}

export interface InstanceInfo {
  id: string;
  name: string;
  projectId: string;
  host: string;
  vcpus: number;
  floatingIp: boolean;
  /** Whether the infrastructure can live-migrate this instance. */
  liveMigratable: boolean;
}

/**
 * The error of a move that failed because the infrastructure refused the target it was asked for
 * (no room, filtered out, disabled) starts with this: nothing moved, and a workflow may choose
 * another target instead of failing the session.
 */
export const TARGET_REFUSED = 'target refused';
