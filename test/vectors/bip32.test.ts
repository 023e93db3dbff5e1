import { describe, expect, it } from 'vitest';
import { hexToBytes } from '@noble/hashes/utils.js';
import vectors from './bip32.json' with { type: 'json' };
import { HDKey } from '@scure/bip32';
import { masterFromSeed, masterFromXprv, wipeKey } from '../../src/vault/hd.ts';

// Serialise the key at `path` both ways; the test vectors give both.
function at(master: HDKey, path: string): { xpub: string; xprv: string } {
  const k = path === 'm' ? master : master.derive(path);
  return { xpub: k.publicExtendedKey, xprv: k.privateExtendedKey };
}

describe('BIP32 test vectors 1-3', () => {
  vectors.vectors.forEach((v, n) => {
    describe(`vector ${n + 1}`, () => {
      it('derives every chain from the seed (masterFromSeed)', () => {
        const seed = hexToBytes(v.seed);
        const master = masterFromSeed(seed);
        for (const c of v.chains) expect(at(master, c.path), c.path).toEqual({ xpub: c.xpub, xprv: c.xprv });
        wipeKey(master);
      });

      it('derives every chain from the imported master xprv (masterFromXprv)', () => {
        const master = masterFromXprv(v.chains[0]!.xprv);
        for (const c of v.chains) expect(at(master, c.path), c.path).toEqual({ xpub: c.xpub, xprv: c.xprv });
        wipeKey(master);
      });
    });
  });

  it('refuses a non-master xprv and an xpub with E_KEY_MATERIAL_INVALID', () => {
    const child = vectors.vectors[0]!.chains[1]!;
    expect(() => masterFromXprv(child.xprv)).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
    expect(() => masterFromXprv(child.xpub)).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
    expect(() => masterFromXprv('xprv-garbage')).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
    expect(() => masterFromSeed(new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
  });
});
