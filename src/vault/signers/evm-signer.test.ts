import { describe, expect, it } from 'vitest';
import { Transaction } from 'ethers';
import { masterFromSeed, seedFromMnemonic } from '../hd.ts';
import { buildErc20Transfer, buildEthTransfer } from '../../chains/evm/tx.ts';
import { SELECTORS } from '../../chains/evm/calldata.ts';
import { signEvmTransaction } from './evm-signer.ts';
import type { EvmTransferIntent } from './intent.ts';

const seed = seedFromMnemonic(
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
);
const master = masterFromSeed(seed);
seed.fill(0);

const TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const OTHER = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const FEES = { maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, gasLimit: 21_000n };
const TOKEN_FEES = { ...FEES, gasLimit: 60_000n };

const ethTx = buildEthTransfer({
  chainId: 31337n,
  nonce: 3,
  to: TO,
  amount: 5n * 10n ** 17n,
  fees: FEES,
}).unsignedTx;
const tokenTx = buildErc20Transfer({
  chainId: 31337n,
  nonce: 4,
  token: TOKEN,
  to: TO,
  amount: 1_000_000n,
  fees: TOKEN_FEES,
}).unsignedTx;

const ETH_INTENT: EvmTransferIntent = {
  chain: 'ethereum',
  network: 'anvil',
  chainId: 31337n,
  asset: 'ETH',
  destination: TO,
  amount: 5n * 10n ** 17n,
  feeCap: 21_000n * 20_000_000_000n,
  addressIndex: 0,
};
const TOKEN_INTENT: EvmTransferIntent = {
  ...ETH_INTENT,
  asset: { symbol: 'TST', contract: TOKEN.toLowerCase() },
  amount: 1_000_000n,
  feeCap: 60_000n * 20_000_000_000n,
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
    return 'signed';
  } catch (e) {
    expect(e).toMatchObject({ code: 'E_EVIDENCE_INVALID' });
    return (e as { details: { field: string } }).details.field;
  }
}

describe('signEvmTransaction', () => {
  it("signs an ETH transfer from m/44'/60'/0'/0/i", () => {
    const s = signEvmTransaction({ master, unsignedTx: ethTx, intent: ETH_INTENT });
    expect(s.from).toBe('0x9858EfFD232B4033E47d90003D41EC34EcaEda94');
    const tx = Transaction.from(s.rawTx);
    expect(tx.from).toBe(s.from);
    expect(tx.chainId).toBe(31337n);
    expect(s.summary.text).toContain('send 0.5 ETH to ' + TO);
    const s1 = signEvmTransaction({ master, unsignedTx: ethTx, intent: { ...ETH_INTENT, addressIndex: 1 } });
    expect(s1.from).not.toBe(s.from);
  });

  it('signs an ERC-20 transfer and decodes it for the summary', () => {
    const s = signEvmTransaction({ master, unsignedTx: tokenTx, intent: TOKEN_INTENT });
    expect(s.summary.call).toEqual({ name: 'transfer', to: TO, amount: 1_000_000n });
    expect(Transaction.from(s.rawTx).to).toBe(TOKEN);
  });

  it('signing is a pure function of key and payload', () => {
    expect(signEvmTransaction({ master, unsignedTx: ethTx, intent: ETH_INTENT }).rawTx).toBe(
      signEvmTransaction({ master, unsignedTx: ethTx, intent: ETH_INTENT }).rawTx,
    );
  });

  describe('refuses mismatches, naming the field, signing nothing', () => {
    const cases: [string, string, EvmTransferIntent, string][] = [
      ['destination (ETH)', ethTx, { ...ETH_INTENT, destination: OTHER }, 'destination'],
      ['amount (ETH)', ethTx, { ...ETH_INTENT, amount: 1n }, 'amount'],
      ['fee over cap', ethTx, { ...ETH_INTENT, feeCap: 21_000n * 20_000_000_000n - 1n }, 'fee'],
      ['chain id', ethTx, { ...ETH_INTENT, chainId: 1n }, 'chainId'],
      ['asset: token payload for an ETH intent', tokenTx, ETH_INTENT, 'asset'],
      ['asset: ETH payload for a token intent', ethTx, TOKEN_INTENT, 'asset'],
      [
        'asset: other token contract',
        tokenTx,
        { ...TOKEN_INTENT, asset: { symbol: 'TST', contract: OTHER } },
        'asset',
      ],
      ['destination (token)', tokenTx, { ...TOKEN_INTENT, destination: OTHER }, 'destination'],
      ['amount (token)', tokenTx, { ...TOKEN_INTENT, amount: 999_999n }, 'amount'],
      ['fee over cap (token)', tokenTx, { ...TOKEN_INTENT, feeCap: 1n }, 'fee'],
      ['chain', ethTx, { ...ETH_INTENT, chain: 'bitcoin' as 'ethereum' }, 'chain'],
      ['garbage payload', '0x02c0', ETH_INTENT, 'payload'],
      ['legacy payload', '0xdeadbeef', ETH_INTENT, 'payload'],
    ];
    for (const [name, payload, intent, field] of cases) {
      it(name, () =>
        expect(fieldOf(() => signEvmTransaction({ master, unsignedTx: payload, intent }))).toBe(field),
      );
    }

    it('approve() dressed as a token payment is refused as asset', () => {
      const t = Transaction.from(tokenTx);
      t.data = SELECTORS.approve + t.data.slice(10);
      expect(
        fieldOf(() => signEvmTransaction({ master, unsignedTx: t.unsignedSerialized, intent: TOKEN_INTENT })),
      ).toBe('asset');
    });

    it('token transfer carrying ETH value is refused as amount', () => {
      const t = Transaction.from(tokenTx);
      t.value = 1n;
      expect(
        fieldOf(() => signEvmTransaction({ master, unsignedTx: t.unsignedSerialized, intent: TOKEN_INTENT })),
      ).toBe('amount');
    });

    it('calldata with trailing bytes is refused', () => {
      const t = Transaction.from(tokenTx);
      t.data = t.data + '00';
      expect(
        fieldOf(() => signEvmTransaction({ master, unsignedTx: t.unsignedSerialized, intent: TOKEN_INTENT })),
      ).toBe('payload');
    });

    it('an access list is refused', () => {
      const t = Transaction.from(ethTx);
      t.accessList = [{ address: OTHER, storageKeys: [] }];
      expect(
        fieldOf(() => signEvmTransaction({ master, unsignedTx: t.unsignedSerialized, intent: ETH_INTENT })),
      ).toBe('payload');
    });
  });
});
