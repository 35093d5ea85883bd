import { describe, expect, it } from 'vitest';
import { decodeTraitText, parsePythonLiteral, PythonLiteralError } from '../../src/cli/python-literal.js';
import { decodeNotification, decodeTraits } from '../../src/cli/vnfm.js';

describe('parsePythonLiteral', () => {
  it('parses lists of single-quoted strings', () => {
    expect(parsePythonLiteral("['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']")).toEqual([
      'MIGRATE',
      'LIVE_MIGRATE',
      'OWN_ACTION',
    ]);
    expect(parsePythonLiteral('[]')).toEqual([]);
    expect(parsePythonLiteral("[ 'a' ,'b', ]")).toEqual(['a', 'b']);
  });

  it('parses dicts, nesting, constants and numbers', () => {
    expect(parsePythonLiteral("{'openstack_version': 'Train'}")).toEqual({ openstack_version: 'Train' });
    expect(
      parsePythonLiteral("{'a': True, 'b': False, 'c': None, 'n': -1.5e2, 'i': 42, 'l': ['x', ('y', 2)], 'd': {}}"),
    ).toEqual({ a: true, b: false, c: null, n: -150, i: 42, l: ['x', ['y', 2]], d: {} });
    expect(parsePythonLiteral('{1: 2}')).toEqual({ '1': 2 });
  });

  it('handles quotes, prefixes and escapes', () => {
    expect(parsePythonLiteral(`["it's", 'say "hi"', 'a\\'b', 'back\\\\slash']`)).toEqual([
      "it's",
      'say "hi"',
      "a'b",
      'back\\slash',
    ]);
    expect(parsePythonLiteral("[u'unicode', b'bytes', r'raw\\n']")).toEqual(['unicode', 'bytes', 'raw\\n']);
    expect(parsePythonLiteral("'tab\\there\\nnl \\x41\\u00e9\\U0001F600 \\101 \\q'")).toBe('tab\there\nnl Aé😀 A \\q');
    expect(parsePythonLiteral("'a' 'b'")).toBe('ab');
    expect(parsePythonLiteral("'''tri'ple'''")).toBe("tri'ple");
  });

  it('accepts JSON spellings too', () => {
    expect(parsePythonLiteral('{"a": [true, false, null]}')).toEqual({ a: [true, false, null] });
  });

  it('rejects what is not one literal', () => {
    for (const bad of ["['a'", "['a' 'b'", "{'a' 'b'}", "['a'] x", 'http://x/y', "'unterminated", '[foo]', '{[1]: 2}', '']) {
      expect(() => parsePythonLiteral(bad), bad).toThrow(PythonLiteralError);
    }
  });

  it('does not let keys reach the prototype', () => {
    const v = parsePythonLiteral("{'__proto__': {'polluted': True}}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
});

describe('decodeTraitText', () => {
  it('parses literals and keeps other text', () => {
    expect(decodeTraitText("['a', 'b']")).toEqual(['a', 'b']);
    expect(decodeTraitText("{'k': 'v'}")).toEqual({ k: 'v' });
    expect(decodeTraitText('http://h:1/v1/maintenance/s/p')).toBe('http://h:1/v1/maintenance/s/p');
    expect(decodeTraitText('PREPARE_MAINTENANCE')).toBe('PREPARE_MAINTENANCE');
    // cut at 255 characters: stays a string
    expect(decodeTraitText("['a', 'b")).toBe("['a', 'b");
  });
});

describe('decodeTraits / decodeNotification', () => {
  it('decodes AODH traits by dtype', () => {
    expect(
      decodeTraits([
        ['allowed_actions', 1, "['MIGRATE', 'LIVE_MIGRATE']"],
        ['instance_ids', 1, 'http://h/v1/maintenance/s/p'],
        ['metadata', 1, "{'openstack_version': 'Train'}"],
        ['count', 2, '3'],
        ['ratio', 3, '0.5'],
        ['reply_at', 4, '2026-01-01T09:59:00'],
        { name: 'state', dtype: 1, value: 'MAINTENANCE' },
        'junk',
      ]),
    ).toEqual({
      allowed_actions: ['MIGRATE', 'LIVE_MIGRATE'],
      instance_ids: 'http://h/v1/maintenance/s/p',
      metadata: { openstack_version: 'Train' },
      count: 3,
      ratio: 0.5,
      reply_at: '2026-01-01T09:59:00',
      state: 'MAINTENANCE',
    });
  });

  it('recognises both notification formats', () => {
    const aodh = decodeNotification({
      alarm_name: 'x',
      reason_data: {
        type: 'event',
        event: { message_id: 'm1', event_type: 'maintenance.scheduled', generated: 'g', traits: [['state', 1, 'SCALE_IN']] },
      },
    });
    expect(aodh).toEqual({
      format: 'aodh',
      messageId: 'm1',
      eventType: 'maintenance.scheduled',
      generated: 'g',
      payload: { state: 'SCALE_IN' },
    });
    const json = decodeNotification({
      event_type: 'maintenance.scheduled',
      message_id: 'm2',
      generated: 'g',
      payload: { state: 'MAINTENANCE', instance_ids: ['a'], allowed_actions: "['MIGRATE']" },
    });
    expect(json.format).toBe('json');
    expect(json.payload).toEqual({ state: 'MAINTENANCE', instance_ids: ['a'], allowed_actions: ['MIGRATE'] });
    expect(() => decodeNotification({ hello: 1 })).toThrow();
    expect(() => decodeNotification([])).toThrow();
  });
});
