import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile-policy.ts';
import { evaluate } from './evaluate.ts';

const W = 3600; // seconds
const LIMIT = 1000n;
const policy = compilePolicy({
  version: 1,
  name: 'velocity',
  rules: [
    {
      id: 'under-limit',
      when: {
        requestType: ['transfer'],
        velocity: { scope: 'wallet', windowSeconds: W, maxUnits: LIMIT.toString() },
      },
      action: 'approve',
    },
  ],
});

describe('velocity', () => {
  it('for any interleaving of requests, the approved total in any window never exceeds the limit (property)', () => {
    const requestArb = fc.record({
      wallet: fc.constantFrom('w1', 'w2'),
      amount: fc.bigInt({ min: 1n, max: 600n }),
      gapMs: fc.integer({ min: 0, max: 1_500_000 }),
    });
    let approvedCount = 0;
    let deniedCount = 0;
    fc.assert(
      fc.property(fc.array(requestArb, { maxLength: 40 }), (requests) => {
        const approved: { wallet: string; amount: bigint; at: number }[] = [];
        let now = 0;
        for (const r of requests) {
          now += r.gapMs;
          // What the service records before evaluating: the rolling sum of approved amounts in (now - W, now].
          const units = approved
            .filter((a) => a.wallet === r.wallet && a.at > now - W * 1000)
            .reduce((s, a) => s + a.amount, 0n);
          const result = evaluate(
            policy,
            { type: 'transfer', initiator: 'u', wallet: r.wallet, amount: r.amount },
            { velocity: [{ scope: 'wallet', windowSeconds: W, units }] },
            now,
            {
              trace: false,
            },
          );
          if (result.decision === 'approve') approved.push({ wallet: r.wallet, amount: r.amount, at: now });
        }
        approvedCount += approved.length;
        deniedCount += requests.length - approved.length;
        // The heaviest window ends at an approval: check every such window.
        for (const end of approved) {
          const total = approved
            .filter((a) => a.wallet === end.wallet && a.at > end.at - W * 1000 && a.at <= end.at)
            .reduce((s, a) => s + a.amount, 0n);
          expect(total <= LIMIT).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
    expect(approvedCount).toBeGreaterThan(100);
    expect(deniedCount).toBeGreaterThan(100);
  });
});
