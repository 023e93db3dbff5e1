import { describe, expect, it } from 'vitest';
import { Interface, id } from 'ethers';
import { decodeCalldata, SELECTORS } from './calldata.ts';

const A = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const B = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';
const iface = new Interface([
  'function transfer(address,uint256)',
  'function approve(address,uint256)',
  'function transferFrom(address,address,uint256)',
  'function mint(address,uint256)',
  'function setOwner(address)',
]);
const ALL = ['transfer', 'approve', 'transferFrom', 'mint'] as const;

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe('decodeCalldata', () => {
  it('selectors are the keccak of the signatures', () => {
    expect(SELECTORS.transfer).toBe(id('transfer(address,uint256)').slice(0, 10));
    expect(SELECTORS.approve).toBe(id('approve(address,uint256)').slice(0, 10));
    expect(SELECTORS.transferFrom).toBe(id('transferFrom(address,address,uint256)').slice(0, 10));
    expect(SELECTORS.mint).toBe(id('mint(address,uint256)').slice(0, 10));
  });

  it('decodes the four calls', () => {
    expect(decodeCalldata(iface.encodeFunctionData('transfer', [A, 7n]), ALL)).toEqual({
      name: 'transfer',
      to: A,
      amount: 7n,
    });
    expect(decodeCalldata(iface.encodeFunctionData('approve', [B, 2n ** 256n - 1n]), ALL)).toEqual({
      name: 'approve',
      spender: B,
      amount: 2n ** 256n - 1n,
    });
    expect(decodeCalldata(iface.encodeFunctionData('transferFrom', [A, B, 1n]), ALL)).toEqual({
      name: 'transferFrom',
      from: A,
      to: B,
      amount: 1n,
    });
    expect(decodeCalldata(iface.encodeFunctionData('mint', [B, 9n]), ALL)).toEqual({
      name: 'mint',
      to: B,
      amount: 9n,
    });
  });

  it('refuses calls outside the allow-list and unknown selectors with E_POLICY_DENIED', () => {
    expect(codeOf(() => decodeCalldata(iface.encodeFunctionData('approve', [B, 1n]), ['transfer']))).toBe(
      'E_POLICY_DENIED',
    );
    expect(codeOf(() => decodeCalldata(iface.encodeFunctionData('setOwner', [B]), ALL))).toBe(
      'E_POLICY_DENIED',
    );
  });

  it('refuses non-canonical or malformed calldata', () => {
    const good = iface.encodeFunctionData('transfer', [A, 7n]);
    expect(codeOf(() => decodeCalldata(good + '00', ALL))).toBe('E_VALIDATION'); // trailing bytes
    const dirty = good.slice(0, 10) + 'ff' + good.slice(12); // non-zero address padding
    expect(codeOf(() => decodeCalldata(dirty, ALL))).toBe('E_VALIDATION');
    expect(codeOf(() => decodeCalldata(good.slice(0, 40), ALL))).toBe('E_VALIDATION');
    expect(codeOf(() => decodeCalldata('0x12', ALL))).toBe('E_VALIDATION');
  });
});
