import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import vectors from './rfc6979-secp256k1.json' with { type: 'json' };
import { ecdsaSignDigest, ecdsaVerifyDigest, nativeSecp256k1Available, publicKeyOf } from '../../src/vault/signers/libsecp256k1.ts';

const N = secp256k1.Point.CURVE().n;

describe('RFC 6979 deterministic ECDSA on secp256k1: native libsecp256k1 vs @noble/curves', () => {
  it('uses the native addon, not the elliptic fallback', () => expect(nativeSecp256k1Available()).toBe(true));

  for (const v of vectors.vectors) {
    it(`key ${v.privateKey.slice(0, 8)}…, "${v.message.slice(0, 24)}"`, () => {
      const priv = hexToBytes(v.privateKey);
      const digest = sha256(new TextEncoder().encode(v.message));
      const native = ecdsaSignDigest(digest, priv);
      const noble = secp256k1.sign(digest, priv, { prehash: false, lowS: true, format: 'recovered' });
      expect(bytesToHex(native.signature)).toBe(v.signatureCompact);
      // noble 'recovered' format: recovery byte first, then r || s
      expect(bytesToHex(noble.subarray(1))).toBe(v.signatureCompact);
      expect(noble[0]).toBe(native.recid);
      expect(bytesToHex(secp256k1.Signature.fromBytes(native.signature, 'compact').toBytes('der'))).toBe(v.signatureDer);
      const s = BigInt('0x' + v.signatureCompact.slice(64));
      expect(s <= N / 2n).toBe(true); // low-S
      expect(ecdsaVerifyDigest(native.signature, digest, publicKeyOf(priv))).toBe(true);
    });
  }

  it('refuses an invalid private key with E_KEY_MATERIAL_INVALID', () => {
    expect(() => ecdsaSignDigest(new Uint8Array(32), new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }));
    expect(() => ecdsaSignDigest(new Uint8Array(31), new Uint8Array(32).fill(1))).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});
