import { describe, expect, it } from 'vitest';
import { bech32, bech32m } from '@scure/base';
import { bytesToHex } from '@noble/hashes/utils.js';
import { addressFromScript, parseBitcoinAddress, type AddressInvalidReason } from './address.ts';
import type { BitcoinNetworkName } from './network.ts';

const P2WPKH = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu'; // BIP84 vector
const P2TR = 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr'; // BIP86 vector

function reason(address: unknown, network: BitcoinNetworkName = 'mainnet'): AddressInvalidReason | 'valid' {
  try {
    parseBitcoinAddress(address, network);
    return 'valid';
  } catch (e) {
    expect(e).toMatchObject({ code: 'E_ADDRESS_INVALID' });
    return (e as { details: { reason: AddressInvalidReason } }).details.reason;
  }
}

const prog = (n: number) => new Uint8Array(n).fill(7);
const enc = (variant: 'bech32' | 'bech32m', hrp: string, version: number, program: Uint8Array) =>
  (variant === 'bech32' ? bech32 : bech32m).encode(hrp, [version, ...bech32.toWords(program)]);

describe('parseBitcoinAddress', () => {
  it('accepts P2WPKH, P2TR, upper case, and gives the script', () => {
    expect(parseBitcoinAddress(P2WPKH, 'mainnet')).toMatchObject({ type: 'p2wpkh', witnessVersion: 0 });
    expect(parseBitcoinAddress(P2TR.toUpperCase(), 'mainnet')).toMatchObject({ type: 'p2tr', address: P2TR });
    expect(bytesToHex(parseBitcoinAddress(P2WPKH, 'mainnet').script)).toBe(
      '0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2',
    );
    expect(parseBitcoinAddress(enc('bech32', 'bc', 0, prog(32)), 'mainnet').type).toBe('p2wsh');
    expect(parseBitcoinAddress(enc('bech32m', 'bc', 2, prog(16)), 'mainnet').type).toBe('witness-unknown');
  });

  it('knows each network by its hrp, including bcoin regtest "rb"', () => {
    for (const [net, hrp] of [
      ['testnet', 'tb'],
      ['regtest', 'bcrt'],
      ['regtest-bcoin', 'rb'],
    ] as const) {
      const a = enc('bech32', hrp, 0, prog(20));
      expect(parseBitcoinAddress(a, net).network).toBe(net);
      expect(reason(a, 'mainnet')).toBe('network-mismatch');
    }
    expect(reason(P2WPKH, 'regtest')).toBe('network-mismatch');
    expect(reason(enc('bech32', 'bcrt', 0, prog(20)), 'regtest-bcoin')).toBe('network-mismatch');
  });

  it('refuses with a typed reason', () => {
    const flipped = P2WPKH.slice(0, -1) + (P2WPKH.endsWith('u') ? 'q' : 'u');
    expect(reason(flipped)).toBe('checksum');
    expect(reason(P2WPKH.slice(0, 10) + P2WPKH.slice(10).toUpperCase())).toBe('mixed-case');
    expect(reason(enc('bech32m', 'bc', 0, prog(20)))).toBe('wrong-checksum-variant'); // v0 must be bech32
    expect(reason(enc('bech32', 'bc', 1, prog(32)))).toBe('wrong-checksum-variant'); // v1+ must be bech32m
    expect(reason(enc('bech32', 'bc', 0, prog(21)))).toBe('program-length');
    expect(reason(enc('bech32m', 'bc', 1, prog(1)))).toBe('program-length');
    expect(reason(enc('bech32m', 'bc', 1, prog(41)))).toBe('program-length');
    expect(reason(bech32m.encode('bc', [17, ...bech32.toWords(prog(32))]))).toBe('witness-version');
    expect(reason('bc1' + 'q'.repeat(90))).toBe('too-long');
    expect(reason('')).toBe('empty');
    expect(reason(42)).toBe('not-a-string');
    expect(reason('hello world')).toBe('unrecognized');
  });

  it('base58: P2PKH/P2SH with the network version byte only', () => {
    expect(parseBitcoinAddress('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', 'mainnet').type).toBe('p2pkh');
    expect(parseBitcoinAddress('3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy', 'mainnet').type).toBe('p2sh');
    expect(reason('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', 'testnet')).toBe('base58-version');
    expect(reason('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3')).toBe('checksum');
  });

  it('addressFromScript is the inverse of parse', () => {
    for (const a of [
      P2WPKH,
      P2TR,
      '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
      '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
    ]) {
      expect(addressFromScript(parseBitcoinAddress(a, 'mainnet').script, 'mainnet')).toBe(a);
    }
    expect(addressFromScript(new Uint8Array([0x6a, 0x01, 0x00]), 'mainnet')).toBeUndefined();
  });
});
