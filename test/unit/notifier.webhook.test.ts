import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/notifier/json-format.js';
import { WebhookTransport } from '../../src/notifier/webhook.js';
import type { Notification, Subscription } from '../../src/ports/transport.js';

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { headers: req.headers, body };
      seen.push(s);
      handler(req, res, s);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, seen };
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const sub = (url: string, over: Partial<Subscription> = {}): Subscription => ({
  id: 'abcdef0123456789',
  projectId: 'p1',
  url,
  eventTypes: ['maintenance.scheduled'],
  format: 'aodh',
  secret: null,
  createdAt: 0,
  delivered: 0,
  ...over,
});

const note: Notification = {
  messageId: 'm-1',
  eventType: 'maintenance.scheduled',
  generated: Date.UTC(2026, 0, 1, 9, 0, 0),
  payload: { project_id: 'p1', state: 'MAINTENANCE', allowed_actions: ['MIGRATE'] },
};

const live = () => new AbortController().signal;

describe('WebhookTransport', () => {
  it('POSTs an AODH alarm and reports 2xx as ok', async () => {
    const { url, seen } = await serve((_req, res) => res.writeHead(200).end('thanks'));
    const r = await new WebhookTransport().deliver(sub(url), note, live());
    expect(r).toEqual({ ok: true, status: 200 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['user-agent']).toBe('fenix');
    const body = JSON.parse(seen[0]!.body);
    expect(body.alarm_id).toBe('abcdef0123456789');
    expect(body.previous).toBe('insufficient data');
    expect(body.reason_data.event.traits).toContainEqual(['allowed_actions', 1, "['MIGRATE']"]);
    expect(seen[0]!.headers['x-fenix-signature']).toBeUndefined();
  });

  it('POSTs a signed JSON event when the subscription has a secret', async () => {
    const { url, seen } = await serve((_req, res) => res.writeHead(204).end());
    const r = await new WebhookTransport().deliver(sub(url, { format: 'json', secret: 'k' }), note, live());
    expect(r).toEqual({ ok: true, status: 204 });
    const { body, headers } = seen[0]!;
    expect(JSON.parse(body)).toEqual({
      event_type: 'maintenance.scheduled',
      message_id: 'm-1',
      generated: '2026-01-01T09:00:00.000Z',
      payload: note.payload,
    });
    expect(verifySignature(body, 'k', headers['x-fenix-signature'] as string)).toBe(true);
  });

  it('reports non-2xx as not ok', async () => {
    const { url } = await serve((_req, res) => res.writeHead(500).end('boom'.repeat(10_000)));
    const r = await new WebhookTransport().deliver(sub(url), note, live());
    expect(r).toEqual({ ok: false, status: 500, error: 'HTTP 500' });
  });

  it('times out a hanging receiver', async () => {
    const { url } = await serve(() => undefined); // never answers
    const t0 = Date.now();
    const r = await new WebhookTransport({ timeoutMs: 200 }).deliver(sub(url), note, live());
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/timeout/);
  });

  it('stops when the caller aborts', async () => {
    const { url } = await serve(() => undefined);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const r = await new WebhookTransport({ timeoutMs: 10_000 }).deliver(sub(url), note, ctl.signal);
    expect(r).toEqual({ ok: false, error: 'aborted' });
  });

  it('reports network errors without throwing', async () => {
    const { url } = await serve((_req, res) => res.end());
    const dead = url;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    const r = await new WebhookTransport({ timeoutMs: 2000 }).deliver(sub(dead), note, live());
    expect(r.ok).toBe(false);
    expect(r.error).toBeTruthy();
    const bad = await new WebhookTransport().deliver(sub('not a url'), note, live());
    expect(bad.ok).toBe(false);
    expect(bad.error).toBeTruthy();
  });
});
