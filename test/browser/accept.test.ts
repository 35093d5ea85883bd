// Which clients get the dashboard's page at / (src/api/routes/dashboard.ts), and the live views' patches (routes/events.ts).
import { describe, expect, it } from 'vitest';
import { acceptQ } from '../../src/api/routes/dashboard.js';
import { diffViews, type View } from '../../src/api/routes/events.js';

const html = (accept: string) => acceptQ(accept, 'text/html') > acceptQ(accept, 'application/json');

describe('Accept: the page only for clients that prefer HTML', () => {
  it('browsers get the page', () => {
    expect(html('text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8')).toBe(true);
    expect(html('text/html')).toBe(true);
    expect(html('text/*, application/json;q=0.5')).toBe(true);
  });
  it('API clients, curl and fetch() get JSON', () => {
    for (const a of ['*/*', 'application/json', '', 'application/json, text/html', 'text/html;q=0.5, application/json', 'text/html;q=0, */*', 'text/html;q=abc', 'TEXT/HTML;q=0.1, */*;q=0.2'])
      expect(html(a), a).toBe(false);
  });
  it('the most specific range decides, whatever its place', () => {
    expect(acceptQ('text/html;q=0.2, */*', 'text/html')).toBe(0.2);
    expect(acceptQ('*/*;q=0.3, text/*;q=0.6', 'text/html')).toBe(0.6);
    expect(acceptQ('image/png', 'text/html')).toBe(0);
  });
});

describe('patches carry what changed only', () => {
  const view = (head: Record<string, unknown>, rows: Record<string, unknown>[]): View => ({
    head,
    lists: new Map([['hosts', rows.map((r) => ({ key: String(r.name), ...r }))]]),
  });
  it('nothing changed: no patch', () => {
    expect(diffViews(view({ a: 1 }, [{ name: 'h1', status: 'pending' }]), view({ a: 1 }, [{ name: 'h1', status: 'pending' }]))).toBeNull();
  });
  it('a changed row, a new one, a gone one; the head only when it changed', () => {
    const a = view({ a: 1 }, [{ name: 'h1', status: 'pending' }, { name: 'h2', status: 'pending' }, { name: 'h3', status: 'pending' }]);
    const b = view({ a: 1 }, [{ name: 'h1', status: 'emptying' }, { name: 'h2', status: 'pending' }, { name: 'h4', status: 'pending' }]);
    expect(diffViews(a, b)).toEqual({
      lists: {
        hosts: {
          upsert: [
            { key: 'h1', name: 'h1', status: 'emptying' },
            { key: 'h4', name: 'h4', status: 'pending' },
          ],
          remove: ['h3'],
        },
      },
    });
    expect(diffViews(a, view({ a: 2 }, [{ name: 'h1', status: 'pending' }, { name: 'h2', status: 'pending' }, { name: 'h3', status: 'pending' }]))).toEqual({ head: { a: 2 }, lists: {} });
  });
});
