import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { selectCoins, type SelectableCoin } from './coin-selection.ts';
import { dustThreshold, feeFor, txWeight, vsizeOf } from './size.ts';

const P2WPKH_SCRIPT = new Uint8Array(22).fill(1).map((v, i) => (i === 0 ? 0 : i === 1 ? 0x14 : v));
const P2TR_SCRIPT = new Uint8Array(34).fill(1).map((v, i) => (i === 0 ? 0x51 : i === 1 ? 0x20 : v));
const coin = (amount: bigint, n: number, kind: 'p2wpkh' | 'p2tr' = 'p2wpkh'): SelectableCoin => ({
  txid: n.toString(16).padStart(64, '0'),
  vout: 0,
  amount,
  kind,
});

describe('dust and size', () => {
  it('matches Bitcoin Core dust thresholds', () => {
    expect(dustThreshold(P2WPKH_SCRIPT)).toBe(294n);
    expect(dustThreshold(P2TR_SCRIPT)).toBe(330n);
    expect(dustThreshold(new Uint8Array([0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac]))).toBe(546n);
  });

  it('1-in 2-out P2WPKH is ~141 vB', () => {
    expect(vsizeOf(txWeight(['p2wpkh'], [22, 22]))).toBe(141); // 140.75 vB with a 72-byte signature
    expect(vsizeOf(txWeight(['p2tr'], [34, 34]))).toBe(154);
  });
});

describe('selectCoins', () => {
  it('largest-first with change above dust', () => {
    const s = selectCoins({
      coins: [coin(10_000n, 1), coin(50_000n, 2), coin(30_000n, 3)],
      outputs: [{ scriptLength: 22, amount: 40_000n }],
      changeScript: P2WPKH_SCRIPT,
      feeRate: 2,
      strategy: 'largest-first',
    });
    expect(s.selected.map((c) => c.amount)).toEqual([50_000n]);
    expect(s.change).toBe(50_000n - 40_000n - s.fee);
    expect(s.fee).toBe(feeFor(s.vsize, 2));
  });

  it('drops change below dust into the fee', () => {
    const s = selectCoins({
      coins: [coin(40_500n, 1)],
      outputs: [{ scriptLength: 22, amount: 40_000n }],
      changeScript: P2WPKH_SCRIPT,
      feeRate: 2,
      strategy: 'largest-first',
    });
    expect(s.change).toBe(0n);
    expect(s.fee).toBe(500n);
  });

  it('branch-and-bound finds a changeless exact match', () => {
    const coins = [coin(100_000n, 1), coin(30_136n, 2), coin(10_068n, 3), coin(70_000n, 4)];
    // 30_136 + 10_068 at 1 sat/vB: inputs cost 68 each, fixed part ~42 vB
    const s = selectCoins({
      coins,
      outputs: [{ scriptLength: 22, amount: 40_000n }],
      changeScript: P2WPKH_SCRIPT,
      feeRate: 1,
    });
    expect(s.strategy).toBe('branch-and-bound');
    expect(s.change).toBe(0n);
    expect(s.selected.map((c) => c.amount).sort()).toEqual([10_068n, 30_136n]);
  });

  it('refuses insufficient funds', () => {
    expect(() =>
      selectCoins({
        coins: [coin(1_000n, 1)],
        outputs: [{ scriptLength: 22, amount: 900n }],
        changeScript: P2WPKH_SCRIPT,
        feeRate: 5,
      }),
    ).toThrow(expect.objectContaining({ code: 'E_INSUFFICIENT_FUNDS' }));
  });

  it('property: value is conserved and the fee rate is met', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1_000n, max: 5_000_000n }), { minLength: 1, maxLength: 12 }),
        fc.bigInt({ min: 1_000n, max: 2_000_000n }),
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom('branch-and-bound' as const, 'largest-first' as const),
        (amounts, payment, feeRate, strategy) => {
          const coins = amounts.map((a, i) => coin(a, i, i % 2 ? 'p2tr' : 'p2wpkh'));
          let s;
          try {
            s = selectCoins({
              coins,
              outputs: [{ scriptLength: 22, amount: payment }],
              changeScript: P2WPKH_SCRIPT,
              feeRate,
              strategy,
            });
          } catch (e) {
            expect((e as { code: string }).code).toBe('E_INSUFFICIENT_FUNDS');
            return;
          }
          const total = s.selected.reduce((x, c) => x + c.amount, 0n);
          expect(total).toBe(payment + s.fee + s.change);
          expect(s.fee >= feeFor(s.vsize, feeRate)).toBe(true);
          expect(s.change === 0n || s.change >= dustThreshold(P2WPKH_SCRIPT)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
