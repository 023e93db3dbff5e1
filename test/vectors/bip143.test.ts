import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction } from '@scure/btc-signer';
import vectors from './bip143.json' with { type: 'json' };
import { ecdsaSignDigest, ecdsaVerifyDigest, publicKeyOf } from '../../src/vault/signers/libsecp256k1.ts';

describe('BIP143 native P2WPKH example', () => {
  const v = vectors.nativeP2wpkh;

  it('sighash of input 1 (SIGHASH_ALL) through @scure/btc-signer', () => {
    const tx = Transaction.fromRaw(hexToBytes(v.unsignedTx), { allowUnknownOutputs: true, disableScriptCheck: true });
    // BIP143's scriptCode for P2WPKH is the P2PKH script of the key hash (without its length byte here)
    const scriptCode = hexToBytes(v.scriptCode).subarray(1);
    const sighash = tx.preimageWitnessV0(v.inputIndex, scriptCode, v.hashType, BigInt(v.amountSats));
    expect(bytesToHex(sighash)).toBe(v.sigHash);
  });

  it('the published signature verifies; libsecp256k1 and noble produce the same RFC 6979 signature', () => {
    const priv = hexToBytes(v.privateKey);
    const digest = hexToBytes(v.sigHash);
    expect(bytesToHex(publicKeyOf(priv))).toBe(v.publicKey);
    const published = secp256k1.Signature.fromBytes(hexToBytes(v.signatureDer), 'der').toBytes('compact');
    expect(ecdsaVerifyDigest(published, digest, hexToBytes(v.publicKey))).toBe(true);
    const native = ecdsaSignDigest(digest, priv).signature;
    const noble = secp256k1.sign(digest, priv, { prehash: false, lowS: true });
    expect(bytesToHex(native)).toBe(bytesToHex(noble));
    expect(bytesToHex(native)).toBe(bytesToHex(published));
  });
});
