// The detail read model's pure parts: page cursors, the query, and "waiting for" from the few rows
// the store reads (the store's side: test/integration/detail-paging.test.ts).
import { describe, expect, it } from 'vitest';
import { FenixError } from '../../src/domain/errors.js';
import type { SessionRow } from '../../src/domain/model.js';
import { DETAIL_LISTS, type WaitingFacts } from '../../src/ports/detail-reads.js';
import type { SessionProject } from '../../src/domain/model.js';
import { decodeCursor, detailQuery, detailView, encodeCursor, waitingFor } from '../../src/services/detail.js';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof FenixError ? e.code : `not a FenixError: ${String(e)}`;
  }
  return undefined;
};

describe('page cursors', () => {
  it('round-trip each list key, and only for that list', () => {
    const keys = { hosts: 0, projects: 'prøject/ü', instances: 'i-1', plugin_runs: 7, operations: 2 ** 40, deliveries: 1, timeline: 99, replies: ['p', '', 'ACK_MAINTENANCE', 1, 'ab'] } as const;
    for (const list of DETAIL_LISTS) {
      const c = encodeCursor(list, keys[list] as never);
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(list, c)).toEqual(keys[list]);
      const other = DETAIL_LISTS.find((l) => l !== list)!;
      expect(code(() => decodeCursor(other, c))).toBe('VALIDATION_FAILED');
    }
  });

  it('refuse anything this API did not write', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const bad = [
      ['hosts', ''],
      ['hosts', 'x'],
      ['hosts', '!!'],
      ['hosts', b64(null)],
      ['hosts', b64(['hosts'])],
      ['hosts', b64(['hosts', -1])],
      ['hosts', b64(['hosts', 0.5])],
      ['hosts', b64(['hosts', 2 ** 53])],
      ['projects', b64(['projects', 5])],
      ['projects', b64(['projects', 'x'.repeat(256)])],
      ['replies', b64(['replies', ['p', '', 'r', 1]])],
      ['replies', b64(['replies', ['p', '', 'r', 2, 'd']])],
    ] as const;
    for (const [list, c] of bad) expect(code(() => decodeCursor(list, c)), `${list} ${c}`).toBe('VALIDATION_FAILED');
    // The same key in lenient base64 (padding) is not the cursor.
    expect(code(() => decodeCursor('hosts', encodeCursor('hosts', 1) + '='))).toBe('VALIDATION_FAILED');
  });
});

describe('detailQuery', () => {
  it('defaults: every list, 100 rows, first pages', () => {
    expect(detailQuery({})).toEqual({ lists: [...DETAIL_LISTS], limit: 100, after: {} });
  });
  it('lists in the answer order, an empty list, cursors decoded, bad values refused', () => {
    expect(detailQuery({ lists: 'timeline,hosts' }).lists).toEqual(['hosts', 'timeline']);
    expect(detailQuery({ lists: '' }).lists).toEqual([]);
    expect(detailQuery({ timeline_after: encodeCursor('timeline', 5), limit: 1000 })).toMatchObject({ limit: 1000, after: { timeline: 5 } });
    expect(code(() => detailQuery({ lists: 'hosts,x' }))).toBe('VALIDATION_FAILED');
    expect(code(() => detailQuery({ limit: 0 }))).toBe('VALIDATION_FAILED');
    expect(code(() => detailQuery({ limit: 1001 }))).toBe('VALIDATION_FAILED');
    expect(code(() => detailQuery({ hosts_after: encodeCursor('timeline', 5) }))).toBe('VALIDATION_FAILED');
  });
});

describe('waitingFor', () => {
  const session = { state: 'PLANNED_MAINTENANCE', deleting: false, paused: false, maintenanceAt: 0, wakeAt: null, reason: null, phase: {} } as unknown as SessionRow;
  const none: WaitingFacts = { silentProjects: { first: [], count: 0, until: null }, silentInstances: { first: [], count: 0, until: null }, inFlight: { first: [], count: 0 } };
  const projects = (n: number) => Array.from({ length: n }, (_, i) => ({ projectId: `p${i}`, awaiting: 'PLANNED_MAINTENANCE' }));

  it('names up to 20 silent projects and counts the rest', () => {
    expect(waitingFor(session, { ...none, silentProjects: { first: projects(3), count: 3, until: 0 } }, 1)).toEqual({
      what: 'replies to PLANNED_MAINTENANCE from p0, p1, p2',
      until: '1970-01-01T00:00:00.000Z',
    });
    expect(waitingFor(session, { ...none, silentProjects: { first: projects(20), count: 250, until: null } }, 1).what).toMatch(/from p0, .*, p19 and 230 more$/);
  });
  it('names 5 instances or ops and counts the rest; then the clock', () => {
    const inst = Array.from({ length: 20 }, (_, i) => ({ projectId: 'p', instanceId: `i${i}`, askState: 'PREPARE_MAINTENANCE' }));
    expect(waitingFor(session, { ...none, silentInstances: { first: inst, count: 40, until: null } }, 1).what).toBe(
      'replies to PREPARE_MAINTENANCE for p/i0, p/i1, p/i2, p/i3, p/i4 and 35 more',
    );
    expect(waitingFor(session, { ...none, inFlight: { first: [{ kind: 'move', subject: 'i1', status: 'started', error: null }], count: 1 } }, 1).what).toBe('move i1 to finish');
    // a start retried after an error says why (the error of a started op is history: not shown)
    const blocked = { kind: 'move', subject: 'i2', status: 'pending', error: 'eviction of pod ns/web-1 refused by PDB web: minAvailable 2, currently healthy 2, disruptions allowed 0' };
    expect(waitingFor(session, { ...none, inFlight: { first: [blocked, { kind: 'move', subject: 'i3', status: 'started', error: 'old' }], count: 2 } }, 1).what).toBe(
      'move i2 (retrying: eviction of pod ns/web-1 refused by PDB web: minAvailable 2, currently healthy 2, disruptions allowed 0), move i3 to finish',
    );
    expect(waitingFor({ ...session, maintenanceAt: 10 }, none, 1)).toEqual({ what: 'maintenance_at', until: '1970-01-01T00:00:00.010Z' });
    expect(waitingFor(session, none, 1).what).toBe('the engine (working)');
  });
});

describe('projects in the detail', () => {
  const asked: SessionProject = {
    sessionId: 's',
    projectId: 'p1',
    interacting: true,
    awaiting: 'MAINTENANCE',
    askKey: 'MAINTENANCE',
    notifiedAt: 0,
    replyAt: 40_000,
    reply: null,
    repliedAt: null,
    lastReply: 'ACK_FOO',
    lastReplyAt: 1_000,
    unreachable: false,
  };
  const none: WaitingFacts = { silentProjects: { first: [], count: 0, until: null }, silentInstances: { first: [], count: 0, until: null }, inFlight: { first: [], count: 0 } };
  const view = (state: string, deleting = false) => {
    const session = {
      id: 's', state, workflow: 'default', deleting, paused: false, maintenanceAt: 0, createdAt: 0, updatedAt: 0, wakeAt: null, reason: null,
      percentDone: 0, metadata: {}, options: {}, actions: [], phase: {},
    } as unknown as SessionRow;
    const d = detailView({ session, waiting: none, pages: { projects: { rows: [asked], total: 1, next: null } } }, 1_000);
    return (d.projects as Record<string, unknown>[])[0];
  };

  it('a running session shows the ask and its deadline', () => {
    expect(view('MAINTENANCE')).toMatchObject({ awaiting: 'MAINTENANCE', reply_at: '1970-01-01T00:00:40.000Z', answered: false });
  });
  it('an ended or departing session shows no open ask nor deadline (a failed one keeps its ask in its rows)', () => {
    for (const [state, deleting] of [['MAINTENANCE_FAILED', false], ['MAINTENANCE_DONE', false], ['MAINTENANCE', true]] as const)
      expect(view(state, deleting), `${state}${deleting ? ' deleting' : ''}`).toMatchObject({
        awaiting: null,
        reply_at: null,
        answered: null,
        last_reply: 'ACK_FOO',
        last_reply_at: '1970-01-01T00:00:01.000Z',
      });
  });
});
