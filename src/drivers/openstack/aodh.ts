// Subscriptions from AODH (optional mode, --aodh): as in the original Fenix, a project interacts
// when it has an AODH event alarm on `maintenance.scheduled`. Its alarm is what delivers the event
// to its application manager: AODH's listener takes Fenix's oslo.messaging notifications from the
// bus. So for each such project this keeps one subscription whose url is the oslo bus (delivery
// through the oslo transport) and removes it when the alarm goes. Runs every `intervalMs`.
import type { Store } from '../../ports/store.js';
import type { Subscription } from '../../ports/transport.js';
import type { KeystoneSession } from './keystone.js';

export const AODH_SUBSCRIPTION_PREFIX = 'aodh:';

interface Alarm {
  alarm_id: string;
  project_id: string;
  type: string;
  enabled?: boolean;
  event_rule?: { event_type?: string };
}

/** AODH event_type patterns are fnmatch globs (`maintenance.*`). */
export function eventTypeMatches(pattern: string | undefined, eventType: string): boolean {
  if (!pattern) return false;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(eventType);
}

export interface AodhSyncDeps {
  keystone: KeystoneSession;
  store: Pick<Store, 'listSubscriptions' | 'createSubscription' | 'deleteSubscription'>;
  /** The url of the oslo-bus subscriptions (src/notifier/oslo-transport.ts osloSubscriptionUrl). */
  subscriptionUrl: string;
  now: () => number;
  log?: { warn: (obj: object, msg?: string) => void; info: (obj: object, msg?: string) => void };
}

export class AodhSubscriptionSync {
  constructor(
    private readonly deps: AodhSyncDeps,
    private readonly opts: { intervalMs?: number; eventType?: string } = {},
  ) {}

  /** Projects with an enabled event alarm on maintenance.scheduled (AODH 15 needs all_projects for an admin). */
  async alarmProjects(): Promise<string[]> {
    const res = await this.deps.keystone.request<Alarm[]>('alarming', '/v2/alarms?q.field=all_projects&q.op=eq&q.value=true');
    const want = this.opts.eventType ?? 'maintenance.scheduled';
    const projects = new Set<string>();
    for (const a of res.body) {
      if (a.type === 'event' && a.enabled !== false && eventTypeMatches(a.event_rule?.event_type, want)) projects.add(a.project_id);
    }
    return [...projects].sort();
  }

  async syncOnce(): Promise<{ added: string[]; removed: string[] }> {
    const projects = new Set(await this.alarmProjects());
    const mine = (await this.deps.store.listSubscriptions()).filter((s) => s.id.startsWith(AODH_SUBSCRIPTION_PREFIX));
    const have = new Set(mine.map((s) => s.projectId));
    const added: string[] = [];
    const removed: string[] = [];
    for (const p of projects) {
      if (have.has(p)) continue;
      const sub: Subscription = {
        id: `${AODH_SUBSCRIPTION_PREFIX}${p}`,
        projectId: p,
        url: this.deps.subscriptionUrl,
        eventTypes: ['maintenance.scheduled'],
        format: 'json',
        secret: null,
        createdAt: this.deps.now(),
        delivered: 0,
      };
      await this.deps.store.createSubscription(sub);
      added.push(p);
    }
    for (const s of mine) {
      if (s.projectId && !projects.has(s.projectId)) {
        await this.deps.store.deleteSubscription(s.id);
        removed.push(s.projectId);
      }
    }
    if (added.length || removed.length) this.deps.log?.info({ added, removed }, 'AODH subscriptions synchronised');
    return { added, removed };
  }

  /** Sync until aborted; errors are logged and retried at the next interval. */
  async run(signal: AbortSignal): Promise<void> {
    const every = this.opts.intervalMs ?? 10_000;
    while (!signal.aborted) {
      try {
        await this.syncOnce();
      } catch (err) {
        this.deps.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'AODH subscription sync failed');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
