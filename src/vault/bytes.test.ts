import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex, wipe } from './bytes.ts';

describe('bytes', () => {
  it('wipes every array and skips undefined', () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array([4, 5]);
    wipe(a, undefined, b, null);
    expect([...a, ...b]).toEqual([0, 0, 0, 0, 0]);
  });

  it('compares equal and unequal arrays', () => {
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('round-trips hex and base64 and returns plain Uint8Arrays', () => {
    const bytes = new Uint8Array([0, 1, 0xab, 0xff]);
    expect(toHex(bytes)).toBe('0001abff');
    expect(fromHex('0001ABFF')).toEqual(bytes);
    expect(toBase64(bytes)).toBe('AAGr/w==');
    const back = fromBase64('AAGr/w==');
    expect(back).toEqual(bytes);
    expect(Buffer.isBuffer(back)).toBe(false);
    expect(concatBytes(bytes, new Uint8Array([7]))).toEqual(new Uint8Array([0, 1, 0xab, 0xff, 7]));
  });

  it('refuses malformed hex and base64 naming the parameter', () => {
    expect(() => fromHex('abc', 'seed')).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION', details: { parameter: 'seed' } }),
    );
    expect(() => fromHex('zz')).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => fromBase64('AAGr/w')).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => fromBase64('AA Gr/w==')).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});
