// Keystone v3 password authentication for a service user: one scoped token, cached and renewed
// before it expires (single-flight), endpoints from its catalog by service type + interface + region,
// and validation of other users' tokens (for `--auth keystone`).
import type { Dispatcher } from 'undici';
import { httpJson, HttpError, type HttpOptions, type HttpResponse } from './http.js';

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** What an openrc file gives (OS_* variables). */
export interface OpenStackCredentials {
  authUrl: string;
  username: string;
  password: string;
  projectName?: string;
  projectId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  regionName?: string;
  interface?: EndpointInterface;
}

const ENV: Record<keyof OpenStackCredentials, string> = {
  authUrl: 'OS_AUTH_URL',
  username: 'OS_USERNAME',
  password: 'OS_PASSWORD',
  projectName: 'OS_PROJECT_NAME',
  projectId: 'OS_PROJECT_ID',
  userDomainName: 'OS_USER_DOMAIN_NAME',
  userDomainId: 'OS_USER_DOMAIN_ID',
  projectDomainName: 'OS_PROJECT_DOMAIN_NAME',
  projectDomainId: 'OS_PROJECT_DOMAIN_ID',
  regionName: 'OS_REGION_NAME',
  interface: 'OS_INTERFACE',
};

/**
 * Credentials from OS_* variables, `overrides` (flags) winning. Throws when a required one is missing.
 * OS_TENANT_NAME / OS_TENANT_ID are accepted as old spellings of the project.
 */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<OpenStackCredentials> = {}): OpenStackCredentials {
  const c: Record<string, string> = {};
  for (const [k, name] of Object.entries(ENV)) {
    const v = (overrides as Record<string, string | undefined>)[k] ?? env[name];
    if (v !== undefined && v !== '') c[k] = v;
  }
  c.projectName ??= env.OS_TENANT_NAME ?? '';
  c.projectId ??= env.OS_TENANT_ID ?? '';
  if (!c.projectName) delete c.projectName;
  if (!c.projectId) delete c.projectId;
  const missing = (['authUrl', 'username', 'password'] as const).filter((k) => !c[k]).map((k) => ENV[k]);
  if (!c.projectName && !c.projectId) missing.push('OS_PROJECT_NAME');
  if (missing.length) throw new Error(`OpenStack credentials incomplete: set ${missing.join(', ')} (e.g. source an openrc file)`);
  if (c.interface) {
    c.interface = c.interface.replace(/URL$/i, '').toLowerCase();
    if (!['public', 'internal', 'admin'].includes(c.interface)) throw new Error(`OS_INTERFACE must be public, internal or admin, got ${c.interface}`);
  }
  return c as unknown as OpenStackCredentials;
}

/** `http://ks:5000`, `http://ks:5000/`, `http://ks:5000/v3/` → `http://ks:5000/v3`. */
export function identityV3Url(authUrl: string): string {
  const u = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(u) ? u : `${u.replace(/\/v2\.0$/, '')}/v3`;
}

interface CatalogEndpoint {
  interface: string;
  region?: string | null;
  region_id?: string | null;
  url: string;
}
interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}
interface TokenBody {
  token: {
    expires_at: string;
    catalog?: CatalogEntry[];
    project?: { id: string; name?: string; domain?: { id: string } };
    user: { id: string; name?: string };
    roles?: { id: string; name: string }[];
    is_admin_project?: boolean;
  };
}

export interface TokenInfo {
  userId: string;
  projectId: string | null;
  roles: string[];
  expiresAt: number;
  isAdminProject: boolean;
}

interface Cached {
  token: string;
  info: TokenInfo;
  catalog: CatalogEntry[];
}

export interface KeystoneSessionOptions {
  /** Renew the token this long before it expires. Default 5 minutes (or half its lifetime when shorter). */
  renewBeforeMs?: number;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  now?: () => number;
}

const toInfo = (t: TokenBody['token']): TokenInfo => ({
  userId: t.user.id,
  projectId: t.project?.id ?? null,
  roles: (t.roles ?? []).map((r) => r.name),
  expiresAt: Date.parse(t.expires_at),
  isAdminProject: t.is_admin_project !== false,
});

export class KeystoneSession {
  readonly identityUrl: string;
  private cached: Cached | null = null;
  private pending: Promise<Cached> | null = null;
  private issuedAt = 0;
  private readonly now: () => number;
  /** Number of password authentications so far (tests check the cache with it). */
  authCount = 0;

  constructor(
    readonly creds: OpenStackCredentials,
    private readonly opts: KeystoneSessionOptions = {},
  ) {
    this.identityUrl = identityV3Url(creds.authUrl);
    this.now = opts.now ?? Date.now;
  }

  private http<T>(url: string, o: HttpOptions = {}): Promise<HttpResponse<T>> {
    return httpJson<T>(url, { timeoutMs: this.opts.timeoutMs, ...(this.opts.dispatcher && { dispatcher: this.opts.dispatcher }), ...o });
  }

  private authBody(): unknown {
    const c = this.creds;
    const userDomain = c.userDomainId ? { id: c.userDomainId } : { name: c.userDomainName ?? 'Default' };
    const projectDomain = c.projectDomainId ? { id: c.projectDomainId } : { name: c.projectDomainName ?? 'Default' };
    return {
      auth: {
        identity: { methods: ['password'], password: { user: { name: c.username, domain: userDomain, password: c.password } } },
        scope: { project: c.projectId ? { id: c.projectId } : { name: c.projectName, domain: projectDomain } },
      },
    };
  }

  private fresh(c: Cached | null): c is Cached {
    if (!c) return false;
    const life = c.info.expiresAt - this.issuedAt;
    const renewBefore = Math.min(this.opts.renewBeforeMs ?? 300_000, Math.max(0, life / 2));
    return this.now() < c.info.expiresAt - renewBefore;
  }

  private async authenticate(): Promise<Cached> {
    if (this.fresh(this.cached)) return this.cached;
    this.pending ??= (async () => {
      try {
        const res = await this.http<TokenBody>(`${this.identityUrl}/auth/tokens`, { method: 'POST', body: this.authBody() });
        const token = res.headers['x-subject-token'];
        if (!token) throw new HttpError('Keystone answered without X-Subject-Token', true, res.status, res.body);
        this.authCount++;
        this.issuedAt = this.now();
        this.cached = { token, info: toInfo(res.body.token), catalog: res.body.token.catalog ?? [] };
        return this.cached;
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }

  /** A valid token of the service user (cached; renewed before it expires). */
  async token(): Promise<string> {
    return (await this.authenticate()).token;
  }

  async tokenInfo(): Promise<TokenInfo> {
    return (await this.authenticate()).info;
  }

  /** Forget the cached token (after a 401). */
  invalidate(): void {
    this.cached = null;
  }

  /** The catalog URL of a service type for the configured interface and region (no trailing slash). */
  async endpoint(serviceType: string): Promise<string> {
    const { catalog } = await this.authenticate();
    const itf = this.creds.interface ?? 'public';
    const region = this.creds.regionName;
    const entry = catalog.find((e) => e.type === serviceType);
    const eps = (entry?.endpoints ?? []).filter((e) => e.interface === itf && (!region || e.region_id === region || e.region === region));
    const ep = eps[0];
    if (!ep) {
      throw new HttpError(
        `no ${itf} endpoint of service type ${serviceType}${region ? ` in region ${region}` : ''} in the Keystone catalog`,
        false,
        404,
        null,
      );
    }
    return ep.url.replace(/\/+$/, '');
  }

  /** Whether the catalog lists a service type (any interface). */
  async hasService(serviceType: string): Promise<boolean> {
    const { catalog } = await this.authenticate();
    return catalog.some((e) => e.type === serviceType && e.endpoints.length > 0);
  }

  /**
   * An authenticated request to a service of the catalog; `path` is appended to its endpoint (or is
   * an absolute URL). A 401 drops the cached token and retries once.
   */
  async request<T = unknown>(serviceType: string, path: string, o: HttpOptions = {}): Promise<HttpResponse<T>> {
    const base = /^https?:\/\//.test(path) ? '' : await this.endpoint(serviceType);
    for (let attempt = 1; ; attempt++) {
      const token = await this.token();
      try {
        return await this.http<T>(base + path, { ...o, headers: { ...o.headers, 'x-auth-token': token } });
      } catch (err) {
        if (err instanceof HttpError && err.status === 401 && attempt === 1) {
          this.invalidate();
          continue;
        }
        throw err;
      }
    }
  }

  /** Validate a user's token (GET /v3/auth/tokens). null when Keystone says it is invalid or expired. */
  async validateToken(subjectToken: string): Promise<TokenInfo | null> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.token();
      const res = await this.http<TokenBody>(`${this.identityUrl}/auth/tokens?nocatalog`, {
        headers: { 'x-auth-token': token, 'x-subject-token': subjectToken },
        accept: [401, 404],
      });
      if (res.status === 404) return null;
      if (res.status === 401) {
        // Our own token was refused (expired or revoked): renew it once; else the subject is bad.
        if (attempt === 1) {
          this.invalidate();
          continue;
        }
        return null;
      }
      return toInfo(res.body.token);
    }
  }
}
