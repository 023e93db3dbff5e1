import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatAmount, parseAmount } from './amount.ts';

describe('parseAmount', () => {
  it('parses decimal strings into base units', () => {
    expect(parseAmount('1.5', 8)).toBe(150_000_000n);
    expect(parseAmount('0.00000001', 8)).toBe(1n);
    expect(parseAmount('0', 18)).toBe(0n);
    expect(parseAmount('12', 0)).toBe(12n);
  });
  it.each([
    [1.5, 'E_AMOUNT_NOT_STRING'],
    [null, 'E_AMOUNT_NOT_STRING'],
    ['-1', 'E_AMOUNT_NEGATIVE'],
    ['1.123456789', 'E_AMOUNT_TOO_PRECISE'],
    ['1e8', 'E_AMOUNT_INVALID'],
    ['+1', 'E_AMOUNT_INVALID'],
    [' 1', 'E_AMOUNT_INVALID'],
    ['01', 'E_AMOUNT_INVALID'],
    ['1.', 'E_AMOUNT_INVALID'],
    ['.5', 'E_AMOUNT_INVALID'],
    ['0x10', 'E_AMOUNT_INVALID'],
    ['1'.repeat(80), 'E_AMOUNT_INVALID'],
  ])('refuses %j with %s', (value, code) => {
    expect(() => parseAmount(value, 8)).toThrowError(expect.objectContaining({ code }));
  });
  it('round-trips through formatAmount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.integer({ min: 0, max: 18 }),
        (units, decimals) => {
          expect(parseAmount(formatAmount(units, decimals), decimals)).toBe(units);
        },
      ),
    );
  });
});
