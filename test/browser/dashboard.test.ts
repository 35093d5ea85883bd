// The dashboard in a real headless Chromium (Debian's, installed by .ci/infra/chromium-install.sh),
// driven with playwright-core. Everything is checked from the page itself (its DOM): a whole demo
// session created from the page (plan preview, confirmation) whose hosts each pass through their
// states to MAINTENANCE_DONE; an action that asks first; the token prompt of --auth token and a
// project token that sees only its project's part.
//
// Screenshots go to a temporary directory, or to FENIX_DASHBOARD_SHOTS (docs/img/ keeps those of one run:
// FENIX_DASHBOARD_SHOTS=docs/img npx vitest run test/browser/dashboard.test.ts).
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';
import type { Service } from '../../src/main/service.js';
import { startTestService, waitFor } from '../helpers/harness.js';
import { ADMIN, P1, P2, WRONG, call, farFuture, startSecured, type SecuredService } from '../security/fixture.js';

const CHROMIUM = process.env.FENIX_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.FENIX_DASHBOARD_SHOTS ?? mkdtempSync(join(tmpdir(), 'fenix-shots-'));
const HOST_ORDER = ['pending', 'emptying', 'maintaining', 'maintained'];

let browser: Browser;

/**
 * Records, in the page, every status each host tile shows, in order: a MutationObserver on the
 * tiles' data-status (the page changes a tile's status in place), installed before the page's script.
 */
const RECORDER = `
  window.__hostStates = {};
  const look = () => {
    for (const el of document.querySelectorAll('.host[data-host]')) {
      const l = (window.__hostStates[el.dataset.host] ??= []);
      if (el.dataset.status && l[l.length - 1] !== el.dataset.status) l.push(el.dataset.status);
    }
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
`;

async function newPage(colorScheme: 'light' | 'dark' = 'light'): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(RECORDER);
  return { ctx, page, errors };
}

const shot = (name: string) => join(SHOTS, name);

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run .ci/infra/chromium-install.sh`).toBe(true);
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
});

describe('the demo cloud, no auth', () => {
  let svc: Service;
  const vnfms: SampleVnfm[] = [];
  beforeAll(async () => {
    // What `npm start` runs: the demo cloud and a sample application manager per demo project.
    svc = await startTestService();
    for (const projectId of ['demo-a', 'demo-b']) vnfms.push(await startSampleVnfm({ projectId, api: svc.url, log: () => {} }));
  });
  afterAll(async () => {
    await Promise.allSettled(vnfms.map((v) => v.close()));
    await svc?.stop();
  });

  it('API clients still get the version document at /', async () => {
    const r = await call(svc.url, 'GET', '/');
    expect(r.json.versions[0].id).toBe('v1');
    const html = await fetch(`${svc.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toMatch(/script-src 'sha256-/);
  });

  it('a whole demo session from the page: plan preview, confirmation, each host through its states, MAINTENANCE_DONE', async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${svc.url}/`);
    await page.locator('#no-sessions').waitFor({ state: 'visible' });
    await page.locator('#new-session').click();

    // A vnf plan preview: the waves as a chart.
    await page.locator('#c-workflow').selectOption('vnf');
    await page.locator('#c-preview').click();
    await page.locator('#plan-preview svg rect[data-bar="maintaining"]').first().waitFor();
    expect(await page.locator('#plan-feasible').textContent()).toBe('yes');
    expect(await page.locator('#plan-preview .wave').count()).toBeGreaterThan(0);
    await page.locator('#create').screenshot({ path: shot('dashboard-plan.png') });

    // The default workflow's session, created after its preview and a confirmation.
    await page.locator('#c-workflow').selectOption('default');
    expect(await page.locator('#c-create').isDisabled(), 'no create before a preview of this very body').toBe(true);
    await page.locator('#c-preview').click();
    await page.locator('#c-create:not([disabled])').click();
    await page.locator('#confirm[open]').waitFor();
    await page.locator('#confirm-ok').click();
    await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;

    // Mid-run (two hosts done, another on its way): the "waiting for" line, projects and moves.
    await page.locator('.host[data-status="maintained"]').nth(1).waitFor({ timeout: 60_000 });
    await page.locator('.host:is([data-status="emptying"], [data-status="maintaining"])').first().waitFor({ timeout: 60_000 });
    await page.screenshot({ path: shot('dashboard-session.png'), fullPage: true });

    await page.locator('#session-state[data-state="MAINTENANCE_DONE"]').waitFor({ timeout: 120_000 });
    expect(await page.locator('#percent').textContent()).toBe('100 % done');
    expect(await page.locator('#waiting-what').textContent()).toBe('nothing: the session is done');

    const seen = (await page.evaluate('window.__hostStates')) as Record<string, string[]>;
    expect(Object.keys(seen).sort()).toEqual(['compute-0', 'compute-1', 'compute-2', 'compute-3', 'controller-0']);
    for (const [host, states] of Object.entries(seen)) {
      const what = `${host}: ${states.join(' → ')}`;
      expect(states[0], what).toBe('pending');
      expect(states.at(-1), what).toBe('maintained');
      expect(states, what).toContain('maintaining');
      // Every compute host holds instances when its turn comes: it is emptied first.
      if (host.startsWith('compute-')) expect(states, what).toContain('emptying');
      const ranks = states.map((s) => HOST_ORDER.indexOf(s));
      expect(ranks, what).toEqual([...ranks].sort((a, b) => a - b));
    }
    // Instances moved, as the page shows them; both projects answered.
    expect(await page.locator('#instances tr').count()).toBe(10);
    expect(await page.locator('#projects tr').count()).toBe(2);
    expect(await page.locator('#chart svg rect[data-bar="maintaining"]').count()).toBe(5);

    // The URL can be shared: a new page opened on it shows the same session.
    const other = await ctx.newPage();
    await other.goto(`${svc.url}/sessions/${id}`);
    await other.locator('#session-state[data-state="MAINTENANCE_DONE"]').waitFor();
    await page.goto(`${svc.url}/`);
    await page.locator(`tr[data-session="${id}"] [data-state="MAINTENANCE_DONE"]`).waitFor();
    await page.screenshot({ path: shot('dashboard-list.png') });
    expect(errors).toEqual([]);
    await ctx.close();
  }, 240_000);

  it('a vnf session: its plan\'s waves drawn with the actual times as it runs', async () => {
    const { ctx, page, errors } = await newPage();
    await page.goto(`${svc.url}/`);
    await page.locator('#new-session').click();
    await page.locator('#c-workflow').selectOption('vnf');
    await page.locator('#c-preview').click();
    await page.locator('#c-create:not([disabled])').click();
    await page.locator('#confirm-ok').click();
    await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
    // Mid-run: some waves done, one going on.
    await page.locator('#chart svg rect[data-bar="maintained"]').nth(1).waitFor({ timeout: 60_000 });
    await page.locator('#chart-panel').screenshot({ path: shot('dashboard-vnf-gantt.png') });
    await page.locator('#session-state[data-state="MAINTENANCE_DONE"]').waitFor({ timeout: 120_000 });
    const waves = await page.locator('#chart svg .wave').allTextContents();
    expect(waves.length).toBeGreaterThan(1);
    expect(waves[0]).toBe('wave 1');
    // Every host has its time in maintenance drawn, in its wave.
    expect(await page.locator('#chart svg rect[data-bar="maintaining"]').count()).toBe(5);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 180_000);

  it('an action asks first: cancel sends nothing, confirm pauses; delete goes back to the list', async () => {
    const id = (await call(svc.url, 'POST', '/v1/maintenance', { hosts: ['compute-1'], maintenance_at: farFuture() })).json.session_id as string;
    const { ctx, page, errors } = await newPage();
    const writes: string[] = [];
    page.on('request', (r) => void (['PUT', 'DELETE', 'POST'].includes(r.method()) && writes.push(`${r.method()} ${r.url()}`)));
    await page.goto(`${svc.url}/sessions/${id}`);
    await page.locator('#session-state[data-state="MAINTENANCE"]').waitFor();

    await page.locator('#a-pause').click();
    await page.locator('#confirm[open]').waitFor();
    expect(await page.locator('#confirm-text').textContent()).toContain('Pause this session?');
    await page.locator('#confirm-cancel').click();
    await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });
    expect(writes).toEqual([]);
    expect((await call(svc.url, 'GET', `/v1/maintenance/${id}`)).json.paused).toBe(false);

    await page.locator('#a-pause').click();
    await page.locator('#confirm-ok').click();
    await page.locator('#session-state .badge.paused').waitFor();
    expect((await call(svc.url, 'GET', `/v1/maintenance/${id}`)).json.paused).toBe(true);
    expect(writes).toEqual([`PUT ${svc.url}/v1/maintenance/${id}`]);
    expect(await page.locator('#a-resume').isEnabled()).toBe(true);

    await page.locator('#a-delete').click();
    await page.locator('#confirm-ok').click();
    await page.waitForURL(`${svc.url}/`);
    await waitFor(async () => (await call(svc.url, 'GET', `/v1/maintenance/${id}`)).status === 404, 'the session deleted');
    expect(errors).toEqual([]);
    await ctx.close();
  }, 60_000);
});

describe('--auth token', () => {
  let sec: SecuredService;
  let sid: string;
  let other: string;
  beforeAll(async () => {
    sec = await startSecured();
    const url = sec.svc.url;
    sid = (await call(url, 'POST', '/v1/maintenance', { hosts: ['c1', 'c2', 'c3'], maintenance_at: farFuture() }, ADMIN)).json.session_id;
    other = (await call(url, 'POST', '/v1/maintenance', { hosts: ['c4'], maintenance_at: farFuture() }, ADMIN)).json.session_id;
    await waitFor(async () => (await call(url, 'GET', `/v1/maintenance/${sid}/detail`, undefined, ADMIN)).json?.projects?.length === 2, 'projects discovered');
  });
  afterAll(async () => sec?.stop());

  it('the page asks for a token; a wrong one is asked again; a project token sees its own part only', async () => {
    const url = sec.svc.url;
    // In the dark scheme, as a system set to dark asks for.
    const { ctx, page, errors } = await newPage('dark');
    await page.goto(`${url}/`);
    await page.locator('#token[open]').waitFor();
    await page.locator('#token-input').fill(WRONG);
    await page.locator('#token-ok').click();
    await page.locator('#token[open] #token-text', { hasText: 'refused' }).waitFor();
    await page.locator('#token-input').fill(P1);
    await page.locator('#token-ok').click();
    await page.locator('#who-scope', { hasText: 'project p1' }).waitFor();
    // The token stays in the tab's sessionStorage, never in a URL.
    expect(await page.evaluate("sessionStorage.getItem('fenix-token')")).toBe(P1);
    expect(page.url()).not.toContain(P1);

    await page.locator(`tr[data-session="${sid}"]`).waitFor();
    expect(await page.locator(`tr[data-session="${other}"]`).count()).toBe(0);
    expect(await page.locator('#new-session').isHidden()).toBe(true);

    await page.locator(`tr[data-session="${sid}"] a`).click();
    await page.locator('#session-state[data-state="MAINTENANCE"]').waitFor();
    await page.locator('#instances tr').first().waitFor();
    expect(await page.locator('#projects tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-project')))).toEqual(['p1']);
    const projects = await page.locator('#instances tr td:nth-child(2)').allTextContents();
    expect(projects.length).toBeGreaterThan(0);
    expect(new Set(projects)).toEqual(new Set(['p1']));
    expect(await page.locator('#a-pause').count(), 'no admin actions for a project').toBe(0);
    expect(await page.locator('main').textContent()).not.toMatch(/\bp2(-[a-z]+)?\b/);
    await page.screenshot({ path: shot('dashboard-project.png'), fullPage: true });
    expect(errors).toEqual([]);
    await ctx.close();

    // Another project, on a session it takes no part in: as if there were none.
    const p2 = await newPage();
    await p2.page.goto(`${url}/sessions/${other}`);
    await p2.page.locator('#token[open]').waitFor();
    await p2.page.locator('#token-input').fill(P2);
    await p2.page.locator('#token-ok').click();
    await p2.page.locator('#gone').waitFor();
    await p2.ctx.close();
  }, 60_000);
});
