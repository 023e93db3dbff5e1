import { describe, expect, it } from 'vitest';
import { addressBody, assertNotLookalike } from './lookalike.ts';

const BOOK = [
  { address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94', label: 'ops hot wallet' },
  { address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', label: 'exchange deposit' },
];

function codeOf(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe('assertNotLookalike', () => {
  it('passes the entry itself, in any case', () => {
    expect(codeOf(() => assertNotLookalike('0x9858effd232b4033e47d90003d41ec34ecaeda94', BOOK))).toBe('ok');
    expect(codeOf(() => assertNotLookalike('BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU', BOOK))).toBe('ok');
  });

  it('refuses same first and last 4 (EVM, case-insensitive), naming the entry', () => {
    const poison = '0x9858' + 'a'.repeat(32) + 'da94';
    expect(codeOf(() => assertNotLookalike(poison, BOOK))).toBe('E_ADDRESS_LOOKALIKE');
    expect(codeOf(() => assertNotLookalike(poison.toUpperCase().replace('0X', '0x'), BOOK))).toBe(
      'E_ADDRESS_LOOKALIKE',
    );
    try {
      assertNotLookalike(poison, BOOK);
    } catch (e) {
      expect((e as { details: Record<string, unknown> }).details).toMatchObject({
        lookalikeOf: BOOK[0]!.address,
        label: 'ops hot wallet',
      });
    }
  });

  it('refuses a bech32 look-alike (compared after "bc1")', () => {
    const poison = 'bc1qcr8t' + 'x'.repeat(30) + '6fyu';
    expect(codeOf(() => assertNotLookalike(poison, BOOK))).toBe('E_ADDRESS_LOOKALIKE');
  });

  it('lets through addresses that share only one end, or fewer than 4 characters', () => {
    expect(codeOf(() => assertNotLookalike('0x9858' + 'a'.repeat(34), BOOK))).toBe('ok');
    expect(codeOf(() => assertNotLookalike('0x' + 'a'.repeat(36) + 'da94', BOOK))).toBe('ok');
    expect(codeOf(() => assertNotLookalike('0x985' + 'a'.repeat(34) + 'a94', BOOK))).toBe('ok');
  });

  it('a longer affix is stricter', () => {
    const poison = '0x9858' + 'a'.repeat(32) + 'da94';
    expect(codeOf(() => assertNotLookalike(poison, BOOK, 5))).toBe('ok');
    expect(codeOf(() => assertNotLookalike(poison, BOOK, 3))).toBe('E_VALIDATION');
  });

  it('strips prefixes', () => {
    expect(addressBody('0xABcd')).toBe('abcd');
    expect(addressBody('bcrt1qxyz')).toBe('qxyz');
    expect(addressBody('rb1pacd')).toBe('pacd');
  });
});
