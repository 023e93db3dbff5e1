import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  accountPaths,
  accountXpubs,
  derivePrivateKey,
  derivePublicKey,
  formatPath,
  masterFromSeed,
  parsePath,
  seedFromMnemonic,
  wipeKey,
} from './hd.ts';

const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe('hd', () => {
  it('normalises whitespace and case of a mnemonic but not its words', () => {
    const a = seedFromMnemonic(MNEMONIC);
    const b = seedFromMnemonic(`  ${MNEMONIC.toUpperCase().replace(/ /g, '\n ')} `);
    expect(bytesToHex(a)).toBe(bytesToHex(b));
    expect(codeOf(() => seedFromMnemonic(MNEMONIC.replace('about', 'abound')))).toBe(
      'E_KEY_MATERIAL_INVALID',
    );
    expect(codeOf(() => seedFromMnemonic(42))).toBe('E_KEY_MATERIAL_INVALID');
  });

  it('passphrase changes the seed', () => {
    expect(bytesToHex(seedFromMnemonic(MNEMONIC, 'x'))).not.toBe(bytesToHex(seedFromMnemonic(MNEMONIC)));
  });

  it('account paths per network', () => {
    expect(accountPaths('mainnet')).toEqual({
      bip84: "m/84'/0'/0'",
      bip86: "m/86'/0'/0'",
      bip44eth: "m/44'/60'/0'",
    });
    expect(accountPaths('testnet', 2)).toEqual({
      bip84: "m/84'/1'/2'",
      bip86: "m/86'/1'/2'",
      bip44eth: "m/44'/60'/2'",
    });
    expect(accountPaths('regtest-bcoin').bip84).toBe("m/84'/1'/0'");
  });

  it('account xpubs carry no private key, even through JSON', () => {
    const master = masterFromSeed(seedFromMnemonic(MNEMONIC), 'testnet');
    const x = accountXpubs(master, 'testnet');
    const json = JSON.stringify(x);
    expect(json).not.toContain(master.privateExtendedKey);
    expect(json).not.toMatch(/[xt]prv/);
    expect(x.bip84.xpub.startsWith('tpub')).toBe(true);
    expect(x.bip44eth.xpub.startsWith('xpub')).toBe(true);
  });

  it('derivePrivateKey returns a copy the caller can wipe; the master survives', () => {
    const master = masterFromSeed(seedFromMnemonic(MNEMONIC));
    const k1 = derivePrivateKey(master, "m/44'/60'/0'/0/0");
    const hex = bytesToHex(k1);
    k1.fill(0);
    expect(bytesToHex(derivePrivateKey(master, "m/44'/60'/0'/0/0"))).toBe(hex);
    expect(derivePublicKey(master, "m/84'/0'/0'/0/0")).toHaveLength(33);
  });

  it('refuses the empty path (it would hand out the master) and malformed paths', () => {
    const master = masterFromSeed(seedFromMnemonic(MNEMONIC));
    expect(codeOf(() => derivePrivateKey(master, 'm'))).toBe('E_VALIDATION');
    expect(codeOf(() => derivePrivateKey(master, "m/84'/x"))).toBe('E_VALIDATION');
    expect(codeOf(() => derivePrivateKey(master, 'm/2147483648'))).toBe('E_VALIDATION');
    expect(master.privateKey).not.toBeNull();
  });

  it('a wiped master refuses every operation', () => {
    const master = masterFromSeed(seedFromMnemonic(MNEMONIC));
    wipeKey(master);
    expect(master.privateKey).toBeNull();
    expect(codeOf(() => derivePrivateKey(master, "m/44'/60'/0'/0/0"))).toBe('E_KEY_MATERIAL_INVALID');
    expect(codeOf(() => accountXpubs(master))).toBe('E_KEY_MATERIAL_INVALID');
  });

  it('parsePath / formatPath round-trip', () => {
    expect(parsePath("m/86'/1'/0'/1/5")).toEqual([0x80000056, 0x80000001, 0x80000000, 1, 5]);
    expect(formatPath(parsePath("m/86h/1'/0'/1/5"))).toBe("m/86'/1'/0'/1/5");
  });
});
