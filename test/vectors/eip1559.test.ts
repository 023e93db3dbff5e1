import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { Transaction, Wallet } from 'ethers';
import vectors from './eip1559.json' with { type: 'json' };
import { masterFromSeed, seedFromMnemonic, wipeKey } from '../../src/vault/hd.ts';
import { buildErc20Transfer, buildEthTransfer } from '../../src/chains/evm/tx.ts';
import { signEvmTransaction } from '../../src/vault/signers/evm-signer.ts';
import { ecdsaSignDigest } from '../../src/vault/signers/libsecp256k1.ts';

const fees = (t: (typeof vectors.vectors)[number]['tx']) => ({
  maxFeePerGas: BigInt(t.maxFeePerGas),
  maxPriorityFeePerGas: BigInt(t.maxPriorityFeePerGas),
  gasLimit: BigInt(t.gasLimit),
});

describe('EIP-1559 serialisation and signing vectors', () => {
  const priv = hexToBytes(vectors.privateKey.slice(2));

  for (const v of vectors.vectors) {
    describe(v.name, () => {
      it('the builder produces the unsigned serialisation; its keccak256 is the signing hash', () => {
        const t = v.tx;
        const built =
          t.data === '0x'
            ? buildEthTransfer({ chainId: BigInt(t.chainId), nonce: t.nonce, to: t.to, amount: BigInt(t.value), fees: fees(t) })
            : buildErc20Transfer({
                chainId: BigInt(t.chainId),
                nonce: t.nonce,
                token: t.to,
                to: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
                amount: 123_456_789n,
                fees: fees(t),
              });
        expect(built.unsignedTx).toBe(v.unsignedTx);
        expect(built.request.data).toBe(t.data);
        expect('0x' + bytesToHex(keccak_256(hexToBytes(v.unsignedTx.slice(2))))).toBe(v.signingHash);
      });

      it('libsecp256k1 (native) and noble RFC 6979 give the vector signature', () => {
        const digest = hexToBytes(v.signingHash.slice(2));
        const native = ecdsaSignDigest(digest, priv);
        const noble = secp256k1.sign(digest, priv, { prehash: false, lowS: true, format: 'recovered' });
        const expected = v.signature.r.slice(2) + v.signature.s.slice(2);
        expect(bytesToHex(native.signature)).toBe(expected);
        expect(bytesToHex(noble.subarray(1))).toBe(expected);
        expect(native.recid & 1).toBe(v.signature.yParity);
        expect(noble[0]! & 1).toBe(v.signature.yParity);
      });

      it('ethers Wallet and the vault signer produce the same raw transaction', async () => {
        expect(await new Wallet(vectors.privateKey).signTransaction(Transaction.from(v.unsignedTx))).toBe(v.rawTx);
        const seed = seedFromMnemonic(vectors.mnemonic);
        const master = masterFromSeed(seed);
        seed.fill(0);
        const isToken = v.tx.data !== '0x';
        const signed = signEvmTransaction({
          master,
          unsignedTx: v.unsignedTx,
          intent: {
            chain: 'ethereum',
            network: 'test',
            chainId: BigInt(v.tx.chainId),
            asset: isToken ? { symbol: 'TST', contract: v.tx.to } : 'ETH',
            destination: isToken ? '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359' : v.tx.to,
            amount: isToken ? 123_456_789n : BigInt(v.tx.value),
            feeCap: BigInt(v.tx.gasLimit) * BigInt(v.tx.maxFeePerGas),
            addressIndex: 0,
          },
        });
        wipeKey(master);
        expect(signed.rawTx).toBe(v.rawTx);
        expect(signed.hash).toBe(v.hash);
        expect(signed.from).toBe(vectors.from);
        expect(Transaction.from(v.rawTx).from).toBe(vectors.from);
      });
    });
  }
});
