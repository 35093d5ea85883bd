// The simulated cloud's starting point: hosts, instances, timings and injected failures.
// `parseScenario` validates a JSON document (schema + cross-field rules) and fills the defaults.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import type { HostType } from '../../domain/states.js';

const NonEmpty = Type.String({ minLength: 1 });

const HostTypeSchema = Type.Union([Type.Literal('compute'), Type.Literal('controller'), Type.Literal('other')]);
// compile-time check that the literals match the domain's closed set (HOST_TYPES)
type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _hostTypesInStep: _Same<HostType, Static<typeof HostTypeSchema>> = true;

export const ScenarioHostSchema = Type.Object(
  {
    name: NonEmpty,
    type: HostTypeSchema,
    /** Compute hosts need at least 1; controllers and others may have 0. */
    vcpus: Type.Integer({ minimum: 0 }),
    /** Scheduling enabled at start (default true). */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const ScenarioInstanceSchema = Type.Object(
  {
    id: NonEmpty,
    name: NonEmpty,
    project_id: NonEmpty,
    host: NonEmpty,
    vcpus: Type.Integer({ minimum: 1 }),
    /** Default false. */
    floating_ip: Type.Optional(Type.Boolean()),
    /** Default true. */
    live_migratable: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Seconds = Type.Number({ minimum: 0 });

export const ScenarioSchema = Type.Object(
  {
    /** Free text, ignored. */
    description: Type.Optional(Type.String()),
    hosts: Type.Array(ScenarioHostSchema, { minItems: 1 }),
    instances: Type.Array(ScenarioInstanceSchema),
    timings: Type.Object(
      {
        migrate_s: Seconds,
        live_migrate_s: Seconds,
        host_maintenance_s: Seconds,
        /** Default = migrate_s. */
        evict_s: Type.Optional(Seconds),
      },
      { additionalProperties: false },
    ),
    failures: Type.Optional(
      Type.Object(
        {
          /** Instance ids whose moves (any kind) fail. */
          migrations: Type.Optional(Type.Array(NonEmpty)),
          /** Hosts whose infrastructure maintenance fails. */
          hosts: Type.Optional(Type.Array(NonEmpty)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A scenario as written in a JSON file (optional fields may be absent). */
export type ScenarioInput = Static<typeof ScenarioSchema>;

export interface ScenarioHost {
  name: string;
  type: HostType;
  vcpus: number;
  enabled: boolean;
}

export interface ScenarioInstance {
  id: string;
  name: string;
  project_id: string;
  host: string;
  vcpus: number;
  floating_ip: boolean;
  live_migratable: boolean;
}

export interface ScenarioTimings {
  migrate_s: number;
  live_migrate_s: number;
  host_maintenance_s: number;
  evict_s: number;
}

export interface ScenarioFailures {
  migrations: string[];
  hosts: string[];
}

/** A validated scenario with every default filled in. */
export interface Scenario {
  hosts: ScenarioHost[];
  instances: ScenarioInstance[];
  timings: ScenarioTimings;
  failures: ScenarioFailures;
}

/**
 * Validate a scenario document and fill its defaults. Throws an Error whose message lists every
 * problem found (schema errors first; the cross-field rules only run on a well-formed document).
 * Idempotent: a parsed Scenario parses to an equal Scenario.
 */
export function parseScenario(json: unknown): Scenario {
  // Check first: listing every error walks the document more slowly (a 10,000-host scenario: ~1 s).
  const schemaErrors = Value.Check(ScenarioSchema, json) ? [] : Value.Errors(ScenarioSchema, json);
  if (schemaErrors.length > 0) {
    const lines = schemaErrors.map((e) => `${e.instancePath || '/'}: ${e.message}`);
    throw new Error(`Invalid scenario:\n- ${[...new Set(lines)].join('\n- ')}`);
  }
  const input = json as ScenarioInput;
  const problems: string[] = [];

  const hosts = new Map<string, ScenarioHost>();
  for (const h of input.hosts) {
    if (hosts.has(h.name)) problems.push(`duplicate host name "${h.name}"`);
    if (h.type === 'compute' && h.vcpus < 1) problems.push(`compute host "${h.name}" needs vcpus >= 1`);
    hosts.set(h.name, { name: h.name, type: h.type, vcpus: h.vcpus, enabled: h.enabled ?? true });
  }

  const ids = new Set<string>();
  const used = new Map<string, number>();
  for (const i of input.instances) {
    if (ids.has(i.id)) problems.push(`duplicate instance id "${i.id}"`);
    ids.add(i.id);
    const host = hosts.get(i.host);
    if (!host) problems.push(`instance "${i.id}" is on unknown host "${i.host}"`);
    else if (host.type !== 'compute') problems.push(`instance "${i.id}" is on ${host.type} host "${i.host}" (must be compute)`);
    else used.set(i.host, (used.get(i.host) ?? 0) + i.vcpus);
  }
  for (const [name, u] of used) {
    const cap = hosts.get(name)!.vcpus;
    if (u > cap) problems.push(`host "${name}" is overcommitted: instances use ${u} vCPUs of ${cap}`);
  }

  const failures: ScenarioFailures = {
    migrations: [...new Set(input.failures?.migrations ?? [])],
    hosts: [...new Set(input.failures?.hosts ?? [])],
  };
  for (const id of failures.migrations) {
    if (!ids.has(id)) problems.push(`failures.migrations names unknown instance "${id}"`);
  }
  for (const h of failures.hosts) {
    if (!hosts.has(h)) problems.push(`failures.hosts names unknown host "${h}"`);
  }

  if (problems.length > 0) throw new Error(`Invalid scenario:\n- ${problems.join('\n- ')}`);

  return {
    hosts: [...hosts.values()],
    instances: input.instances.map((i) => ({
      id: i.id,
      name: i.name,
      project_id: i.project_id,
      host: i.host,
      vcpus: i.vcpus,
      floating_ip: i.floating_ip ?? false,
      live_migratable: i.live_migratable ?? true,
    })),
    timings: {
      migrate_s: input.timings.migrate_s,
      live_migrate_s: input.timings.live_migrate_s,
      host_maintenance_s: input.timings.host_maintenance_s,
      evict_s: input.timings.evict_s ?? input.timings.migrate_s,
    },
    failures,
  };
}

/** Deterministic, uuid-shaped demo ids: project letter in the first group, index in the last. */
const demoId = (project: 'a' | 'b', n: number): string =>
  `d3e0000${project}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/**
 * The built-in demo cloud: compute-0..3 with 8 vCPUs each plus controller-0; projects demo-a and
 * demo-b with 10 instances using 21 of 32 vCPUs (66 %), at least one instance per compute host, and
 * room to empty any one compute host onto the others.
 */
export function demoScenario(): Scenario {
  const inst = (
    project: 'a' | 'b',
    n: number,
    name: string,
    host: string,
    vcpus: number,
    floating_ip = false,
  ): ScenarioInstance => ({
    id: demoId(project, n),
    name,
    project_id: `demo-${project}`,
    host,
    vcpus,
    floating_ip,
    live_migratable: true,
  });
  return parseScenario({
    hosts: [
      { name: 'controller-0', type: 'controller', vcpus: 0 },
      ...[0, 1, 2, 3].map((i) => ({ name: `compute-${i}`, type: 'compute', vcpus: 8 })),
    ],
    instances: [
      // compute-0: 6 vCPUs
      inst('a', 0, 'app-0', 'compute-0', 2),
      inst('a', 4, 'db-0', 'compute-0', 4),
      // compute-1: 5 vCPUs
      inst('a', 1, 'app-1', 'compute-1', 2),
      inst('b', 0, 'web-0', 'compute-1', 1, true),
      inst('b', 3, 'cache-0', 'compute-1', 2),
      // compute-2: 7 vCPUs
      inst('a', 2, 'app-2', 'compute-2', 2),
      inst('b', 1, 'web-1', 'compute-2', 1, true),
      inst('b', 4, 'worker-0', 'compute-2', 4),
      // compute-3: 3 vCPUs
      inst('a', 3, 'app-3', 'compute-3', 2),
      inst('b', 2, 'web-2', 'compute-3', 1, true),
    ],
    timings: { migrate_s: 2, live_migrate_s: 2, host_maintenance_s: 3 },
  });
}
