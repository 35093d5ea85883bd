// A plan's times with maintenance windows (issue 12): a batch starts only inside a window, so one
// that would start outside waits for the next, and everything after it waits as long (later
// batches wait for it). What started runs on past a window's end, as the engine lets it.
import type { MaintenanceWindows } from '../domain/windows.js';
import { nextOpen } from '../domain/windows.js';
import type { Plan } from './plan.js';

/** The plan with its batches, hosts and moves moved to where the windows let them start; waitS: the waiting added. */
export function withWindows(plan: Plan, startsAt: number, w: MaintenanceWindows): { plan: Plan; waitS: number } {
  if (!plan.feasible || !plan.batches.length) return { plan, waitS: 0 };
  const delay = new Map<number, number>();
  let d = 0;
  for (const b of [...plan.batches].sort((x, y) => x.startS - y.startS || x.index - y.index)) {
    const t = startsAt + (b.startS + d) * 1000;
    const open = nextOpen(w, t);
    if (open === null)
      return {
        plan: { ...plan, durationS: Infinity, reasons: [...plan.reasons, { kind: 'constraint', constraint: 'windows', severity: 'error', message: 'no maintenance window opens for the rest of the plan' }] },
        waitS: Infinity,
      };
    d += (open - t) / 1000;
    delay.set(b.index, d);
  }
  const by = (batch: number) => delay.get(batch) ?? 0;
  const batches = plan.batches.map((b) => ({ ...b, startS: b.startS + by(b.index), doneS: b.doneS + by(b.index) }));
  const hosts = plan.hosts.map((h) => ({ ...h, startS: h.startS + by(h.batch), emptyS: h.emptyS + by(h.batch), maintainedS: h.maintainedS + by(h.batch) }));
  const moves = plan.moves.map((m) => ({ ...m, notifyS: m.notifyS + by(m.batch), startS: m.startS + by(m.batch), endS: m.endS + by(m.batch) }));
  const end = Math.max(plan.durationS + d, ...batches.map((b) => b.doneS), ...hosts.map((h) => h.maintainedS));
  return { plan: { ...plan, batches, hosts, moves, durationS: end }, waitS: d };
}
