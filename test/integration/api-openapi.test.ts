// GET /v1/openapi.json and /v1/docs (issue 13). The document is generated from the route schemas;
// this test holds it to the route table the app really has at runtime (whatever other features
// registered), so a new route cannot be left out of it:
// - every route under /v1 is in `paths` with its method, its access (x-fenix-access) and security;
// - a route outside /v1 is in `paths` too, unless its schema says `hide: true` (HTML pages, static
//   assets of the dashboard); the document lists those in x-fenix-hidden-routes, and no /v1 route
//   may be among them.
// It also checks the document's structure as OpenAPI 3.1 requires it (no validator package: the
// rules checked are listed below), and that the page renders it with nothing from outside.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/api/app.js';
import { HIDDEN_ROUTES_KEY } from '../../src/api/openapi.js';
import type { Service } from '../../src/main/service.js';
import { startTestService } from '../helpers/harness.js';

const SCENARIO = {
  hosts: [
    { name: 'c1', type: 'compute', vcpus: 8 },
    { name: 'c2', type: 'compute', vcpus: 8 },
  ],
  instances: [{ id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 }],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Fastify's `:name` → OpenAPI's `{name}`. */
const openapiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

let svc: Service;
let doc: Json;
let routes: RouteEntry[];

beforeAll(async () => {
  svc = await startTestService({ scenario: SCENARIO });
  routes = svc.app!.routeTable();
  const res = await fetch(`${svc.url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Json;
});
afterAll(async () => {
  await svc?.stop();
});

describe('/v1/openapi.json', () => {
  it('has every route of the route table, with its method and access', () => {
    expect(routes.length).toBeGreaterThan(20);
    const hidden = doc[HIDDEN_ROUTES_KEY] as string[];
    expect(Array.isArray(hidden)).toBe(true);
    expect(hidden.filter((k) => k.split(' ')[1]!.startsWith('/v1')), 'API routes may not be hidden from the document').toEqual([]);
    const missing: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.url}`;
      const op = doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()] as Json | undefined;
      if (!op) {
        if (!hidden.includes(key)) missing.push(key);
        continue;
      }
      expect(op['x-fenix-access'], key).toBe(r.access);
      expect(op.security, key).toEqual(r.access === 'public' ? [] : [{ token: [] }]);
    }
    expect(missing, 'routes of routeTable() neither in paths nor hidden').toEqual([]);
    // Nothing in the document that the app does not serve.
    const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openapiPath(r.url)}`));
    const extra = Object.entries(doc.paths as Json).flatMap(([p, item]) => Object.keys(item as Json).filter((m) => METHODS.includes(m) && !served.has(`${m} ${p}`)).map((m) => `${m} ${p}`));
    expect(extra).toEqual([]);
  });

  it('is structurally valid OpenAPI 3.1', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    const schemes = doc.components?.securitySchemes as Json;
    expect(schemes.token).toEqual({ type: 'apiKey', in: 'header', name: 'X-Auth-Token' });
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      // Paths start with /, use {name} templates only, and are unique once their names are ignored.
      expect(path, path).toMatch(/^\//);
      expect(path, path).not.toMatch(/:/);
      for (const [method, op] of Object.entries(item as Json)) {
        const where = `${method} ${path}`;
        expect(METHODS, where).toContain(method);
        expect(op.responses && Object.keys(op.responses).length, `${where}: responses`).toBeGreaterThan(0);
        for (const [code, r] of Object.entries(op.responses as Json)) {
          expect(code, where).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(typeof (r as Json).description, `${where} ${code}: description`).toBe('string');
          for (const media of Object.values(((r as Json).content ?? {}) as Json)) expect(typeof media.schema, `${where} ${code}: schema`).toBe('object');
        }
        // Each {name} of the path is a required path parameter, and there are no others.
        const params = (op.parameters ?? []) as Json[];
        for (const p of params) {
          expect(['query', 'header', 'path', 'cookie'], where).toContain(p.in);
          expect(typeof p.name, where).toBe('string');
          expect(typeof p.schema, `${where} ${p.name}`).toBe('object');
        }
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        expect(params.filter((p) => p.in === 'path').map((p) => p.name).sort(), `${where}: path parameters`).toEqual(templated);
        for (const p of params.filter((x) => x.in === 'path')) expect(p.required, `${where} ${p.name}`).toBe(true);
        if (op.requestBody) for (const media of Object.values(op.requestBody.content as Json)) expect(typeof media.schema, `${where}: body`).toBe('object');
        for (const req of op.security ?? []) for (const name of Object.keys(req)) expect(schemes, `${where}: security ${name}`).toHaveProperty(name);
        // Unique, and what a client generator can name a function after.
        expect(op.operationId, `${where}: operationId`).toMatch(/^[a-z][A-Za-z0-9]*$/);
        expect(operationIds.has(op.operationId), `${where}: operationId ${op.operationId} twice`).toBe(false);
        operationIds.add(op.operationId);
        expect(Array.isArray(op.tags), where).toBe(true);
      }
    }
  });

  it('carries the route schemas as they are enforced', () => {
    const create = doc.paths['/v1/maintenance'].post;
    expect(create.requestBody.content['application/json'].schema.properties.hosts).toMatchObject({ type: 'array', items: { type: 'string' }, maxItems: 10_000 });
    expect(create.responses['200'].content['application/json'].schema.required).toContain('session_id');
    expect(create.responses['400'].content['application/json'].schema.properties.error.required).toEqual(['code', 'message']);
    const reply = doc.paths['/v1/maintenance/{session_id}/{project_id}'].put;
    expect(reply.responses['200'].content['application/json'].schema.properties.reason_code.enum).toContain('NOT_AWAITED');
    expect(reply.operationId).toBe('putMaintenanceBySessionIdByProjectId');
    const detail = doc.paths['/v1/maintenance/{session_id}/detail'].get;
    expect(detail.operationId).toBe('getMaintenanceBySessionIdDetail');
    expect(doc.paths['/v1/openapi.json'].get.operationId).toBe('getOpenapiJson');
    expect(doc.paths['/'].get.operationId).toBe('getRoot');
    expect(detail.parameters.map((p: Json) => `${p.in} ${p.name}`)).toEqual(expect.arrayContaining(['path session_id', 'query limit', 'query lists', 'query hosts_after']));
    // null is JSON Schema's type in 3.1 (not 3.0's nullable).
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
  });
});

describe('/v1/docs', () => {
  it('is one self-contained page: no other origin, its own script and style allowed by hash and nothing else', async () => {
    const res = await fetch(`${svc.url}/v1/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    // No external script, style, image or font: nothing with a src, no link element, no URL to another origin.
    expect(html).not.toMatch(/\ssrc=|<link\b|\/\/[a-z0-9.-]+\.[a-z]{2,}|@import|url\(/i);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash(script)}`);
    expect(csp).toContain(`style-src ${hash(style)}`);
    // The script at least parses (a browser test of the rendering is the dashboard's Chromium lane).
    expect(() => new Function(script)).not.toThrow();
    expect(script).toContain("replace(/[/]docs[/]?$/, '/openapi.json')");
    // A trailing slash serves the same page.
    expect((await fetch(`${svc.url}/v1/docs/`)).status).toBe(200);
  });
});
