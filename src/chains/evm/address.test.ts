import { describe, expect, it } from 'vitest';
import { getAddress } from 'ethers';
import { parseEvmAddress, toChecksumAddress } from './address.ts';

// EIP-55 examples from the EIP itself.
const EIP55 = [
  '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
  '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
  '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
  '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
];

function reasonOf(a: unknown): string {
  try {
    parseEvmAddress(a);
    return 'valid';
  } catch (e) {
    expect(e).toMatchObject({ code: 'E_ADDRESS_INVALID' });
    return (e as { details: { reason: string } }).details.reason;
  }
}

describe('EIP-55', () => {
  it('encodes the EIP examples, agreeing with ethers', () => {
    for (const a of EIP55) {
      expect(toChecksumAddress(a.toLowerCase())).toBe(a);
      expect(getAddress(a.toLowerCase())).toBe(a);
    }
  });

  it('accepts all-lower and all-upper, refuses a bad mixed-case checksum', () => {
    for (const a of EIP55) {
      expect(parseEvmAddress(a)).toBe(a);
      expect(parseEvmAddress(a.toLowerCase())).toBe(a);
      expect(parseEvmAddress('0x' + a.slice(2).toUpperCase())).toBe(a);
      // flip the case of one letter: still mixed case, checksum now wrong
      const i = [...a].findIndex((c, k) => k > 1 && /[a-f]/i.test(c));
      const c = a[i]!;
      const bad =
        a.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + a.slice(i + 1);
      expect(reasonOf(bad)).toBe('checksum');
    }
  });

  it('refuses malformed and zero addresses', () => {
    expect(reasonOf('0x1234')).toBe('format');
    expect(reasonOf('5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed')).toBe('format');
    expect(reasonOf('0x' + 'g'.repeat(40))).toBe('format');
    expect(reasonOf(null)).toBe('not-a-string');
    expect(reasonOf('0x' + '0'.repeat(40))).toBe('zero-address');
  });
});
