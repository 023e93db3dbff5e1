import { describe, expect, it } from 'vitest';
import { HDNodeWallet, Mnemonic } from 'ethers';
import vectors from './bip44-eth.json' with { type: 'json' };
import { accountXpubs, derivePrivateKey, masterFromSeed, seedFromMnemonic, wipeKey } from '../../src/vault/hd.ts';
import { addressFromPublicKey, deriveEvmAddress } from '../../src/chains/evm/address.ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';

describe('BIP44 Ethereum (m/44\'/60\'/0\'/0/i)', () => {
  const seed = seedFromMnemonic(vectors.mnemonic);
  const master = masterFromSeed(seed);
  seed.fill(0);
  const xpubs = accountXpubs(master, 'mainnet');

  for (const a of vectors.addresses) {
    it(`${a.path} → ${a.address}`, () => {
      expect(xpubs.bip44eth.path).toBe(vectors.account.path);
      expect(deriveEvmAddress(xpubs.bip44eth.xpub, a.index).address).toBe(a.address);
      // vault side: same address from the private key
      const priv = derivePrivateKey(master, a.path);
      expect(addressFromPublicKey(secp256k1.getPublicKey(priv))).toBe(a.address);
      priv.fill(0);
      // independent implementation
      expect(HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(vectors.mnemonic), a.path).address).toBe(a.address);
    });
  }

  it('derives the same first 5 addresses as ethers', () => {
    for (let i = 0; i < 5; i++) {
      const path = `m/44'/60'/0'/0/${i}`;
      expect(deriveEvmAddress(xpubs.bip44eth.xpub, i).address).toBe(HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(vectors.mnemonic), path).address);
    }
    wipeKey(master);
  });
});
