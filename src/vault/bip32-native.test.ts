import { HDKey } from '@scure/bip32';
import { hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../../test/vectors/bip32.json' with { type: 'json' };
import {
  HARDENED,
  childPrivate,
  childPublic,
  derivePrivatePath,
  masterNodeFromSeed,
  neuter,
  privateNode,
  serializeXpub,
  wipeNode,
  type PrivateNode,
} from './bip32-native.ts';
import { accountXpubs, masterFromSeed, parsePath } from './hd.ts';

const XPUB = 0x0488b21e;
const hex = (b: Uint8Array | null | undefined) => Buffer.from(b!).toString('hex');

function xpubOf(node: PrivateNode): string {
  return serializeXpub(neuter(node), XPUB);
}

describe('native BIP32 (libsecp256k1 + node:crypto) against the vectors', () => {
  vectors.vectors.forEach((v, n) => {
    it(`vector ${n + 1}: every chain's xpub, private key and chain code`, () => {
      const master = masterNodeFromSeed(hexToBytes(v.seed));
      for (const c of v.chains) {
        const node = c.path === 'm' ? master : derivePrivatePath(master, parsePath(c.path));
        const expected = HDKey.fromExtendedKey(c.xprv);
        expect(xpubOf(node), c.path).toBe(c.xpub);
        expect(hex(node.privateKey), c.path).toBe(hex(expected.privateKey));
        expect(hex(node.chainCode), c.path).toBe(hex(expected.chainCode));
        expect(node.parentFingerprint, c.path).toBe(expected.parentFingerprint);
        if (node !== master) wipeNode(node);
      }
    });

    it(`vector ${n + 1}: CKDpub of each non-hardened step equals the vector`, () => {
      for (let i = 1; i < v.chains.length; i++) {
        const step = v.chains[i]!.path.split('/').pop()!;
        if (step.endsWith("'") || step.endsWith('h')) continue;
        const parent = HDKey.fromExtendedKey(v.chains[i - 1]!.xpub);
        const child = childPublic(
          { depth: parent.depth, index: parent.index, parentFingerprint: parent.parentFingerprint, chainCode: parent.chainCode!, publicKey: parent.publicKey! },
          Number(step),
        );
        expect(serializeXpub(child, XPUB)).toBe(v.chains[i]!.xpub);
      }
    });
  });

  it('refuses bad seeds, hardened CKDpub and bad indices with typed errors; derivation leaves the parent intact', () => {
    expect(() => masterNodeFromSeed(new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
    expect(() => privateNode({ depth: 0, index: 0, parentFingerprint: 0, chainCode: new Uint8Array(32), privateKey: new Uint8Array(32) })).toThrow(
      expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }),
    );
    const master = masterNodeFromSeed(new Uint8Array(32).fill(7));
    const before = hex(master.privateKey) + hex(master.chainCode);
    expect(() => childPublic(neuter(master), HARDENED)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => childPrivate(master, -1)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => derivePrivatePath(master, [])).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    wipeNode(derivePrivatePath(master, [HARDENED + 44, HARDENED, 5]));
    expect(hex(master.privateKey) + hex(master.chainCode)).toBe(before);
    wipeNode(master);
    expect(hex(master.privateKey)).toBe('00'.repeat(32));
  });

  it('property: native derivation equals @scure/bip32 for random seeds and paths (private and public)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: HARDENED - 1 }), fc.boolean()), { minLength: 1, maxLength: 5 }),
        (seed, steps) => {
          const indices = steps.map(([i, h]) => (h ? i + HARDENED : i));
          const reference = HDKey.fromMasterSeed(seed);
          const path = 'm/' + steps.map(([i, h]) => `${i}${h ? "'" : ''}`).join('/');
          const expected = reference.derive(path);
          const master = masterNodeFromSeed(seed);
          const node = derivePrivatePath(master, indices);
          expect(hex(node.privateKey)).toBe(hex(expected.privateKey));
          expect(xpubOf(node)).toBe(expected.publicExtendedKey);
          // CKDpub from the deepest hardened ancestor's xpub reaches the same public key.
          const lastHardened = indices.findLastIndex((i) => i >= HARDENED);
          let pub = lastHardened < 0 ? neuter(master) : neuter(derivePrivatePath(master, indices.slice(0, lastHardened + 1)));
          for (const i of indices.slice(lastHardened + 1)) pub = childPublic(pub, i);
          expect(serializeXpub(pub, XPUB)).toBe(expected.publicExtendedKey);
          wipeNode(node);
          wipeNode(master);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: accountXpubs (native underneath) equals a pure @scure/bip32 derivation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.integer({ min: 0, max: 100 }), (seed, account) => {
        const ref = HDKey.fromMasterSeed(seed);
        const x = accountXpubs(masterFromSeed(seed), 'mainnet', account);
        expect(x.bip84.xpub).toBe(ref.derive(`m/84'/0'/${account}'`).publicExtendedKey);
        expect(x.bip86.xpub).toBe(ref.derive(`m/86'/0'/${account}'`).publicExtendedKey);
        expect(x.bip44eth.xpub).toBe(ref.derive(`m/44'/60'/${account}'`).publicExtendedKey);
        expect(x.masterFingerprint).toBe(ref.fingerprint.toString(16).padStart(8, '0'));
      }),
      { numRuns: 30 },
    );
  });
});
