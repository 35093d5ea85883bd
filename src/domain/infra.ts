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
