/**
 * Strict JSON (RFC 8259) for request bodies. JSON.parse silently keeps the last of duplicate keys, so two
 * components reading the same body could see different values (one signs what another executes); it also
 * accepts `__proto__`, a prototype-pollution vector for any code that later merges the object. Here both
 * are errors, as are lone surrogates (not valid Unicode, I-JSON RFC 7493) and nesting deeper than 64.
 * Values otherwise equal JSON.parse's.
 */
import { StrongroomError } from '../domain/errors.ts';

export const MAX_JSON_DEPTH = 64;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Parses `text` as one JSON value.
 * Throws StrongroomError E_JSON_MALFORMED (details.position), E_JSON_DUPLICATE_KEY or
 * E_JSON_FORBIDDEN_KEY (details.key, details.path as a JSON Pointer).
 */
export function parseStrictJson(text: string): unknown {
  if (typeof text !== 'string') throw malformed('input must be a string', 0);
  return new Parser(text).parseDocument();
}

class Parser {
  private pos = 0;
  private depth = 0;
  // path[d] is the key or index being parsed at depth d, read only when reporting an error.
  private readonly path: (string | number)[] = [];

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipWhitespace();
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail('unexpected data after the JSON value');
    return value;
  }

  private parseValue(): unknown {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.parseObject();
      case 0x5b: // [
        return this.parseArray();
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
        return this.fail(Number.isNaN(c) ? 'unexpected end of input' : 'unexpected character');
    }
  }

  private parseObject(): Record<string, unknown> {
    this.enter();
    const obj: Record<string, unknown> = {};
    this.pos++;
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      this.depth--;
      return obj;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key');
      const keyPos = this.pos;
      const key = this.parseString();
      this.path[this.depth] = key;
      if (FORBIDDEN_KEYS.has(key)) {
        throw new StrongroomError(
          'E_JSON_FORBIDDEN_KEY',
          `key "${key}" is not allowed (at ${this.pointer()})`,
          {
            details: { key, path: this.pointer(), position: keyPos },
          },
        );
      }
      if (Object.hasOwn(obj, key)) {
        throw new StrongroomError('E_JSON_DUPLICATE_KEY', `duplicate key "${key}" at ${this.pointer()}`, {
          details: { key, path: this.pointer(), position: keyPos },
        });
      }
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail("expected ':'");
      this.pos++;
      this.skipWhitespace();
      // Safe: __proto__ was refused above, so this never touches the prototype.
      obj[key] = this.parseValue();
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipWhitespace();
      } else if (c === 0x7d) {
        this.pos++;
        this.depth--;
        return obj;
      } else {
        this.fail("expected ',' or '}'");
      }
    }
  }

  private parseArray(): unknown[] {
    this.enter();
    const arr: unknown[] = [];
    this.pos++;
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      this.depth--;
      return arr;
    }
    for (;;) {
      this.path[this.depth] = arr.length;
      arr.push(this.parseValue());
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipWhitespace();
      } else if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return arr;
      } else {
        this.fail("expected ',' or ']'");
      }
    }
  }

  private parseString(): string {
    const text = this.text;
    const start = ++this.pos;
    // Fast path: no escapes, so the value is a slice of the input.
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return text.slice(start, i);
      }
      if (c === 0x5c || c < 0x20 || (c & 0xf800) === 0xd800) {
        this.pos = i;
        return this.parseStringSlow(text.slice(start, i));
      }
    }
    this.pos = text.length;
    return this.fail('unterminated string');
  }

  private parseStringSlow(prefix: string): string {
    const text = this.text;
    let out = prefix;
    let runStart = this.pos;
    for (;;) {
      const i = this.pos;
      if (i >= text.length) return this.fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return out + text.slice(runStart, i);
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(runStart, i);
        const unit = this.parseEscape();
        if ((unit & 0xfc00) === 0xd800) {
          // A high surrogate must be followed by an escaped low surrogate.
          if (text.charCodeAt(this.pos) !== 0x5c || text.charCodeAt(this.pos + 1) !== 0x75) {
            this.fail('lone surrogate in string');
          }
          const low = this.parseEscape();
          if ((low & 0xfc00) !== 0xdc00) this.fail('lone surrogate in string', this.pos - 6);
          out += String.fromCharCode(unit, low);
        } else if ((unit & 0xfc00) === 0xdc00) {
          this.fail('lone surrogate in string', this.pos - 6);
        } else {
          out += String.fromCharCode(unit);
        }
        runStart = this.pos;
        continue;
      }
      if ((c & 0xfc00) === 0xd800) {
        // A raw high surrogate must be followed by a raw low surrogate.
        if ((text.charCodeAt(i + 1) & 0xfc00) !== 0xdc00) this.fail('lone surrogate in string');
        this.pos = i + 2;
        continue;
      }
      if ((c & 0xfc00) === 0xdc00) this.fail('lone surrogate in string');
      this.pos = i + 1;
    }
  }

  /** Parses one escape at `pos` (pointing at the backslash); returns the UTF-16 code unit. */
  private parseEscape(): number {
    const text = this.text;
    const e = text.charCodeAt(this.pos + 1);
    this.pos += 2;
    switch (e) {
      case 0x22:
        return 0x22;
      case 0x5c:
        return 0x5c;
      case 0x2f:
        return 0x2f;
      case 0x62:
        return 0x08;
      case 0x66:
        return 0x0c;
      case 0x6e:
        return 0x0a;
      case 0x72:
        return 0x0d;
      case 0x74:
        return 0x09;
      case 0x75: {
        const hex = text.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape', this.pos - 2);
        this.pos += 4;
        return parseInt(hex, 16);
      }
      default:
        return this.fail('invalid escape', this.pos - 2);
    }
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) return this.fail('invalid number');
    const end = this.pos + m[0].length;
    // `01`, `1.`, `1e` would otherwise be cut short and fail later with a vaguer message.
    const next = this.text.charCodeAt(end);
    if ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45) {
      this.fail('invalid number', end);
    }
    this.pos = end;
    return Number(m[0]);
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected character');
    this.pos += word.length;
    return value;
  }

  private skipWhitespace(): void {
    const text = this.text;
    let i = this.pos;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.pos = i;
  }

  private enter(): void {
    if (++this.depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
  }

  private pointer(): string {
    let out = '';
    for (let d = 1; d <= this.depth; d++) {
      out += '/' + String(this.path[d]).replaceAll('~', '~0').replaceAll('/', '~1');
    }
    return out;
  }

  private fail(reason: string, position = this.pos): never {
    throw malformed(`${reason} at position ${position}`, position);
  }
}

function malformed(message: string, position: number): StrongroomError {
  return new StrongroomError('E_JSON_MALFORMED', `malformed JSON: ${message}`, { details: { position } });
}
