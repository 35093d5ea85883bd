import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildAodhAlarm, eventSignature, toTraits } from '../../src/notifier/aodh.js';
import { canonicalJson } from '../../src/notifier/canonical-json.js';
import type { Notification, Subscription } from '../../src/ports/transport.js';

const sub = (over: Partial<Subscription> = {}): Subscription => ({
  id: '0123456789abcdef-sub',
  projectId: 'p1',
  url: 'http://vnfm.example/alarm',
  eventTypes: ['maintenance.scheduled'],
  format: 'aodh',
  secret: null,
  createdAt: 0,
  delivered: 0,
  ...over,
});

const note: Notification = {
  messageId: '11111111-2222-3333-4444-555555555555',
  eventType: 'maintenance.scheduled',
  generated: Date.UTC(2026, 0, 1, 9, 0, 0, 123),
  payload: {
    service: 'fenix',
    project_id: 'p1',
    session_id: 's1',
    state: 'MAINTENANCE',
    instance_ids: 'http://fenix.example/v1/maintenance/s1/p1',
    allowed_actions: ['MIGRATE', 'LIVE_MIGRATE'],
    reply_url: 'http://fenix.example/v1/maintenance/s1/p1',
    actions_at: '2026-01-01T10:00:00.000Z',
    reply_at: '2026-01-01T09:59:00Z',
    metadata: { openstack_version: 'Train' },
  },
};

describe('buildAodhAlarm', () => {
  it('has exactly the AODH keys', () => {
    const a = buildAodhAlarm(sub(), note);
    expect(Object.keys(a).sort()).toEqual(
      ['alarm_id', 'alarm_name', 'current', 'previous', 'reason', 'reason_data', 'severity'].sort(),
    );
    expect(a.alarm_id).toBe('0123456789abcdef-sub');
    expect(a.alarm_name).toBe('fenix-maintenance.scheduled-01234567');
    expect(a.severity).toBe('low');
    expect(a.current).toBe('alarm');
    expect(a.reason).toContain(note.messageId);
    expect(a.reason_data.type).toBe('event');
    expect(Object.keys(a.reason_data.event).sort()).toEqual(
      ['event_type', 'generated', 'message_id', 'message_signature', 'raw', 'traits'],
    );
    expect(a.reason_data.event.message_id).toBe(note.messageId);
    expect(a.reason_data.event.event_type).toBe('maintenance.scheduled');
    expect(a.reason_data.event.generated).toBe('2026-01-01T09:00:00.123000');
    expect(a.reason_data.event.raw).toEqual({});
  });

  it('previous is "insufficient data" on the first delivery, "alarm" after', () => {
    expect(buildAodhAlarm(sub({ delivered: 0 }), note).previous).toBe('insufficient data');
    expect(buildAodhAlarm(sub({ delivered: 1 }), note).previous).toBe('alarm');
    expect(buildAodhAlarm(sub({ delivered: 7 }), note).previous).toBe('alarm');
  });

  it('renders the spec example traits exactly, sorted by name', () => {
    expect(buildAodhAlarm(sub(), note).reason_data.event.traits).toEqual([
      ['actions_at', 4, '2026-01-01T10:00:00'],
      ['allowed_actions', 1, "['MIGRATE', 'LIVE_MIGRATE']"],
      ['instance_ids', 1, 'http://fenix.example/v1/maintenance/s1/p1'],
      ['metadata', 1, "{'openstack_version': 'Train'}"],
      ['project_id', 1, 'p1'],
      ['reply_at', 4, '2026-01-01T09:59:00'],
      ['reply_url', 1, 'http://fenix.example/v1/maintenance/s1/p1'],
      ['service', 1, 'fenix'],
      ['session_id', 1, 's1'],
      ['state', 1, 'MAINTENANCE'],
    ]);
  });

  it('drops nulls, types numbers and booleans, cuts text at 255', () => {
    const long = 'x'.repeat(300);
    const traits = toTraits({
      z: null,
      y: undefined,
      percent_done: 40,
      ratio: 0.25,
      flag: true,
      off: false,
      long,
      list: Array.from({ length: 100 }, (_, i) => `instance-${i}`),
      instance_ids: ['a', 'b'],
    });
    expect(traits.map((t) => t[0])).toEqual(['flag', 'instance_ids', 'list', 'long', 'off', 'percent_done', 'ratio']);
    expect(traits).toContainEqual(['flag', 1, 'True']);
    expect(traits).toContainEqual(['off', 1, 'False']);
    expect(traits).toContainEqual(['percent_done', 2, 40]);
    expect(traits).toContainEqual(['ratio', 3, 0.25]);
    expect(traits).toContainEqual(['instance_ids', 1, "['a', 'b']"]);
    expect(traits).toContainEqual(['long', 1, 'x'.repeat(255)]);
    const list = traits.find((t) => t[0] === 'list')!;
    expect(list[1]).toBe(1);
    expect(String(list[2])).toHaveLength(255);
    expect(String(list[2]).startsWith("['instance-0', 'instance-1', ")).toBe(true);
  });

  it('types ISO strings in *_at keys as datetimes (UTC, seconds) and leaves other text alone', () => {
    expect(
      toTraits({
        started_at: '2026-03-04T05:06:07.891+02:00',
        naive_at: '2026-03-04 05:06:07',
        not_a_time_at: 'soon',
        actions_at: 'whenever',
        created: '2026-03-04T05:06:07Z',
      }),
    ).toEqual([
      ['actions_at', 1, 'whenever'],
      ['created', 1, '2026-03-04T05:06:07Z'],
      ['naive_at', 4, '2026-03-04T05:06:07'],
      ['not_a_time_at', 1, 'soon'],
      ['started_at', 4, '2026-03-04T03:06:07'],
    ]);
  });

  it('never splits a surrogate pair when cutting', () => {
    const [t] = toTraits({ s: '😀'.repeat(300) });
    expect(Array.from(String(t![2]))).toHaveLength(255);
    expect(String(t![2])).toBe('😀'.repeat(255));
  });

  it('signs the event: HMAC with the secret, SHA-256 without', () => {
    const withSecret = buildAodhAlarm(sub({ secret: 's3cret' }), note).reason_data.event;
    const { message_signature, ...rest } = withSecret;
    expect(message_signature).toMatch(/^[0-9a-f]{64}$/);
    expect(message_signature).toBe(createHmac('sha256', 's3cret').update(canonicalJson(rest)).digest('hex'));
    expect(eventSignature(rest, 's3cret')).toBe(message_signature);

    const plain = buildAodhAlarm(sub(), note).reason_data.event;
    expect(plain.message_signature).toMatch(/^[0-9a-f]{64}$/);
    expect(plain.message_signature).not.toBe(message_signature);
    // deterministic
    expect(buildAodhAlarm(sub(), note).reason_data.event.message_signature).toBe(plain.message_signature);
  });
});
