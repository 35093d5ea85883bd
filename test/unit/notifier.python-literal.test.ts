import { describe, expect, it } from 'vitest';
import { pyFloat, toPythonLiteral } from '../../src/notifier/python-literal.js';

describe('toPythonLiteral', () => {
  it('renders scalars like Python repr', () => {
    expect(toPythonLiteral(null)).toBe('None');
    expect(toPythonLiteral(undefined)).toBe('None');
    expect(toPythonLiteral(true)).toBe('True');
    expect(toPythonLiteral(false)).toBe('False');
    expect(toPythonLiteral(42)).toBe('42');
    expect(toPythonLiteral(-7)).toBe('-7');
    expect(toPythonLiteral(1.5)).toBe('1.5');
    expect(toPythonLiteral('abc')).toBe("'abc'");
    expect(toPythonLiteral('')).toBe("''");
  });

  it('escapes strings as repr does', () => {
    expect(toPythonLiteral('a\\b')).toBe("'a\\\\b'");
    expect(toPythonLiteral('it\'s "x"')).toBe("'it\\'s \"x\"'");
    // only a single quote: Python switches to double quotes
    expect(toPythonLiteral("it's")).toBe('"it\'s"');
    expect(toPythonLiteral('say "hi"')).toBe("'say \"hi\"'");
    expect(toPythonLiteral('l1\nl2\tx\r')).toBe("'l1\\nl2\\tx\\r'");
    expect(toPythonLiteral('\u0001\u007f')).toBe("'\\x01\\x7f'");
    expect(toPythonLiteral('héllo ✓ 😀')).toBe("'héllo ✓ 😀'");
  });

  it('renders lists and dicts with Python separators', () => {
    expect(toPythonLiteral(['MIGRATE', 'LIVE_MIGRATE'])).toBe("['MIGRATE', 'LIVE_MIGRATE']");
    expect(toPythonLiteral([])).toBe('[]');
    expect(toPythonLiteral({})).toBe('{}');
    expect(toPythonLiteral({ openstack_version: 'Train' })).toBe("{'openstack_version': 'Train'}");
    expect(toPythonLiteral({ a: [1, null, true], b: { c: 'd' }, skip: undefined })).toBe(
      "{'a': [1, None, True], 'b': {'c': 'd'}}",
    );
  });

  it('renders floats like Python repr', () => {
    expect(pyFloat(0.1)).toBe('0.1');
    expect(pyFloat(1e-5)).toBe('1e-05');
    expect(pyFloat(0.0001)).toBe('0.0001');
    expect(pyFloat(1e16)).toBe('1e+16');
    expect(pyFloat(1.5e300)).toBe('1.5e+300');
    expect(pyFloat(123456.789)).toBe('123456.789');
    expect(pyFloat(2)).toBe('2.0');
    expect(pyFloat(-0)).toBe('-0.0');
    expect(toPythonLiteral(1e20)).toBe('1e+20');
    expect(toPythonLiteral(Number.NaN)).toBe('nan');
  });

  it('rejects circular structures', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => toPythonLiteral(a)).toThrow(/circular/);
    const shared = { x: 1 };
    expect(toPythonLiteral([shared, shared])).toBe("[{'x': 1}, {'x': 1}]");
  });
});
