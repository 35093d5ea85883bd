// The workflows the engine can run, by the name a session asks for.
import type { Decision } from '../domain/decision.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { WorkflowName } from '../domain/states.js';
import { decide as defaultDecide } from './default/decide.js';
import { makeDecide } from './vnf/decide.js';

export type Decide = (s: Snapshot, now: number) => Decision;

export const WORKFLOW_IMPLS: Partial<Record<WorkflowName, Decide>> = {
  default: defaultDecide,
  vnf: makeDecide('vnf'),
  k8s: makeDecide('k8s'),
};

export const workflowFor = (name: WorkflowName): Decide | undefined => WORKFLOW_IMPLS[name];
