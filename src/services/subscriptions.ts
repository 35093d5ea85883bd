// Subscriptions: where notifications go, and the sign that a project has an application manager.
import { randomUUID } from 'node:crypto';
import { FenixError } from '../domain/errors.js';
import { ADMIN_EVENT_TYPES, type EventType } from '../domain/states.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { Subscription, SubscriptionFormat } from '../ports/transport.js';
import type { OutboundUrlPolicy } from '../ports/url-policy.js';
import { isAdmin, requireProject, type Principal } from './principal.js';

export interface CreateSubscriptionInput {
  project_id?: string | null;
  url: string;
  event_types: EventType[];
  format?: SubscriptionFormat;
  secret?: string;
}

export class SubscriptionService {
  /** Without `urlPolicy` any http(s) URL is accepted (the service always passes one). */
  constructor(private readonly deps: { store: Store; clock: Clock; urlPolicy?: OutboundUrlPolicy }) {}

  async create(who: Principal, body: CreateSubscriptionInput): Promise<Subscription> {
    let url: URL;
    try {
      url = new URL(body.url);
    } catch {
      throw new FenixError('VALIDATION_FAILED', 'url is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FenixError('VALIDATION_FAILED', 'url must be http:// or https://');
    const types = [...new Set(body.event_types)];
    const admin = types.filter((t) => ADMIN_EVENT_TYPES.includes(t));
    const projectId = body.project_id ?? null;
    if (admin.length) {
      if (!isAdmin(who)) throw new FenixError('FORBIDDEN', `${admin.join(', ')} events need an admin token`);
      // A project-less maintenance.scheduled would never match a project event: refuse, don't store a dead entry.
      if (projectId !== null || admin.length !== types.length)
        throw new FenixError('VALIDATION_FAILED', `${admin.join(', ')} are admin events: subscribe to them without project_id, separately from maintenance.scheduled`);
    } else {
      if (projectId === null) throw new FenixError('VALIDATION_FAILED', 'maintenance.scheduled subscriptions need project_id');
      requireProject(who, projectId);
    }
    // After the permission checks: a refused caller learns nothing about what the URL resolves to.
    await this.deps.urlPolicy?.checkRegistration(body.url, 'url');
    const sub: Subscription = {
      id: randomUUID(),
      projectId,
      url: url.toString(),
      eventTypes: types,
      format: body.format ?? 'aodh',
      secret: body.secret ?? null,
      createdAt: this.deps.clock.now(),
      delivered: 0,
    };
    await this.deps.store.createSubscription(sub);
    return sub;
  }

  async list(who: Principal): Promise<Subscription[]> {
    if (isAdmin(who)) return this.deps.store.listSubscriptions();
    return this.deps.store.listSubscriptions({ projectId: who.role === 'project' ? who.projectId : '' });
  }

  async delete(who: Principal, id: string): Promise<void> {
    const s = await this.deps.store.getSubscription(id);
    if (!s || (!isAdmin(who) && (who.role !== 'project' || s.projectId !== who.projectId)))
      throw new FenixError('SUBSCRIPTION_NOT_FOUND', `no subscription ${id}`);
    await this.deps.store.deleteSubscription(id);
  }
}
