import { describe, expect, it } from 'vitest';
import { Transaction } from 'ethers';
import { buildErc20Transfer, buildEthTransfer, parseUnsignedEvmTx, summarizeEvmTx } from './tx.ts';

const TO = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const FEES = { maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n, gasLimit: 21_000n };

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe('EIP-1559 builder', () => {
  it('round-trips an ETH transfer', () => {
    const b = buildEthTransfer({ chainId: 1n, nonce: 0, to: TO.toLowerCase(), amount: 123n, fees: FEES });
    expect(parseUnsignedEvmTx(b.unsignedTx).request).toEqual(b.request);
    expect(b.request.to).toBe(TO);
    const s = summarizeEvmTx(b.unsignedTx, []);
    expect(s.call).toBeUndefined();
    expect(s.maxFee).toBe(21_000n * 10n ** 10n);
  });

  it('builds ERC-20 transfers with no value and decodes them', () => {
    const b = buildErc20Transfer({
      chainId: 5n,
      nonce: 1,
      token: TOKEN,
      to: TO,
      amount: 10n ** 6n,
      fees: { ...FEES, gasLimit: 60_000n },
    });
    expect(b.request.value).toBe(0n);
    expect(summarizeEvmTx(b.unsignedTx, ['transfer']).call).toEqual({
      name: 'transfer',
      to: TO,
      amount: 10n ** 6n,
    });
    expect(codeOf(() => summarizeEvmTx(b.unsignedTx, []))).toBe('E_POLICY_DENIED');
    expect(summarizeEvmTx(b.unsignedTx, ['transfer']).text).toContain(
      `transfer 1000000 token units of ${TOKEN} to ${TO}`,
    );
  });

  it('validates parameters', () => {
    expect(codeOf(() => buildEthTransfer({ chainId: 0n, nonce: 0, to: TO, amount: 1n, fees: FEES }))).toBe(
      'E_VALIDATION',
    );
    expect(codeOf(() => buildEthTransfer({ chainId: 1n, nonce: -1, to: TO, amount: 1n, fees: FEES }))).toBe(
      'E_VALIDATION',
    );
    expect(codeOf(() => buildEthTransfer({ chainId: 1n, nonce: 0, to: TO, amount: -1n, fees: FEES }))).toBe(
      'E_VALIDATION',
    );
    expect(
      codeOf(() =>
        buildEthTransfer({ chainId: 1n, nonce: 0, to: TO, amount: 1n, fees: { ...FEES, gasLimit: 20_999n } }),
      ),
    ).toBe('E_VALIDATION');
    expect(
      codeOf(() =>
        buildEthTransfer({
          chainId: 1n,
          nonce: 0,
          to: TO,
          amount: 1n,
          fees: { ...FEES, maxPriorityFeePerGas: 10n ** 11n },
        }),
      ),
    ).toBe('E_VALIDATION');
    expect(
      codeOf(() =>
        buildEthTransfer({
          chainId: 1n,
          nonce: 0,
          to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD',
          amount: 1n,
          fees: FEES,
        }),
      ),
    ).toBe('E_ADDRESS_INVALID');
  });

  it('refuses signed, legacy and contract-creation payloads', () => {
    const b = buildEthTransfer({ chainId: 1n, nonce: 0, to: TO, amount: 1n, fees: FEES });
    const legacy = Transaction.from({
      type: 0,
      chainId: 1n,
      nonce: 0,
      to: TO,
      value: 1n,
      gasLimit: 21_000n,
      gasPrice: 1n,
    }).unsignedSerialized;
    expect(codeOf(() => parseUnsignedEvmTx(legacy))).toBe('E_VALIDATION');
    const create = Transaction.from({
      type: 2,
      chainId: 1n,
      nonce: 0,
      value: 0n,
      data: '0x60',
      gasLimit: 60_000n,
      maxFeePerGas: 1n,
      maxPriorityFeePerGas: 1n,
    });
    expect(codeOf(() => parseUnsignedEvmTx(create.unsignedSerialized))).toBe('E_VALIDATION');
    expect(codeOf(() => parseUnsignedEvmTx(b.unsignedTx + '00'))).toBe('E_VALIDATION');
  });
});
