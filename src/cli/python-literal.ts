// A small parser for the Python literals of AODH event traits (spec §7): lists, tuples and dicts of
// strings (single or double quotes, u''/r''/b'' prefixes, escapes), numbers, True/False/None. It is
// what the Doctor clients get from `yaml.load`/`eval`, without evaluating anything.

export class PythonLiteralError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at ${position}`);
    this.name = 'PythonLiteralError';
  }
}

/** Parse one Python literal; throws PythonLiteralError on anything else (or trailing text). */
export function parsePythonLiteral(text: string): unknown {
  const p = new Parser(text);
  p.ws();
  const v = p.value();
  p.ws();
  if (!p.done()) p.fail('unexpected text');
  return v;
}

/**
 * A trait's text value as the client means it: a list/dict/tuple literal is parsed, anything else
 * (a URL, a plain string, a literal cut at 255 characters) stays the string it was.
 */
export function decodeTraitText(text: string): unknown {
  const t = text.trim();
  if (!/^[[{(]/.test(t)) return text;
  try {
    return parsePythonLiteral(t);
  } catch {
    return text;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  fail(message: string): never {
    throw new PythonLiteralError(message, this.i);
  }

  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) this.fail('unexpected end');
    if (c === '[') return this.seq('[', ']');
    if (c === '(') return this.seq('(', ')');
    if (c === '{') return this.dict();
    if (c === '-' || c === '+' || c === '.' || /[0-9]/.test(c)) return this.number();
    if (this.isStringStart()) return this.strings();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0];
    if (word !== undefined) {
      const consts: Record<string, unknown> = {
        True: true,
        False: false,
        None: null,
        // JSON spellings, for senders that render JSON instead
        true: true,
        false: false,
        null: null,
      };
      if (Object.prototype.hasOwnProperty.call(consts, word)) {
        this.i += word.length;
        return consts[word];
      }
    }
    return this.fail('unexpected character');
  }

  private seq(open: string, close: string): unknown[] {
    this.i++; // open
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === close) {
        this.i++;
        return out;
      }
      this.fail(c === undefined ? `unterminated ${open}` : `expected ',' or '${close}'`);
    }
  }

  private dict(): Record<string, unknown> {
    this.i++; // {
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const key = this.value();
      if (key !== null && typeof key === 'object') this.fail('unhashable dict key');
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      const v = this.value();
      Object.defineProperty(out, String(key === null ? 'None' : key === true ? 'True' : key === false ? 'False' : key), {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      this.fail(c === undefined ? 'unterminated {' : "expected ',' or '}'");
    }
  }

  private number(): number {
    const m = /^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?/.exec(this.s.slice(this.i));
    if (!m) return this.fail('bad number');
    this.i += m[0].length;
    const n = Number(m[0].replace(/_/g, ''));
    if (Number.isNaN(n)) this.fail('bad number');
    return n;
  }

  private isStringStart(): boolean {
    const m = /^[uUrRbB]{0,2}['"]/.exec(this.s.slice(this.i, this.i + 3));
    return m !== null && /^(?:[uU]|[rR]|[bB]|[bB][rR]|[rR][bB])?['"]$/.test(m[0]);
  }

  /** One string, or adjacent strings concatenated ('a' 'b' == 'ab'). */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.i;
      this.ws();
      if (!this.done() && this.isStringStart()) out += this.string();
      else {
        this.i = save;
        return out;
      }
    }
  }

  private string(): string {
    let raw = false;
    while (/[uUrRbB]/.test(this.s[this.i]!)) {
      if (/[rR]/.test(this.s[this.i]!)) raw = true;
      this.i++;
    }
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const end = triple ? q.repeat(3) : q;
    this.i += end.length;
    let out = '';
    for (;;) {
      if (this.done()) this.fail('unterminated string');
      if (this.s.startsWith(end, this.i)) {
        this.i += end.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (!triple && c === '\n') this.fail('newline in string');
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const n = this.s[this.i + 1];
      if (n === undefined) this.fail('unterminated string');
      if (raw) {
        // In raw strings a backslash stays, but still protects the quote after it.
        out += c + n;
        this.i += 2;
        continue;
      }
      this.i += 2;
      switch (n) {
        case '\\':
        case "'":
        case '"':
          out += n;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\n':
          break; // line continuation
        case 'x':
          out += this.hex(2);
          break;
        case 'u':
          out += this.hex(4);
          break;
        case 'U':
          out += this.hex(8);
          break;
        default:
          if (/[0-7]/.test(n)) {
            let oct = n;
            while (oct.length < 3 && /[0-7]/.test(this.s[this.i] ?? '')) oct += this.s[this.i++];
            out += String.fromCodePoint(parseInt(oct, 8));
          } else {
            out += '\\' + n; // Python keeps unknown escapes as they are
          }
      }
    }
  }

  private hex(len: number): string {
    const h = this.s.slice(this.i, this.i + len);
    if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h)) this.fail('bad escape');
    this.i += len;
    const cp = parseInt(h, 16);
    if (cp > 0x10ffff) this.fail('bad escape');
    return String.fromCodePoint(cp);
  }
}
