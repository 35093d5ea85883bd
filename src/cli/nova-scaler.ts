// How the sample application manager scales through a real Nova (create/delete servers of its own
// project) instead of the simulator API: Keystone v3 password auth of the project's user, then the
// compute API. cli/ speaks HTTP only, so this is its own small client (the OpenStack driver is an
// adapter the CLI may not import). Used by `startSampleVnfm({ scaler })` and `fenix vnfm --nova`.
import { setTimeout as delay } from 'node:timers/promises';

/** What the sample VNFM needs to scale its project in and out. */
export interface InstanceScaler {
  /** The project's instances (name, vCPUs). */
  list(signal?: AbortSignal): Promise<{ id: string; name: string; vcpus: number }[]>;
  /** Delete one; resolves when it is gone. */
  remove(id: string, signal?: AbortSignal): Promise<void>;
  /** Create one like the given; resolves when it is ACTIVE. Throws when the cloud has no room. */
  create(spec: { name: string; vcpus: number }, signal?: AbortSignal): Promise<{ id: string }>;
}

export interface NovaScalerOptions {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName?: string;
  projectDomainName?: string;
  regionName?: string;
  interface?: string;
  /** Image name for new servers (default fake-img). */
  image?: string;
  /** Flavor per vCPU count; default: the smallest public flavor with that many vCPUs. */
  flavors?: Record<number, string>;
  /** Server create timeout, ms (default 120000). */
  timeoutMs?: number;
  /** Tenant network (name or id) new servers get a port on, like real VNFs; absent: no network. */
  network?: string;
}

/** NovaScalerOptions from an openrc's OS_* variables (and FENIX_VNFM_NETWORK: the servers' tenant network). */
export function novaScalerFromEnv(env: NodeJS.ProcessEnv = process.env): NovaScalerOptions {
  const need = ['OS_AUTH_URL', 'OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME'].filter((k) => !env[k]);
  if (need.length) throw new Error(`--nova needs ${need.join(', ')} (source the project's openrc)`);
  return {
    authUrl: env.OS_AUTH_URL!,
    username: env.OS_USERNAME!,
    password: env.OS_PASSWORD!,
    projectName: env.OS_PROJECT_NAME!,
    ...(env.OS_USER_DOMAIN_NAME && { userDomainName: env.OS_USER_DOMAIN_NAME }),
    ...(env.OS_PROJECT_DOMAIN_NAME && { projectDomainName: env.OS_PROJECT_DOMAIN_NAME }),
    ...(env.OS_REGION_NAME && { regionName: env.OS_REGION_NAME }),
    ...(env.OS_INTERFACE && { interface: env.OS_INTERFACE }),
    ...(env.FENIX_VNFM_NETWORK && { network: env.FENIX_VNFM_NETWORK }),
  };
}

interface Catalog {
  type: string;
  endpoints: { interface: string; region_id?: string; url: string }[];
}

export function novaScaler(o: NovaScalerOptions): InstanceScaler & { projectId(): Promise<string> } {
  type Auth = { token: string; expires: number; project: string; compute: string; image: string; network: string | null };
  let auth: Promise<Auth> | null = null;
  const login = (): Promise<Auth> => {
    auth ??= (async () => {
      const base = o.authUrl.replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3');
      const { request } = await import('undici');
      const res = await request(`${base}/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: o.username, domain: { name: o.userDomainName ?? 'Default' }, password: o.password } } },
            scope: { project: { name: o.projectName, domain: { name: o.projectDomainName ?? 'Default' } } },
          },
        }),
      });
      const body = (await res.body.json()) as { token: { expires_at: string; project: { id: string }; catalog: Catalog[] } };
      if (res.statusCode !== 201) throw new Error(`Keystone refused ${o.username}: HTTP ${res.statusCode}`);
      const itf = (o.interface ?? 'public').replace(/URL$/i, '');
      const ep = (type: string) => {
        const e = body.token.catalog
          .find((c) => c.type === type)
          ?.endpoints.find((x) => x.interface === itf && (!o.regionName || x.region_id === o.regionName));
        if (!e) throw new Error(`no ${itf} ${type} endpoint in the catalog`);
        return e.url.replace(/\/+$/, '');
      };
      return {
        token: String(res.headers['x-subject-token']),
        expires: Date.parse(body.token.expires_at),
        project: body.token.project.id,
        compute: ep('compute'),
        image: ep('image'),
        network: o.network === undefined ? null : ep('network'),
      };
    })().catch((e: unknown) => {
      auth = null;
      throw e;
    });
    return auth.then((a): Auth | Promise<Auth> => {
      if (a.expires - Date.now() < 60_000) {
        auth = null;
        return login();
      }
      return a;
    });
  };
  const call = async <T>(service: 'compute' | 'image' | 'network', method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: T }> => {
    const a = await login();
    const { request } = await import('undici');
    const res = await request(`${a[service]!}${path}`, {
      method,
      headers: {
        'x-auth-token': a.token,
        'openstack-api-version': 'compute 2.79',
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(signal && { signal }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  };
  let flavors: { id: string; name: string; vcpus: number }[] | null = null;
  let imageId: string | null = null;
  const flavorFor = async (vcpus: number): Promise<string> => {
    flavors ??= (await call<{ flavors: { id: string; name: string; vcpus: number }[] }>('compute', 'GET', '/flavors/detail')).body.flavors;
    const named = o.flavors?.[vcpus];
    const f = named ? flavors.find((x) => x.name === named) : [...flavors].filter((x) => x.vcpus === vcpus).sort((a, b) => a.name.localeCompare(b.name))[0];
    if (!f) throw new Error(`no flavor with ${vcpus} vCPUs`);
    return f.id;
  };
  const timeoutMs = o.timeoutMs ?? 120_000;
  let networkId: string | null = null;
  const networks = async (signal?: AbortSignal): Promise<'none' | { uuid: string }[]> => {
    if (o.network === undefined) return 'none';
    if (!networkId) {
      const byName = await call<{ networks: { id: string }[] }>('network', 'GET', `/v2.0/networks?name=${encodeURIComponent(o.network)}`, undefined, signal);
      networkId = byName.body?.networks?.[0]?.id ?? o.network; // not a name: an id
    }
    return [{ uuid: networkId }];
  };
  return {
    async projectId() {
      return (await login()).project;
    },
    async list(signal) {
      const r = await call<{ servers: { id: string; name: string; flavor: { vcpus?: number }; status: string }[] }>('compute', 'GET', '/servers/detail', undefined, signal);
      return r.body.servers.filter((s) => s.status !== 'DELETED').map((s) => ({ id: s.id, name: s.name, vcpus: s.flavor.vcpus ?? 1 }));
    },
    async remove(id, signal) {
      const r = await call('compute', 'DELETE', `/servers/${encodeURIComponent(id)}`, undefined, signal);
      if (r.status !== 204 && r.status !== 404) throw new Error(`delete server ${id}: HTTP ${r.status}`);
      for (const until = Date.now() + timeoutMs; ; ) {
        if ((await call('compute', 'GET', `/servers/${encodeURIComponent(id)}`, undefined, signal)).status === 404) return;
        if (Date.now() > until) throw new Error(`server ${id} not deleted after ${timeoutMs} ms`);
        await delay(200, undefined, signal ? { signal } : {});
      }
    },
    async create(spec, signal) {
      if (!imageId) {
        const r = await call<{ images: { id: string }[] }>('image', 'GET', `/v2/images?name=${encodeURIComponent(o.image ?? 'fake-img')}`, undefined, signal);
        imageId = r.body.images[0]?.id ?? null;
        if (!imageId) throw new Error(`image ${o.image ?? 'fake-img'} not found`);
      }
      const r = await call<{ server?: { id: string } }>(
        'compute',
        'POST',
        '/servers',
        { server: { name: spec.name, flavorRef: await flavorFor(spec.vcpus), imageRef: imageId, networks: await networks(signal) } },
        signal,
      );
      if (r.status !== 202 || !r.body.server) throw new Error(`create server ${spec.name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      const id = r.body.server.id;
      for (const until = Date.now() + timeoutMs; ; ) {
        const s = await call<{ server: { status: string; fault?: { message?: string } } }>('compute', 'GET', `/servers/${id}`, undefined, signal);
        if (s.body.server.status === 'ACTIVE') return { id };
        if (s.body.server.status === 'ERROR') {
          await call('compute', 'DELETE', `/servers/${id}`).catch(() => undefined);
          throw new Error(`NO_CAPACITY: server ${spec.name} failed: ${s.body.server.fault?.message ?? 'ERROR'}`);
        }
        if (Date.now() > until) throw new Error(`server ${spec.name} not ACTIVE after ${timeoutMs} ms`);
        await delay(200, undefined, signal ? { signal } : {});
      }
    },
  };
}
