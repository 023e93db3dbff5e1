import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compile-policy.ts';
import { evaluate } from './evaluate.ts';
import type { PolicyContext, PolicyRequest } from './evaluation-input.ts';
import type { ConditionsJson, RuleJson } from './policy-schema.ts';

const T0 = Date.parse('2025-01-15T10:20:30Z'); // a Wednesday (ISO day 3)
const request: PolicyRequest = {
  type: 'transfer',
  initiator: 'usr_alice',
  wallet: 'w_treasury',
  chain: 'bitcoin',
  asset: 'BTC',
  amount: 1000n,
  destination: 'bc1qdest',
};
const context: PolicyContext = {
  tier: 'warm',
  initiatorGroups: ['traders'],
  destination: { kind: 'address_book', trust: 'medium', locked: false },
  fiat: 5000n,
  screening: { risk: 'medium' },
  velocity: [{ scope: 'wallet', windowSeconds: 3600, units: 500n, fiat: 2500n }],
};

const one = (when: ConditionsJson) =>
  compilePolicy({ version: 1, name: 't', rules: [{ id: 'r', when, action: 'approve' }] });
/** Evaluates both paths and checks they agree; returns the traced result. */
function run(when: ConditionsJson, r: PolicyRequest = request, c: PolicyContext = context, now = T0) {
  const p = one(when);
  const traced = evaluate(p, r, c, now);
  const fast = evaluate(p, r, c, now, { trace: false });
  expect({ decision: fast.decision, ruleId: fast.ruleId }).toEqual({
    decision: traced.decision,
    ruleId: traced.ruleId,
  });
  expect(fast.trace).toEqual([]);
  return traced;
}
const holds = (when: ConditionsJson, r?: PolicyRequest, c?: PolicyContext, now?: number) =>
  run(when, r, c, now).decision === 'approve';
const failure = (when: ConditionsJson, r?: PolicyRequest, c?: PolicyContext, now?: number) =>
  run(when, r, c, now).trace[0];

describe('conditions', () => {
  it('list conditions: request type, wallet, chain, asset, initiator', () => {
    expect(holds({ requestType: ['transfer', 'token_mint'] })).toBe(true);
    expect(holds({ requestType: ['governance'] })).toBe(false);
    expect(holds({ wallet: ['w_treasury'] })).toBe(true);
    expect(holds({ wallet: ['w_other'] })).toBe(false);
    expect(holds({ chain: ['ethereum'] })).toBe(false);
    expect(holds({ asset: ['BTC'] })).toBe(true);
    expect(holds({ initiator: ['usr_bob'] })).toBe(false);
    expect(failure({ wallet: ['w_other'] })).toEqual({
      ruleId: 'r',
      matched: false,
      condition: 'wallet',
      expected: ['w_other'],
      actual: 'w_treasury',
    });
    const { wallet: _w, ...noWallet } = request;
    expect(failure({ wallet: ['w_treasury'] }, noWallet)).toMatchObject({
      condition: 'wallet',
      actual: null,
    });
  });

  it('tier reads the context, and fails for requests without a wallet', () => {
    expect(holds({ tier: ['warm', 'cold'] })).toBe(true);
    expect(failure({ tier: ['hot'] })).toMatchObject({
      condition: 'tier',
      expected: ['hot'],
      actual: 'warm',
    });
    const { wallet: _w, ...noWallet } = request;
    expect(holds({ tier: ['warm'] }, noWallet)).toBe(false);
  });

  it('initiator groups: any of', () => {
    expect(holds({ initiatorGroups: ['admins', 'traders'] })).toBe(true);
    expect(failure({ initiatorGroups: ['admins'] })).toMatchObject({
      condition: 'initiatorGroups',
      expected: ['admins'],
      actual: ['traders'],
    });
  });

  it('amount: inclusive bounds in base units', () => {
    expect(holds({ amount: { min: '1000', max: '1000' } })).toBe(true);
    expect(failure({ amount: { max: '999' } })).toMatchObject({
      condition: 'amount.max',
      expected: '999',
      actual: '1000',
    });
    expect(failure({ amount: { min: '1001' } })).toMatchObject({
      condition: 'amount.min',
      expected: '1001',
      actual: '1000',
    });
    const huge = 2n ** 255n + 1n; // beyond double precision: exactness at the boundary
    expect(holds({ amount: { max: (huge - 1n).toString() } }, { ...request, amount: huge })).toBe(false);
    expect(holds({ amount: { max: huge.toString() } }, { ...request, amount: huge })).toBe(true);
    expect(holds({ amount: { min: (huge + 1n).toString() } }, { ...request, amount: huge })).toBe(false);
    const { amount: _a, ...noAmount } = request;
    expect(failure({ amount: { min: '0' } }, noAmount)).toMatchObject({ condition: 'amount', actual: null });
  });

  it('fiat: inclusive bounds in minor units', () => {
    expect(holds({ fiat: { min: '5000', max: '5000' } })).toBe(true);
    expect(failure({ fiat: { max: '4999' } })).toMatchObject({
      condition: 'fiat.max',
      expected: '4999',
      actual: '5000',
    });
    expect(failure({ fiat: { min: '5001' } })).toMatchObject({
      condition: 'fiat.min',
      expected: '5001',
      actual: '5000',
    });
  });

  it('destination: class, trust, lock', () => {
    expect(holds({ destination: { kind: 'any' } })).toBe(true);
    expect(
      holds({ destination: { kind: 'address_book', trust: ['medium', 'high'], unlockedOnly: true } }),
    ).toBe(true);
    expect(failure({ destination: { kind: 'address_book', trust: ['high'] } })).toMatchObject({
      condition: 'destination.trust',
      actual: 'medium',
    });
    const locked: PolicyContext = {
      ...context,
      destination: { kind: 'address_book', trust: 'medium', locked: true },
    };
    expect(
      failure({ destination: { kind: 'address_book', unlockedOnly: true } }, request, locked),
    ).toMatchObject({ condition: 'destination.unlockedOnly' });
    expect(holds({ destination: { kind: 'address_book' } }, request, locked)).toBe(true);
    expect(failure({ destination: { kind: 'internal_wallet' } })).toMatchObject({
      condition: 'destination.kind',
      expected: 'internal_wallet',
      actual: 'address_book',
    });
    expect(
      holds({ destination: { kind: 'internal_wallet' } }, request, {
        ...context,
        destination: { kind: 'internal_wallet' },
      }),
    ).toBe(true);
    expect(
      holds({ destination: { kind: 'any' } }, request, { ...context, destination: { kind: 'external' } }),
    ).toBe(true);
  });

  it('time window: ISO weekday and [from, to) in UTC', () => {
    const at = (hhmm: string, date = '2025-01-15') => Date.parse(`${date}T${hhmm}:00Z`);
    const window = { days: [1, 2, 3, 4, 5], from: '09:00', to: '17:30', tz: 'UTC' as const };
    expect(holds({ timeWindow: window }, request, context, at('09:00'))).toBe(true);
    expect(holds({ timeWindow: window }, request, context, at('17:29'))).toBe(true);
    expect(failure({ timeWindow: window }, request, context, at('17:30'))).toMatchObject({
      condition: 'timeWindow.time',
      actual: '17:30',
    });
    expect(holds({ timeWindow: window }, request, context, at('08:59'))).toBe(false);
    expect(failure({ timeWindow: window }, request, context, at('12:00', '2025-01-18'))).toMatchObject({
      condition: 'timeWindow.days',
      actual: '6',
    });
    expect(
      holds(
        { timeWindow: { ...window, days: [7], from: '00:00', to: '24:00' } },
        request,
        context,
        at('23:59', '2025-01-19'),
      ),
    ).toBe(true);
  });

  it('screening: at or below the maximum risk', () => {
    expect(holds({ screening: { maxRisk: 'medium' } })).toBe(true);
    expect(failure({ screening: { maxRisk: 'low' } })).toMatchObject({
      condition: 'screening.maxRisk',
      expected: 'low',
      actual: 'medium',
    });
  });

  it('velocity: recorded rolling sum plus this amount, at or below the limit', () => {
    expect(holds({ velocity: { scope: 'wallet', windowSeconds: 3600, maxUnits: '1500' } })).toBe(true);
    expect(failure({ velocity: { scope: 'wallet', windowSeconds: 3600, maxUnits: '1499' } })).toMatchObject({
      condition: 'velocity.maxUnits',
      expected: '1499',
      actual: '1500',
    });
    expect(holds({ velocity: { scope: 'wallet', windowSeconds: 3600, maxFiat: '7500' } })).toBe(true);
    expect(failure({ velocity: { scope: 'wallet', windowSeconds: 3600, maxFiat: '7499' } })).toMatchObject({
      condition: 'velocity.maxFiat',
      actual: '7500',
    });
  });
});

describe('evaluate', () => {
  const rule = (id: string, when: ConditionsJson, action: RuleJson['action'] = 'approve'): RuleJson => ({
    id,
    when,
    action,
  });

  it('first match wins; the trace shows each rule up to the match with the first failed condition', () => {
    const p = compilePolicy({
      version: 1,
      name: 'p',
      rules: [
        rule('big', { amount: { min: '5000' } }, 'deny'),
        rule('btc-only-eth', { asset: ['ETH'] }),
        rule(
          'mid',
          { asset: ['BTC'], amount: { max: '2000' } },
          { workflow: { steps: [{ group: 'ops', k: 2 }], expiresInSeconds: 3600 } },
        ),
        rule('never-reached', {}),
      ],
    });
    const r = evaluate(p, request, context, T0);
    expect(r.decision).toBe('workflow');
    expect(r.ruleId).toBe('mid');
    expect(r.workflow?.steps[0]).toEqual({
      group: 'ops',
      k: 2,
      excludeInitiator: true,
      distinctFromEarlierSteps: true,
    });
    expect(r.trace).toEqual([
      { ruleId: 'big', matched: false, condition: 'amount.min', expected: '5000', actual: '1000' },
      { ruleId: 'btc-only-eth', matched: false, condition: 'asset', expected: ['ETH'], actual: 'BTC' },
      { ruleId: 'mid', matched: true },
    ]);
  });

  it('denies by default when no rule matches, tracing every rule', () => {
    const p = compilePolicy({
      version: 1,
      name: 'p',
      rules: [rule('a', { asset: ['ETH'] }), rule('b', { chain: ['ethereum'] })],
    });
    const r = evaluate(p, request, context, T0);
    expect(r).toMatchObject({ decision: 'deny', ruleId: null });
    expect(r.trace.map((t) => t.ruleId)).toEqual(['a', 'b']);
    expect(
      evaluate(compilePolicy({ version: 1, name: 'empty', rules: [] }), request, context, T0).decision,
    ).toBe('deny');
  });

  it('a missing recorded fact denies (indeterminate) instead of falling through to a looser rule', () => {
    const p = compilePolicy({
      version: 1,
      name: 'p',
      rules: [rule('deny-big-fiat', { fiat: { min: '1000000' } }, 'deny'), rule('rest', {})],
    });
    const { fiat: _f, ...noFiat } = context;
    for (const trace of [true, false]) {
      const r = evaluate(p, request, noFiat, T0, { trace });
      expect(r).toMatchObject({
        decision: 'deny',
        ruleId: null,
        indeterminate: { ruleId: 'deny-big-fiat', condition: 'fiat', missing: 'context.fiat' },
      });
    }
    // A fact the request does not have (no amount) just fails the condition.
    const { amount: _a, ...noAmount } = request;
    expect(evaluate(p, noAmount, noFiat, T0).ruleId).toBe('rest');
    // Missing velocity sum, screening, groups, tier, destination class.
    const missing = (when: ConditionsJson, c: PolicyContext) =>
      evaluate(one(when), request, c, T0, { trace: false }).indeterminate?.missing;
    expect(missing({ velocity: { scope: 'asset', windowSeconds: 3600, maxUnits: '1' } }, context)).toBe(
      'context.velocity[asset/3600s]',
    );
    expect(missing({ screening: { maxRisk: 'high' } }, { ...context, screening: undefined })).toBe(
      'context.screening',
    );
    expect(missing({ initiatorGroups: ['x'] }, { ...context, initiatorGroups: undefined })).toBe(
      'context.initiatorGroups',
    );
    expect(missing({ tier: ['hot'] }, { ...context, tier: undefined })).toBe('context.tier');
    expect(missing({ destination: { kind: 'any' } }, { ...context, destination: undefined })).toBe(
      'context.destination',
    );
  });

  it('results are frozen; evaluation changes nothing it is given', () => {
    const p = compilePolicy({ version: 1, name: 'p', rules: [rule('a', {})] });
    const before = JSON.stringify(p.document);
    const r = evaluate(p, request, context, T0, { trace: false });
    expect(Object.isFrozen(r)).toBe(true);
    expect(JSON.stringify(p.document)).toBe(before);
  });
});

// Random policies over a small vocabulary, so that rules often match and often fail late.
const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const smallList = <T>(xs: readonly T[]) => fc.uniqueArray(pick(xs), { minLength: 1, maxLength: 2 });
const units = fc.bigInt({ min: 0n, max: 3000n });
const rangeArb = fc
  .tuple(fc.option(units, { nil: undefined }), fc.option(units, { nil: undefined }))
  .filter(([a, b]) => a !== undefined || b !== undefined)
  .map(([a, b]) => (a !== undefined && b !== undefined && a > b ? [b, a] : [a, b]))
  .map(([min, max]) => ({
    ...(min !== undefined && { min: min.toString() }),
    ...(max !== undefined && { max: max.toString() }),
  }));
const allConditionsArb: fc.Arbitrary<ConditionsJson> = fc.record(
  {
    requestType: smallList(['transfer', 'governance'] as const),
    wallet: smallList(['w1', 'w2']),
    tier: smallList(['hot', 'warm'] as const),
    asset: smallList(['BTC', 'ETH']),
    initiatorGroups: smallList(['g1', 'g2']),
    destination: fc.oneof(
      fc.constant({ kind: 'any' as const }),
      fc.constant({ kind: 'internal_wallet' as const }),
      fc.record(
        {
          kind: fc.constant('address_book' as const),
          trust: smallList(['low', 'high'] as const),
          unlockedOnly: fc.boolean(),
        },
        { requiredKeys: ['kind'] },
      ),
    ),
    amount: rangeArb,
    fiat: rangeArb,
    screening: fc.record({ maxRisk: pick(['low', 'high'] as const) }),
    timeWindow: fc.constant({ days: [1, 2, 3], from: '08:00', to: '12:00', tz: 'UTC' as const }),
    velocity: fc.record(
      {
        scope: pick(['wallet', 'asset'] as const),
        windowSeconds: pick([60, 3600]),
        maxUnits: units.map(String),
        maxFiat: units.map(String),
      },
      { requiredKeys: ['scope', 'windowSeconds', 'maxUnits'] },
    ),
  },
  { requiredKeys: [] },
);
// Two or three kinds of condition per rule, so that rules often match.
const conditionsArb: fc.Arbitrary<ConditionsJson> = fc
  .tuple(allConditionsArb, fc.integer({ min: 0, max: 10_000 }))
  .map(
    ([all, seed]) =>
      Object.fromEntries(Object.entries(all).filter((_, i) => ((seed >> i) & 3) === 0)) as ConditionsJson,
  );
const requestArb: fc.Arbitrary<PolicyRequest> = fc.record(
  {
    type: pick(['transfer', 'governance'] as const),
    initiator: fc.constant('u1'),
    wallet: pick(['w1', 'w2', 'w3']),
    asset: pick(['BTC', 'ETH']),
    amount: units,
    destination: fc.constant('addr'),
  },
  { requiredKeys: ['type', 'initiator'] },
);
const contextArb: fc.Arbitrary<PolicyContext> = fc.record(
  {
    tier: pick(['hot', 'warm'] as const),
    initiatorGroups: fc.subarray(['g1', 'g2', 'g3']),
    destination: fc.oneof(
      fc.constant({ kind: 'external' as const }),
      fc.constant({ kind: 'internal_wallet' as const }),
      fc.record({
        kind: fc.constant('address_book' as const),
        trust: pick(['low', 'medium', 'high'] as const),
        locked: fc.boolean(),
      }),
    ),
    fiat: units,
    screening: fc.record({ risk: pick(['low', 'medium', 'high', 'severe'] as const) }),
    velocity: fc.subarray([
      { scope: 'wallet' as const, windowSeconds: 60, units: 10n, fiat: 20n },
      { scope: 'wallet' as const, windowSeconds: 3600, units: 700n },
      { scope: 'asset' as const, windowSeconds: 60, units: 1500n, fiat: 900n },
      { scope: 'asset' as const, windowSeconds: 3600, units: 0n, fiat: 0n },
    ]),
  },
  { requiredKeys: [] },
);

describe('fast path', () => {
  it('decides exactly as the traced rule-by-rule path (property)', () => {
    const seen = { matched: 0, defaultDeny: 0, indeterminate: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(conditionsArb, pick(['deny', 'approve'] as const)), { maxLength: 40 }),
        requestArb,
        contextArb,
        fc.integer({ min: 0, max: 14 * 86_400_000 }),
        (rules, r, c, now) => {
          const p = compilePolicy({
            version: 1,
            name: 'prop',
            rules: rules.map(([when, action], i) => ({ id: `r${i}`, when, action })),
          });
          const slow = evaluate(p, r, c, now);
          const fast = evaluate(p, r, c, now, { trace: false });
          expect({ d: fast.decision, r: fast.ruleId, i: fast.indeterminate }).toEqual({
            d: slow.decision,
            r: slow.ruleId,
            i: slow.indeterminate,
          });
          seen[slow.indeterminate ? 'indeterminate' : slow.ruleId === null ? 'defaultDeny' : 'matched']++;
        },
      ),
      { numRuns: 1500 },
    );
    // The generator must exercise all three ways an evaluation ends.
    expect(Math.min(seen.matched, seen.defaultDeny, seen.indeterminate)).toBeGreaterThan(50);
  });
});
