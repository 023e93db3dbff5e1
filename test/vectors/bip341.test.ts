import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { p2tr, Transaction } from '@scure/btc-signer';
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js';
// Official BIP341 wallet vectors, copied verbatim from /work/shared/vectors.
import vectors from './bip341-wallet-test-vectors.json' with { type: 'json' };

describe('BIP341 wallet test vectors', () => {
  describe('scriptPubKey (key-path only entries: tweaked output key and bech32m address)', () => {
    for (const [i, v] of vectors.scriptPubKey.entries()) {
      if (v.given.scriptTree !== null) continue;
      it(`#${i}`, () => {
        const pay = p2tr(hexToBytes(v.given.internalPubkey));
        expect(bytesToHex(pay.tweakedPubkey)).toBe(v.intermediary.tweakedPubkey);
        expect(bytesToHex(pay.script)).toBe(v.expected.scriptPubKey);
        expect(pay.address).toBe(v.expected.bip350Address);
      });
    }
  });

  describe('keyPathSpending', () => {
    const k = vectors.keyPathSpending[0]!;
    const tx = Transaction.fromRaw(hexToBytes(k.given.rawUnsignedTx), { allowUnknownOutputs: true, disableScriptCheck: true });
    const scripts = k.given.utxosSpent.map((u) => hexToBytes(u.scriptPubKey));
    const amounts = k.given.utxosSpent.map((u) => BigInt(u.amountSats));

    for (const s of k.inputSpending) {
      it(`input ${s.given.txinIndex}, hashType ${s.given.hashType}: tweaked key, sighash, signature`, () => {
        const merkleRoot = s.given.merkleRoot === null ? undefined : hexToBytes(s.given.merkleRoot);
        const tweaked = taprootTweakPrivKey(hexToBytes(s.given.internalPrivkey), merkleRoot);
        expect(bytesToHex(tweaked)).toBe(s.intermediary.tweakedPrivkey);
        const sighash = tx.preimageWitnessV1(s.given.txinIndex, scripts, s.given.hashType, amounts);
        expect(bytesToHex(sighash)).toBe(s.intermediary.sigHash);
        // BIP341 vectors sign with all-zero aux randomness; hashType 0 (DEFAULT) adds no trailing byte.
        const sig = schnorr.sign(sighash, tweaked, new Uint8Array(32));
        const suffix = s.given.hashType === 0 ? '' : s.given.hashType.toString(16).padStart(2, '0');
        expect(bytesToHex(sig) + suffix).toBe(s.expected.witness[0]);
        tweaked.fill(0);
      });
    }
  });
});
