import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { entropyToMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import vectors from './bip39.json' with { type: 'json' };
import { generateMnemonic, masterFromSeed, seedFromMnemonic, wipeKey } from '../../src/vault/hd.ts';

describe('BIP39 TREZOR vectors (passphrase "TREZOR")', () => {
  it('has at least 8 entries', () => expect(vectors.vectors.length).toBeGreaterThanOrEqual(8));

  for (const v of vectors.vectors) {
    it(`${v.mnemonic.split(' ').slice(0, 3).join(' ')}… (${v.mnemonic.split(' ').length} words)`, () => {
      expect(entropyToMnemonic(hexToBytes(v.entropy), wordlist)).toBe(v.mnemonic);
      const seed = seedFromMnemonic(v.mnemonic, vectors.passphrase);
      expect(bytesToHex(seed)).toBe(v.seed);
      const master = masterFromSeed(seed);
      expect(master.privateExtendedKey).toBe(v.xprv);
      wipeKey(master);
      seed.fill(0);
    });
  }

  for (const bad of vectors.invalid) {
    it(`refuses a mnemonic with ${bad.why}`, () => {
      let err: unknown;
      try {
        seedFromMnemonic(bad.mnemonic);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'E_KEY_MATERIAL_INVALID' });
      // the words are the key: they must not appear in the error
      if (bad.mnemonic) expect(JSON.stringify(err) + String((err as Error).message)).not.toContain(bad.mnemonic);
    });
  }

  it('generates valid mnemonics of each strength', () => {
    for (const [strength, words] of [[128, 12], [160, 15], [192, 18], [224, 21], [256, 24]] as const) {
      const m = generateMnemonic(strength);
      expect(m.split(' ')).toHaveLength(words);
      seedFromMnemonic(m).fill(0);
    }
    expect(() => generateMnemonic(100 as 128)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});
