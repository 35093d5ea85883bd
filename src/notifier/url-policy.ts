// The outbound URL policy (SSRF guard) for webhooks and session downloads. Fenix runs inside the
// operator's network and sends requests to URLs that projects choose, so it refuses targets that
// reach the service host itself or the cloud's metadata service: loopback, link-local, unspecified,
// multicast/broadcast, a few metadata endpoints, and IPv4-mapped / embedded forms of these.
// Private ranges stay allowed: VNF managers live there.
//
// Checked twice: at registration (the URL's host literal, well-known names, and what the name
// resolves to now), and at delivery on the address actually connected to (a `lookup` on the undici
// Agent), so a name that is rebound to a forbidden address after registration is still refused.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { FenixError } from '../domain/errors.js';
import { redactText, redactUrl } from '../domain/redact.js';
import type { OutboundUrlPolicy } from '../ports/url-policy.js';

export { redactText, redactUrl };

/** strict: the built-in forbidden set applies; open (`--auth none`, loopback development): only --webhook-deny. */
export type UrlPolicyMode = 'strict' | 'open';

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Name → addresses, as `dns.promises.lookup(name, { all: true })`. Tests inject a stub. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface UrlPolicyOptions {
  /** Default strict. */
  mode?: UrlPolicyMode;
  /** CIDRs (or single addresses) allowed even if built-in forbidden (`--webhook-allow`). */
  allow?: readonly string[];
  /** CIDRs always refused, in any mode (`--webhook-deny`); beats `allow`. */
  deny?: readonly string[];
  resolve?: Resolver;
  /** How long registration waits for a name to resolve before letting delivery decide. Default 2000 ms. */
  resolveTimeoutMs?: number;
}

/** The built-in forbidden set, by reason (the reason is what error messages say). */
const FORBIDDEN: readonly (readonly [reason: string, cidrs: readonly string[]])[] = [
  ['a loopback address', ['127.0.0.0/8', '::1/128']],
  ['an unspecified address', ['0.0.0.0/8', '::/128']], // Linux connects 0.0.0.0 to the local host
  ['a link-local address', ['169.254.0.0/16', 'fe80::/10']],
  ['a multicast address', ['224.0.0.0/4', 'ff00::/8']],
  ['a broadcast address', ['255.255.255.255/32']],
  // Metadata endpoints outside link-local: AWS (IPv6), Alibaba, Azure WireServer.
  ['a cloud metadata endpoint', ['fd00:ec2::254/128', '100.100.100.200/32', '168.63.129.16/32']],
];

/** IPv6 prefixes that carry an IPv4 address in their last 32 bits, beyond IPv4-mapped (which BlockList matches itself). */
const EMBEDS_IPV4 = blockList(['64:ff9b::/96', '::/96']); // NAT64 well-known prefix; deprecated IPv4-compatible

/** Names that mean a forbidden target whatever DNS says (RFC 6761 localhost; metadata service names). */
function reservedNameAddresses(host: string): string[] | null {
  if (host === 'localhost' || host.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  if (['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal'].includes(host)) return ['169.254.169.254'];
  return null;
}

/** `a.b.c.d/n`, `v6::/n` or a bare address; throws a readable Error on anything else. */
export function parseCidr(raw: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } {
  const [address = '', len, extra] = raw.trim().split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!family || extra !== undefined || !(prefix >= 0 && prefix <= max))
    throw new Error(`${JSON.stringify(raw)} is not a CIDR (a.b.c.d/n, an IPv6 prefix like fd00::/8, or one address)`);
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** A comma-separated flag value as a list of CIDRs (validated); null or empty → []. */
export function parseCidrList(raw: string | null | undefined): string[] {
  const items = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of items) parseCidr(c);
  return items;
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, type } = parseCidr(c);
    list.addSubnet(address, prefix, type);
  }
  return list;
}

/** The last 32 bits of an IPv6 address (any textual form, incl. a dotted tail) as dotted IPv4. */
function lastIpv4(v6: string): string {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (dotted) return dotted[1]!;
  // After `::` only the groups right of it are the address's last ones; the group before them is a zero.
  const groups = (v6.includes('::') ? v6.slice(v6.indexOf('::') + 2) : v6).split(':').filter(Boolean);
  const [hi, lo] = ['0', '0', ...groups].slice(-2).map((g) => parseInt(g, 16)) as [number, number];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

const forbidden = (message: string) => new FenixError('URL_FORBIDDEN', message);

export class UrlPolicy implements OutboundUrlPolicy {
  readonly mode: UrlPolicyMode;
  private readonly allow: BlockList;
  private readonly deny: BlockList;
  private readonly denies: boolean;
  private readonly forbidden: readonly (readonly [string, BlockList])[];
  private readonly resolve: Resolver;
  private readonly resolveTimeoutMs: number;

  constructor(opts: UrlPolicyOptions = {}) {
    this.mode = opts.mode ?? 'strict';
    this.allow = blockList(opts.allow ?? []);
    this.deny = blockList(opts.deny ?? []);
    this.denies = (opts.deny ?? []).length > 0;
    this.forbidden = FORBIDDEN.map(([reason, cidrs]) => [reason, blockList(cidrs)] as const);
    this.resolve = opts.resolve ?? ((host) => dnsLookup(host, { all: true }));
    this.resolveTimeoutMs = opts.resolveTimeoutMs ?? 2000;
  }

  /** Whether any address can be refused at all (open mode without --webhook-deny: none can). */
  get restricts(): boolean {
    return this.mode === 'strict' || this.denies;
  }

  /** Why Fenix must not connect to `address`, or null when it may. Pure. */
  addressVerdict(address: string): string | null {
    const bare = address.replace(/%.*$/, ''); // an IPv6 zone id (fe80::1%eth0) is not part of the address
    const family = isIP(bare);
    if (!family) return 'not an IP address';
    // An IPv6 address that embeds an IPv4 one is judged as both (IPv4-mapped is matched by BlockList itself).
    const forms: [string, 'ipv4' | 'ipv6'][] = [[bare, family === 4 ? 'ipv4' : 'ipv6']];
    if (family === 6 && EMBEDS_IPV4.check(bare, 'ipv6')) forms.push([lastIpv4(bare), 'ipv4']);
    if (forms.some(([a, t]) => this.deny.check(a, t))) return 'in --webhook-deny';
    if (forms.some(([a, t]) => this.allow.check(a, t))) return null;
    if (this.mode === 'open') return null;
    for (const [a, t] of forms) for (const [reason, list] of this.forbidden) if (list.check(a, t)) return reason;
    return null;
  }

  /** Registration: the URL's form, its host literal or reserved name, and what its name resolves to now. */
  async checkRegistration(raw: string, what = 'url'): Promise<void> {
    const url = parseHttpUrl(raw, what);
    this.checkHost(url, what);
    const host = hostOf(url);
    if (!this.restricts || isIP(host) || reservedNameAddresses(host)) return;
    // A name that does not resolve (yet) is allowed: the VNFM may come up later; delivery checks again.
    const addrs = await this.resolveBounded(host);
    for (const a of addrs) {
      const why = this.addressVerdict(a.address);
      if (why) throw forbidden(`${what} ${redactUrl(raw)} is refused: ${host} resolves to ${a.address}, ${why}`);
    }
  }

  /**
   * Delivery, before connecting: host literals and reserved names (the Agent's lookup is not
   * called for a literal). Throws URL_FORBIDDEN.
   */
  checkHost(url: URL, what = 'url'): void {
    if (!this.restricts) return;
    const host = hostOf(url);
    for (const a of isIP(host) ? [host] : (reservedNameAddresses(host) ?? [])) {
      const why = this.addressVerdict(a);
      if (why) throw forbidden(`${what} ${redactUrl(url.toString())} is refused: ${a === host ? host : `${host} (${a})`} is ${why}`);
    }
  }

  /**
   * A `net` lookup that resolves, then fails the connection when any resolved address is refused:
   * the check is on the addresses the socket will connect to (DNS rebinding cannot slip past).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const host = normaliseName(hostname);
    const reserved = this.restricts ? reservedNameAddresses(host) : null;
    const answer = reserved ? Promise.resolve(reserved.map((address) => ({ address, family: isIP(address) }))) : this.resolve(host);
    answer.then(
      (addrs) => {
        for (const a of addrs) {
          const why = this.restricts ? this.addressVerdict(a.address) : null;
          if (why) return callback(forbidden(`${host} resolves to ${a.address}, ${why}: refused by the URL policy`), '');
        }
        const fit = options.family === 4 || options.family === 6 ? addrs.filter((a) => a.family === options.family) : addrs;
        if (!fit.length) return callback(Object.assign(new Error(`${host}: no address`), { code: 'ENOTFOUND' }), '');
        if (options.all) return callback(null, fit);
        return callback(null, fit[0]!.address, fit[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };

  /**
   * An undici dispatcher that enforces this policy: host literals and reserved names are refused
   * before the request, names on the resolved addresses at connect time. Redirects are never
   * followed by undici's `request`, so a 30x cannot lead elsewhere.
   */
  dispatcher(): Dispatcher {
    const agent = new Agent({ connect: { lookup: this.lookup } });
    return agent.compose((dispatch) => (o, handler) => {
      // origin is set by request(url); a URL without one fails inside undici anyway.
      if (o.origin !== undefined) this.checkHost(new URL(String(o.origin)));
      return dispatch(o, handler);
    });
  }

  private async resolveBounded(host: string): Promise<ResolvedAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ResolvedAddress[]>((resolve) => {
      timer = setTimeout(() => resolve([]), this.resolveTimeoutMs);
    });
    try {
      return await Promise.race([this.resolve(host).catch(() => []), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** http(s) URL or VALIDATION_FAILED (the message never echoes credentials). */
export function parseHttpUrl(raw: string, what = 'url'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FenixError('VALIDATION_FAILED', `${what} ${JSON.stringify(redactText(raw))} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FenixError('VALIDATION_FAILED', `${what} must be http:// or https://`);
  return url;
}

/** The URL's host as the policy compares it: IPv6 without brackets, names without a trailing dot. */
function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') ? h.slice(1, -1) : normaliseName(h);
}

const normaliseName = (h: string): string => h.toLowerCase().replace(/\.+$/, '');
