// AODH mode against a real aodh-api (the real-OpenStack lane): a project with an event alarm on
// maintenance.scheduled becomes an interacting project whose events go on the oslo.messaging bus
// (where AODH's listener takes them), and stops being one when the alarm is deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AodhSubscriptionSync, credentialsFromEnv, KeystoneSession } from '../../src/drivers/openstack/index.js';
import { osloSubscriptionUrl } from '../../src/notifier/oslo-transport.js';
import type { Subscription } from '../../src/ports/transport.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor } from '../helpers/harness.js';
import { LANE } from './cloud.js';

const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

describe.skipIf(!LANE)('subscriptions from AODH (real aodh-api)', () => {
  let demo: KeystoneSession;
  let demoProject: string;
  const alarms: string[] = [];
  let svc: Service | undefined;

  const createAlarm = async (eventType: string) => {
    const r = await demo.request<{ alarm_id: string }>('alarming', '/v2/alarms', {
      method: 'POST',
      body: { name: `fenix-test-${eventType}`, type: 'event', event_rule: { event_type: eventType, query: [] }, alarm_actions: ['http://127.0.0.1:9/vnfm'], repeat_actions: true },
    });
    alarms.push(r.body.alarm_id);
    return r.body.alarm_id;
  };
  const deleteAlarm = async (id: string) => {
    await demo.request('alarming', `/v2/alarms/${id}`, { method: 'DELETE', accept: [404] });
    alarms.splice(alarms.indexOf(id), 1);
  };

  beforeAll(async () => {
    demo = new KeystoneSession(
      credentialsFromEnv(process.env, {
        username: process.env.OS_DEMO_USERNAME ?? 'demo',
        projectName: process.env.OS_DEMO_PROJECT_NAME ?? 'demo',
        password: process.env.OS_DEMO_PASSWORD ?? process.env.OS_PASSWORD!,
      }),
    );
    demoProject = (await demo.tokenInfo()).projectId!;
  });
  afterAll(async () => {
    await svc?.stop();
    for (const id of [...alarms]) await deleteAlarm(id).catch(() => undefined);
  });

  it('keeps one oslo-bus subscription per project with an event alarm on maintenance.scheduled', async () => {
    const subs = new Map<string, Subscription>();
    const store = {
      listSubscriptions: async () => [...subs.values()],
      createSubscription: async (s: Subscription) => void subs.set(s.id, s),
      deleteSubscription: async (id: string) => subs.delete(id),
    };
    // the service user (admin in `service`) lists every project's alarms
    const sync = new AodhSubscriptionSync({
      keystone: new KeystoneSession(credentialsFromEnv(process.env, { username: 'fenix', projectName: 'service' })),
      store,
      subscriptionUrl: osloSubscriptionUrl(),
      now: () => Date.now(),
    });
    await createAlarm('compute.instance.update'); // not ours
    expect(await sync.syncOnce()).toEqual({ added: [], removed: [] });
    const id = await createAlarm('maintenance.*');
    expect(await sync.syncOnce()).toEqual({ added: [demoProject], removed: [] });
    expect(subs.get(`aodh:${demoProject}`)).toMatchObject({ projectId: demoProject, url: 'oslo://openstack/notifications.info' });
    await deleteAlarm(id);
    expect(await sync.syncOnce()).toEqual({ added: [], removed: [demoProject] });
  });

  it('a service with --aodh shows the project as subscribed (interacting)', async () => {
    const id = await createAlarm('maintenance.scheduled');
    svc = await startTestService({
      config: { aodh: true, notifyAmqp: AMQP, osUsername: 'fenix', osProjectName: 'service' },
    });
    const s = svc;
    await waitFor(async () => {
      const r = await api(s.url, 'GET', '/v1/subscriptions');
      return JSON.stringify(r.body).includes(`aodh:${demoProject}`);
    }, 'the AODH subscription', 30_000);
    await deleteAlarm(id);
  });
});
