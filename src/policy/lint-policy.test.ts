import { describe, expect, it } from 'vitest';
import { lintPolicy } from './lint-policy.ts';
import type { ConditionsJson, PolicyDocument } from './policy-schema.ts';

const doc = (...whens: ConditionsJson[]): PolicyDocument => ({
  version: 1,
  name: 'l',
  rules: whens.map((when, i) => ({ id: `r${i}`, when, action: 'deny' })),
});
const shadowed = (...whens: ConditionsJson[]) =>
  lintPolicy(doc(...whens)).map((w) => `${w.ruleId}<${w.shadowedBy}`);

describe('lintPolicy', () => {
  it('warns about every rule after a catch-all', () => {
    expect(shadowed({}, { asset: ['BTC'] }, {})).toEqual(['r1<r0', 'r2<r0']);
  });

  it('warns when an earlier rule has a subset of the conditions, each equal or wider', () => {
    expect(shadowed({ asset: ['BTC', 'ETH'] }, { asset: ['BTC'], wallet: ['w1'] })).toEqual(['r1<r0']);
    expect(shadowed({ amount: { max: '1000' } }, { amount: { min: '10', max: '1000' } })).toEqual(['r1<r0']);
    expect(
      shadowed(
        { destination: { kind: 'address_book' } },
        { destination: { kind: 'address_book', trust: ['high'], unlockedOnly: true } },
      ),
    ).toEqual(['r1<r0']);
    expect(shadowed({ screening: { maxRisk: 'high' } }, { screening: { maxRisk: 'low' } })).toEqual([
      'r1<r0',
    ]);
    expect(
      shadowed(
        { velocity: { scope: 'wallet', windowSeconds: 60, maxUnits: '100' } },
        { velocity: { scope: 'wallet', windowSeconds: 60, maxUnits: '50' }, asset: ['BTC'] },
      ),
    ).toEqual(['r1<r0']);
    expect(
      shadowed(
        { timeWindow: { days: [1, 2, 3], from: '08:00', to: '18:00', tz: 'UTC' } },
        { timeWindow: { days: [2], from: '09:00', to: '17:00', tz: 'UTC' } },
      ),
    ).toEqual(['r1<r0']);
  });

  it('stays silent when the earlier rule is narrower in any way', () => {
    expect(shadowed({ asset: ['BTC'] }, { asset: ['BTC', 'ETH'] })).toEqual([]);
    expect(shadowed({ asset: ['BTC'], wallet: ['w1'] }, { asset: ['BTC'] })).toEqual([]);
    expect(shadowed({ amount: { max: '999' } }, { amount: { max: '1000' } })).toEqual([]);
    expect(shadowed({ amount: { min: '1' } }, { asset: ['BTC'] })).toEqual([]);
    expect(
      shadowed(
        { destination: { kind: 'address_book', unlockedOnly: true } },
        { destination: { kind: 'address_book' } },
      ),
    ).toEqual([]);
    expect(
      shadowed(
        { velocity: { scope: 'wallet', windowSeconds: 60, maxUnits: '100' } },
        { velocity: { scope: 'wallet', windowSeconds: 61, maxUnits: '1' } },
      ),
    ).toEqual([]);
  });
});
