import { describe, expect, it } from 'vitest';
import { buildErc20Transfer, buildEthTransfer } from '../../chains/evm/tx.ts';
import { derivePrivatePath, masterNodeFromSeed, type PublicKeyMemo } from '../bip32-native.ts';
import { masterFromSeed, parsePath, seedFromMnemonic } from '../hd.ts';
import { signEvmTransaction } from './evm-signer.ts';
import { publicKeyOf } from './libsecp256k1.ts';
import type { EvmTransferIntent } from './intent.ts';

const seed = seedFromMnemonic(
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
);
const TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const FEES = { maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, gasLimit: 60_000n };
const INTENT: EvmTransferIntent = {
  chain: 'ethereum',
  network: 'anvil',
  chainId: 31337n,
  asset: 'ETH',
  destination: TO,
  amount: 5n * 10n ** 17n,
  feeCap: 60_000n * 20_000_000_000n,
  addressIndex: 0,
};

describe('signEvmTransaction with a native master node and a public-key memo', () => {
  it('signs exactly as with an HDKey master, with or without the memo, for ETH and ERC-20', () => {
    const hd = masterFromSeed(seed);
    const node = masterNodeFromSeed(seed);
    const memo: PublicKeyMemo = new Map();
    const cases = [
      {
        unsignedTx: buildEthTransfer({ chainId: 31337n, nonce: 3, to: TO, amount: INTENT.amount, fees: FEES })
          .unsignedTx,
        intent: INTENT,
      },
      {
        unsignedTx: buildEthTransfer({ chainId: 31337n, nonce: 4, to: TO, amount: INTENT.amount, fees: FEES })
          .unsignedTx,
        intent: { ...INTENT, addressIndex: 7 },
      },
      {
        unsignedTx: buildErc20Transfer({
          chainId: 31337n,
          nonce: 5,
          token: TOKEN,
          to: TO,
          amount: 1_000_000n,
          fees: FEES,
        }).unsignedTx,
        intent: { ...INTENT, asset: { symbol: 'TST', contract: TOKEN }, amount: 1_000_000n },
      },
    ];
    for (const c of cases) {
      const reference = signEvmTransaction({ master: hd, ...c });
      expect(signEvmTransaction({ master: node, ...c })).toEqual(reference);
      expect(signEvmTransaction({ master: node, ...c, publicKeys: memo })).toEqual(reference);
      expect(signEvmTransaction({ master: node, ...c, publicKeys: memo })).toEqual(reference); // from the memo
    }
    expect(memo.size).toBeGreaterThan(0);
  });

  it('a wrong public key in the memo cannot produce a signature: it is refused', () => {
    const node = masterNodeFromSeed(seed);
    const unsignedTx = buildEthTransfer({
      chainId: 31337n,
      nonce: 3,
      to: TO,
      amount: INTENT.amount,
      fees: FEES,
    }).unsignedTx;
    const memo: PublicKeyMemo = new Map();
    signEvmTransaction({ master: node, unsignedTx, intent: INTENT, publicKeys: memo });
    expect(memo.size).toBe(3); // two parents of non-hardened steps, and the signing key
    const stranger = new Uint8Array(32).fill(7);
    for (const key of memo.keys()) {
      const poisoned = new Map(memo);
      poisoned.set(key, publicKeyOf(stranger, !key.endsWith(' uncompressed')));
      expect(
        () => signEvmTransaction({ master: node, unsignedTx, intent: INTENT, publicKeys: poisoned }),
        key,
      ).toThrow(expect.objectContaining({ code: 'E_EVIDENCE_INVALID' }));
    }
  });

  it('derivePrivatePath gives the same key with a memo as without', () => {
    const node = masterNodeFromSeed(seed);
    const memo: PublicKeyMemo = new Map();
    for (const path of ["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1", "m/84'/0'/0'/1/5", "m/44'/60'/0'/0/0"]) {
      const plain = derivePrivatePath(node, parsePath(path));
      const memoized = derivePrivatePath(node, parsePath(path), memo);
      expect(memoized).toEqual(plain);
    }
  });
});
