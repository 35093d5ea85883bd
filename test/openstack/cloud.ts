// Test helpers for the real-OpenStack lane: the admin's driver, and servers created through Nova.
// The lane runs only when FENIX_OPENSTACK_LANE=1 and the OS_* variables of an openrc are set
// (.ci/infra/openstack-lane.sh does both); otherwise these suites are skipped.
import { setTimeout as delay } from 'node:timers/promises';
import { novaScaler } from '../../src/cli/nova-scaler.js';
import { credentialsFromEnv, KeystoneSession, OpenStackDriver } from '../../src/drivers/openstack/index.js';
import type { InfraDriver, MoveKind } from '../../src/ports/infra-driver.js';

export const LANE = process.env.FENIX_OPENSTACK_LANE === '1' && !!process.env.OS_AUTH_URL;

export interface Cloud {
  keystone: KeystoneSession;
  driver: OpenStackDriver;
  nova<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /**
   * Create a server (flavor by vCPUs: 1, 2 or 4), optionally forced onto a host, with a port on the
   * tenant network `demo-net` (the seed's; no network when the cloud has none); waits for ACTIVE.
   */
  createServer(opts: { name: string; vcpus?: number; host?: string; session?: KeystoneSession }): Promise<string>;
  /** The id of the lane's tenant network `demo-net` (project demo), or null when the cloud has none. */
  tenantNetwork(): Promise<string | null>;
  deleteServers(ids: string[]): Promise<void>;
  computeHosts(): Promise<string[]>;
  serverHost(id: string): Promise<string | null>;
}

/** The tenant network of project demo that .ci/infra/openstack-seed.py creates (10.0.0.0/24). */
export const TENANT_NETWORK = 'demo-net';

export const FLAVOR_BY_VCPUS: Record<number, string> = { 1: 'm1.tiny', 2: 'm1.small', 4: 'm1.medium' };

export function openCloud(session?: KeystoneSession): Cloud {
  const keystone = session ?? new KeystoneSession(credentialsFromEnv());
  const driver = new OpenStackDriver(keystone);
  const nova = async <T,>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, ks: KeystoneSession = keystone) => {
    const res = await ks.request<T>('compute', path, {
      method,
      body,
      headers: { 'openstack-api-version': 'compute 2.79' },
      accept: [400, 403, 404, 409],
    });
    return { status: res.status, body: res.body };
  };
  const flavors = new Map<string, string>();
  let image: string | null = null;
  let network: Promise<string | null> | null = null;
  const tenantNetwork = (): Promise<string | null> =>
    (network ??= keystone
      .request<{ networks: { id: string }[] }>('network', `/v2.0/networks?name=${TENANT_NETWORK}`)
      .then((r) => r.body.networks[0]?.id ?? null)
      .catch(() => null));
  const cloud: Cloud = {
    keystone,
    driver,
    nova,
    async createServer({ name, vcpus = 1, host, session: ks = keystone }) {
      const fname = FLAVOR_BY_VCPUS[vcpus];
      if (!fname) throw new Error(`no flavor with ${vcpus} vCPUs`);
      if (!flavors.has(fname)) {
        const fl = await nova<{ flavors: { id: string; name: string }[] }>('GET', '/flavors', undefined, ks);
        for (const f of fl.body.flavors) flavors.set(f.name, f.id);
      }
      if (!image) {
        const res = await ks.request<{ images: { id: string }[] }>('image', '/v2/images?name=fake-img');
        image = res.body.images[0]?.id ?? null;
        if (!image) throw new Error('image fake-img missing (run .ci/infra/openstack-up.sh)');
      }
      const net = await tenantNetwork();
      const server: Record<string, unknown> = { name, flavorRef: flavors.get(fname), imageRef: image, networks: net ? [{ uuid: net }] : 'none' };
      if (host) server.availability_zone = `nova:${host}`;
      const res = await nova<{ server: { id: string } }>('POST', '/servers', { server }, ks);
      if (res.status !== 202) throw new Error(`create server ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      const id = res.body.server.id;
      for (let i = 0; ; i++) {
        const s = await nova<{ server: { status: string; fault?: { message: string } } }>('GET', `/servers/${id}`);
        if (s.body.server.status === 'ACTIVE') return id;
        if (s.body.server.status === 'ERROR') throw new Error(`server ${name} ERROR: ${s.body.server.fault?.message}`);
        if (i > 600) throw new Error(`server ${name} not ACTIVE after 60 s`);
        await delay(100);
      }
    },
    async deleteServers(ids) {
      for (const id of ids) {
        // a server in the middle of a task may refuse (409) or trip Nova (500): try again shortly
        for (let i = 0; ; i++) {
          const r = await nova('DELETE', `/servers/${id}`).catch((e: unknown) => ({ status: 500, body: e }));
          if (r.status < 300 || r.status === 404 || i > 50) break;
          await delay(200);
        }
      }
      for (let i = 0; ids.length; i++) {
        const left: string[] = [];
        for (const id of ids) if ((await nova('GET', `/servers/${id}`)).status !== 404) left.push(id);
        if (!left.length) return;
        if (i > 600) throw new Error(`servers not deleted: ${left.join(', ')}`);
        await delay(100);
      }
    },
    tenantNetwork,
    async computeHosts() {
      return (await driver.listHosts()).filter((h) => h.type === 'compute').map((h) => h.name);
    },
    async serverHost(id) {
      const s = await nova<{ server: { 'OS-EXT-SRV-ATTR:host': string | null } }>('GET', `/servers/${id}`);
      return s.status === 404 ? null : s.body.server['OS-EXT-SRV-ATTR:host'];
    },
  };
  return cloud;
}

export interface Recorder {
  driver: InfraDriver;
  /** host → servers Nova had on it when the engine started its maintenance. */
  atMaintenance: Map<string, string[]>;
  order: { host: string; at: number }[];
}

/** The OpenStack driver, plus a check against Nova each time the engine starts a host's maintenance. */
export function recording(cloud: Cloud, beforeMove?: (instanceId: string) => Promise<void>): Recorder {
  const d = cloud.driver;
  const atMaintenance = new Map<string, string[]>();
  const order: { host: string; at: number }[] = [];
  const driver: InfraDriver = {
    name: d.name,
    listHosts: () => d.listHosts(),
    listInstances: (f) => d.listInstances(f),
    setHostScheduling: (h, e, r) => d.setHostScheduling(h, e, r),
    async startMove(i: string, k: MoveKind, key: string) {
      await beforeMove?.(i);
      return d.startMove(i, k, key);
    },
    getOperation: (ref) => d.getOperation(ref),
    async startHostMaintenance(host, key) {
      const r = await cloud.nova<{ servers: { id: string }[] }>('GET', `/servers/detail?all_tenants=1&host=${encodeURIComponent(host)}`);
      if (!atMaintenance.has(host)) {
        atMaintenance.set(host, r.body.servers.map((s) => s.id));
        order.push({ host, at: Date.now() });
      }
      return d.startHostMaintenance(host, key);
    },
  };
  return { driver, atMaintenance, order };
}

export const demoScaler = () =>
  novaScaler({
    authUrl: process.env.OS_AUTH_URL!,
    username: process.env.OS_DEMO_USERNAME ?? 'demo',
    password: process.env.OS_DEMO_PASSWORD ?? process.env.OS_PASSWORD!,
    projectName: process.env.OS_DEMO_PROJECT_NAME ?? 'demo',
    flavors: { 1: 'm1.tiny', 2: 'm1.small', 4: 'm1.medium' },
    network: TENANT_NETWORK, // servers get a port, like real VNFs
  });

export async function computeServices(cloud: Cloud) {
  return (await cloud.nova<{ services: { host: string; status: string; disabled_reason: string | null }[] }>('GET', '/os-services?binary=nova-compute')).body
    .services;
}


/** A clean cloud for a lane test: no servers, every nova-compute enabled (an earlier run may have left some). */
export async function resetCloud(cloud: Cloud): Promise<void> {
  const left = (await cloud.nova<{ servers: { id: string }[] }>('GET', '/servers/detail?all_tenants=1')).body.servers.map((s) => s.id);
  await cloud.deleteServers(left);
  const svcs = (await cloud.nova<{ services: { id: string; status: string }[] }>('GET', '/os-services?binary=nova-compute')).body.services;
  for (const s of svcs) if (s.status !== 'enabled') await cloud.nova('PUT', `/os-services/${s.id}`, { status: 'enabled' });
}

/** DELETE a session (as clients always do at the end) and wait until it is gone, so hosts are restored. */
export async function deleteSession(base: string, sid: string): Promise<void> {
  await fetch(`${base}/v1/maintenance/${sid}`, { method: 'DELETE' });
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${base}/v1/maintenance/${sid}`)).status === 404) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
