// `fenix plan`: the summary printed from a dry-run answer (POST /v1/maintenance/plan).
import { describe, expect, it } from 'vitest';
import { planView } from '../../src/api/routes/plan.js';
import { summarizePlan } from '../../src/cli/client.js';
import { planMaintenance } from '../../src/planner/plan.js';

const est = { migrateS: 30, liveMigrateS: 30, evictS: 10, hostMaintenanceS: 600, replyS: 1 };
const host = (name: string) => ({ name, type: 'compute' as const, vcpus: 8, enabled: true, inSession: true });
const inst = (id: string, on: string) => ({ id, projectId: 'p', host: on, vcpus: 2, liveMigratable: true });

describe('fenix plan: summary', () => {
  it('states feasibility, duration, lower bound, batches and, on request, the moves', () => {
    const plan = planMaintenance({ hosts: [host('a'), host('b'), host('c')], instances: [inst('i1', 'b'), inst('i2', 'c')], constraints: { instances: [], groups: [] }, estimates: est, policy: 'vnf' });
    const view = { workflow: 'vnf', host_count: 3, ...planView(plan, Date.UTC(2026, 0, 1, 10)) };
    const lines = summarizePlan(view, true);
    expect(lines[0]).toMatch(/^vnf plan over 3 hosts: feasible, expected \d+s \(ends 2026-01-01T1/);
    expect(lines[1]).toMatch(/^lower bound \d+s \(bound by \w+; the free capacity holds \d+ compute hosts? in maintenance at a time\)$/);
    expect(lines[2]).toMatch(/^\d+ batch(es)?, \d+ moves? \(\d+ second moves?\); at its peak the plan has \d+ hosts? out of service at once \(being emptied or in maintenance, non-compute hosts included\)$/);
    expect(lines.some((l) => /^ {2}BATCH\s+START_S\s+DONE_S/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}INSTANCE\s+FROM\s+TO\s+ACTION/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}i1\s+b\s+/.test(l))).toBe(true);
  });

  it('counts in the singular when there is one, and says what each count means', () => {
    const lines = summarizePlan({
      workflow: 'vnf',
      host_count: 1,
      feasible: true,
      expected_duration_s: 20,
      lower_bound: { total_s: 14, binding: 'capacity', hosts_in_maintenance_at_once: 1 },
      stats: { batches: 1, moves: 1, second_moves: 0, max_hosts_out: 3 },
    });
    expect(lines[0]).toMatch(/^vnf plan over 1 host: feasible/);
    expect(lines[1]).toBe('lower bound 14s (bound by capacity; the free capacity holds 1 compute host in maintenance at a time)');
    expect(lines[2]).toBe('1 batch, 1 move (0 second moves); at its peak the plan has 3 hosts out of service at once (being emptied or in maintenance, non-compute hosts included)');
  });

  it('an infeasible plan shows why and what is missing', () => {
    const plan = planMaintenance({
      hosts: [host('a'), host('b')],
      instances: [{ ...inst('i1', 'a'), vcpus: 6 }, { ...inst('i2', 'b'), vcpus: 6 }],
      constraints: { instances: [], groups: [] },
      estimates: est,
      policy: 'vnf',
      allowDoubleMoves: false,
    });
    const lines = summarizePlan({ workflow: 'vnf', host_count: 2, ...planView(plan, 0) });
    expect(lines[0]).toMatch(/NOT feasible/);
    expect(lines.some((l) => /missing capacity: about 6 vCPUs/.test(l))).toBe(true);
    expect(lines.some((l) => /error capacity: a cannot be emptied/.test(l))).toBe(true);
  });
});
