import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import vectors from './bip84.json' with { type: 'json' };
import { accountXpubs, derivePublicKey, masterFromSeed, seedFromMnemonic, wipeKey } from '../../src/vault/hd.ts';
import { deriveP2wpkhAddress, parseBitcoinAddress } from '../../src/chains/bitcoin/address.ts';

describe('BIP84 test vectors (P2WPKH)', () => {
  const seed = seedFromMnemonic(vectors.mnemonic);
  const master = masterFromSeed(seed);
  const xpubs = accountXpubs(master, 'mainnet');
  const zVersions = vectors.zprvVersions;

  it('root and account keys match (zprv re-encoded)', () => {
    const root = HDKey.fromExtendedKey(vectors.rootnode, zVersions);
    expect(bytesToHex(root.publicKey!)).toBe(bytesToHex(master.publicKey!));
    const account = HDKey.fromExtendedKey(vectors.account.xprv, zVersions);
    const ours = HDKey.fromExtendedKey(xpubs.bip84.xpub);
    expect(xpubs.bip84.path).toBe(vectors.account.path);
    expect(bytesToHex(ours.publicKey!)).toBe(bytesToHex(account.publicKey!));
    expect(bytesToHex(ours.chainCode!)).toBe(bytesToHex(account.chainCode!));
    expect(ours.privateKey).toBeNull();
  });

  for (const a of vectors.addresses) {
    it(`${a.path} → ${a.address}`, () => {
      const d = deriveP2wpkhAddress(xpubs.bip84.xpub, 'mainnet', a.change, a.index);
      expect(d.address).toBe(a.address);
      expect(bytesToHex(d.publicKey)).toBe(a.pubkey);
      // the vault derives the same key from the master along the absolute path
      expect(bytesToHex(derivePublicKey(master, a.path))).toBe(a.pubkey);
      expect(parseBitcoinAddress(a.address, 'mainnet').type).toBe('p2wpkh');
    });
  }

  it('uses coin type 1 and tpub on test networks', () => {
    const t = accountXpubs(master, 'regtest');
    expect(t.bip84.path).toBe("m/84'/1'/0'");
    expect(t.bip84.xpub.startsWith('tpub')).toBe(true);
    expect(deriveP2wpkhAddress(t.bip84.xpub, 'regtest', 0, 0).address.startsWith('bcrt1q')).toBe(true);
    expect(deriveP2wpkhAddress(t.bip84.xpub, 'regtest-bcoin', 0, 0).address.startsWith('rb1q')).toBe(true);
    expect(deriveP2wpkhAddress(t.bip84.xpub, 'testnet', 0, 0).address.startsWith('tb1q')).toBe(true);
    expect(() => deriveP2wpkhAddress(t.bip84.xpub, 'mainnet', 0, 0)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });

  it('account xpubs are public data only', () => {
    const json = JSON.stringify(xpubs);
    expect(json).not.toMatch(/[xt]prv/);
    expect(xpubs.masterFingerprint).toBe('73c5da0a');
    wipeKey(master);
    seed.fill(0);
  });
});
