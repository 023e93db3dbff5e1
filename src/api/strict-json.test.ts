import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseStrictJson, MAX_JSON_DEPTH } from './strict-json.ts';
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';

function errorOf(text: string): StrongroomError {
  try {
    parseStrictJson(text);
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return e as StrongroomError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

function expectCode(text: string, code: ErrorCode): StrongroomError {
  const e = errorOf(text);
  expect(e.code).toBe(code);
  return e;
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
function hasForbiddenKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasForbiddenKey);
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).some(([k, x]) => FORBIDDEN.has(k) || hasForbiddenKey(x));
  }
  return false;
}

describe('parseStrictJson: agrees with JSON.parse', () => {
  it.each([
    ['0', 0],
    ['-0', -0],
    ['1.5e3', 1500],
    ['1E-2', 0.01],
    ['123456789012345678901234567890', 1.2345678901234568e29], // rounds exactly like JSON.parse
    ['1e400', Infinity],
    ['true', true],
    ['false', false],
    ['null', null],
    ['""', ''],
    ['"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"', 'a"b\\c/d\b\f\n\r\t'],
    ['"\\u00e9\\uD83D\\uDE00"', 'é😀'],
    ['"é😀"', 'é😀'],
    [' \t\r\n[ 1 , { "a" : [ ] } , { } ] \n', [1, { a: [] }, {}]],
    ['{"toString":1,"hasOwnProperty":2}', { toString: 1, hasOwnProperty: 2 }],
  ])('%s', (text, expected) => {
    const value = parseStrictJson(text);
    expect(value).toStrictEqual(expected);
    expect(value).toStrictEqual(JSON.parse(text));
  });

  it('returns plain objects (same prototype as JSON.parse)', () => {
    const value = parseStrictJson('{"a":{"b":1}}') as { a: object };
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(value.a)).toBe(Object.prototype);
  });

  it('property: any JSON value without forbidden keys parses exactly like JSON.parse', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ stringUnit: 'binary' }),
        fc.constantFrom(undefined, 2, '\t'),
        (value, indent) => {
          fc.pre(!hasForbiddenKey(value));
          const text = JSON.stringify(value, null, indent);
          expect(parseStrictJson(text)).toStrictEqual(JSON.parse(text));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: on mutated JSON text, it accepts only what JSON.parse accepts, with the same result', () => {
    const mutated = fc
      .tuple(
        fc.json({ maxDepth: 3 }),
        fc.nat(),
        fc.constantFrom('', '{', '}', ',', ':', '"', '\\', '-', '0', 'e', '.', ' ', 'x', '\u0001'),
      )
      .map(([text, at, insert]) => {
        const i = text.length === 0 ? 0 : at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + (insert === '' ? 1 : 0));
      });
    fc.assert(
      fc.property(mutated, (text) => {
        let expected: unknown;
        let jsonOk = true;
        try {
          expected = JSON.parse(text);
        } catch {
          jsonOk = false;
        }
        let ours: unknown;
        let error: StrongroomError | undefined;
        try {
          ours = parseStrictJson(text);
        } catch (e) {
          error = e as StrongroomError;
        }
        if (!jsonOk) {
          // We stop at the first problem, which may be a duplicate key before the syntax error.
          expect(error?.code).toMatch(/^E_JSON_(MALFORMED|DUPLICATE_KEY|FORBIDDEN_KEY)$/);
        } else if (error === undefined) {
          expect(ours).toStrictEqual(expected);
        } else {
          // Accepted by JSON.parse but refused by us: only for our stricter rules.
          expect(['E_JSON_DUPLICATE_KEY', 'E_JSON_FORBIDDEN_KEY']).toContain(error.code);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseStrictJson: refuses', () => {
  it.each([
    ['', 0],
    [' ', 1],
    ['{', 1],
    ['[1,]', 3],
    ['{"a":1,}', 7],
    ['{"a" 1}', 5],
    ['{a:1}', 1],
    ['[1 2]', 3],
    ['01', 1],
    ['1.', 1],
    ['.5', 0],
    ['-', 0],
    ['+1', 0],
    ['1e', 1],
    ['NaN', 0],
    ['tru', 0],
    ['nulls', 4],
    ['"abc', 4],
    ['"a\nb"', 2],
    ['"\\x"', 1],
    ['"\\u12G4"', 1],
    ["'a'", 0],
    ['\ufeff{}', 0],
    ['{} {}', 3],
    ['"\\ud800"', 7],
    ['"\\udc00"', 1],
    ['"\\ud800\\u0041"', 7],
    ['"\ud800"', 1],
    ['"\udc00x"', 1],
  ])('malformed %j at position %i', (text, position) => {
    const e = expectCode(text, 'E_JSON_MALFORMED');
    expect(e.details.position).toBe(position);
    expect(e.message).toContain(`position ${position}`);
  });

  it('nesting deeper than 64', () => {
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(() => parseStrictJson(ok)).not.toThrow();
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expectCode(deep, 'E_JSON_MALFORMED');
    expectCode('{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1), 'E_JSON_MALFORMED');
    // A very deep document fails cleanly rather than overflowing the stack.
    expectCode('['.repeat(1_000_000), 'E_JSON_MALFORMED');
  });

  it('duplicate keys, naming the key and its JSON Pointer path', () => {
    const e = expectCode('{"a":[{"x":1},{"b/c":1,"b/c":2}]}', 'E_JSON_DUPLICATE_KEY');
    expect(e.details).toMatchObject({ key: 'b/c', path: '/a/1/b~1c' });
    expect(e.message).toContain('"b/c"');
  });

  it('duplicate keys spelled differently (escapes decode to the same key)', () => {
    const e = expectCode('{"amount":"1","\\u0061mount":"1000000"}', 'E_JSON_DUPLICATE_KEY');
    expect(e.details).toMatchObject({ key: 'amount', path: '/amount' });
  });

  it.each(['__proto__', 'constructor', 'prototype', '__\\u0070roto__'])('forbidden key %s', (key) => {
    const e = expectCode(`{"ok":{"${key}":{"isAdmin":true}}}`, 'E_JSON_FORBIDDEN_KEY');
    expect(e.details.path).toMatch(/^\/ok\//);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('rejects non-string input', () => {
    expect(() => parseStrictJson(42 as unknown as string)).toThrowError(StrongroomError);
  });
});
