// JSON values rendered as Python literals, exactly as Python's repr() would print them.
// Some VNFMs parse AODH trait values with Python `eval`, others with YAML (spec §7).
//
// Strings follow repr(): single quotes, unless the text holds a single quote and no double quote,
// then double quotes (as Python does; it also keeps such values valid YAML). Backslash, the active
// quote, \n, \r, \t and other non-printable characters are escaped.

export function toPythonLiteral(v: unknown): string {
  return render(v, new Set());
}

function render(v: unknown, seen: Set<object>): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyString(v);
  if (typeof v === 'object') {
    const json = (v as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') return render((json as () => unknown).call(v), seen);
    if (seen.has(v)) throw new TypeError('toPythonLiteral: circular structure');
    seen.add(v);
    try {
      if (Array.isArray(v)) return `[${v.map((x) => render(x, seen)).join(', ')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v)) {
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        parts.push(`${pyString(k)}: ${render(x, seen)}`);
      }
      return `{${parts.join(', ')}}`;
    } finally {
      seen.delete(v);
    }
  }
  // functions and symbols have no JSON form
  return 'None';
}

/** Python repr() of a str. */
export function pyString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0xad) out += `\\x${hex(c, 2)}`;
    else if (isUnprintable(c)) out += c <= 0xffff ? `\\u${hex(c, 4)}` : `\\U${hex(c, 8)}`;
    else out += ch;
  }
  return out + quote;
}

const hex = (c: number, width: number): string => c.toString(16).padStart(width, '0');

/** A practical subset of Python's str.isprintable() == false beyond Latin-1. */
function isUnprintable(c: number): boolean {
  return (
    (c >= 0xd800 && c <= 0xdfff) || // lone surrogates
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2060 && c <= 0x2064) ||
    c === 0xfeff ||
    (c >= 0x2000 && c <= 0x200a) || // Zs separators other than ' '
    c === 0x1680 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python repr() of a JSON number: safe integers as int, everything else as float. */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isSafeInteger(n)) return String(n === 0 ? 0 : n);
  return pyFloat(n);
}

/** Python repr() of a float: shortest round-trip digits, fixed for 1e-4 <= |x| < 1e16. */
export function pyFloat(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = n.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1) || '0';
    return `${sign}${int}.${frac}`;
  }
  const rest = digits.slice(1);
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `${sign}${digits[0]}${rest ? `.${rest}` : ''}e${e}`;
}
