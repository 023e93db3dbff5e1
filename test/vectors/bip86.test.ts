import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import vectors from './bip86.json' with { type: 'json' };
import { accountXpubs, masterFromSeed, seedFromMnemonic, wipeKey } from '../../src/vault/hd.ts';
import { deriveP2trAddress, parseBitcoinAddress } from '../../src/chains/bitcoin/address.ts';

describe('BIP86 test vectors (P2TR key path)', () => {
  const seed = seedFromMnemonic(vectors.mnemonic);
  const master = masterFromSeed(seed);
  seed.fill(0);

  it('root and account keys', () => {
    expect(master.privateExtendedKey).toBe(vectors.rootpriv);
    expect(master.publicExtendedKey).toBe(vectors.rootpub);
    const xpubs = accountXpubs(master, 'mainnet');
    expect(xpubs.bip86).toEqual({ path: vectors.account.path, xpub: vectors.account.xpub });
  });

  for (const a of vectors.addresses) {
    it(`${a.path} → ${a.address}`, () => {
      const d = deriveP2trAddress(vectors.account.xpub, 'mainnet', a.change, a.index);
      expect(bytesToHex(d.internalKey!)).toBe(a.internalKey);
      expect(bytesToHex(d.outputKey!)).toBe(a.outputKey);
      expect(bytesToHex(d.script)).toBe(a.scriptPubKey);
      expect(d.address).toBe(a.address);
      expect(master.derive(a.path).publicExtendedKey).toBe(a.xpub);
      const parsed = parseBitcoinAddress(a.address, 'mainnet');
      expect(parsed.type).toBe('p2tr');
      expect(bytesToHex(parsed.script)).toBe(a.scriptPubKey);
    });
  }

  it('wipes', () => {
    wipeKey(master);
    expect(master.privateKey).toBeNull();
  });
});
