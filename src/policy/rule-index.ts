/**
 * The fast path of `evaluate` (no trace). It must give exactly the answer of the rule-by-rule path, only
 * sooner; a property test compares the two on random policies and inputs.
 *
 * - Categorical conditions (type, wallet, tier, chain, asset, initiator, groups, destination class,
 *   screening risk) become bitsets of rules, one per value, built at compile time; an evaluation ANDs a
 *   handful of them to get the candidate rules.
 * - Candidates are then checked in order against their numeric conditions (amount, fiat, velocity) held in
 *   typed arrays as doubles. Rounding a bigint to a double is monotonic, so a strict double comparison is
 *   exact; only equal doubles fall back to the bigint comparison.
 * - Whenever the context lacks a fact some rule needs, `fastOutcome` returns undefined and the caller takes
 *   the rule-by-rule path, which alone decides what "indeterminate" means.
 */
import type { RuleOutcome } from './compile-policy.ts';
import { compileConditions, HOLDS, type CompiledCondition } from './conditions.ts';
import type { DestinationContext, PolicyContext, PolicyRequest } from './evaluation-input.ts';
import { RISK_LEVELS, TRUST_LEVELS, type RuleJson } from './policy-schema.ts';

type Bits = Uint32Array;
interface Field {
  readonly without: Bits; // rules without this condition
  readonly byValue: Map<string, Bits>; // rules without it, plus those whose list holds the value
}

const NONE = -1;

export interface RuleIndex {
  readonly size: number;
  readonly words: number;
  readonly all: Bits;
  readonly fields: Record<
    'type' | 'wallet' | 'tier' | 'chain' | 'asset' | 'initiator' | 'groups' | 'destination' | 'screening',
    Field
  >;
  readonly outcomes: readonly RuleOutcome[];
  // numeric conditions, one slot per rule
  readonly needsAmount: Uint8Array;
  readonly amountMin: Float64Array;
  readonly amountMax: Float64Array;
  readonly amountMinExact: (bigint | undefined)[];
  readonly amountMaxExact: (bigint | undefined)[];
  readonly hasFiat: Uint8Array;
  readonly fiatMin: Float64Array;
  readonly fiatMax: Float64Array;
  readonly fiatMinExact: (bigint | undefined)[];
  readonly fiatMaxExact: (bigint | undefined)[];
  readonly velocityNeed: Int32Array;
  readonly velocityMaxUnits: Float64Array;
  readonly velocityMaxFiat: Float64Array;
  readonly velocityMaxUnitsExact: (bigint | undefined)[];
  readonly velocityMaxFiatExact: (bigint | undefined)[];
  readonly timeWindow: (CompiledCondition | undefined)[];
  readonly needs: readonly {
    readonly scope: string;
    readonly windowSeconds: number;
    readonly fiat: boolean;
  }[];
  readonly uses: { tier: boolean; groups: boolean; destination: boolean; screening: boolean; fiat: boolean };
  // scratch space, reused by every evaluation (evaluation is synchronous)
  readonly candidates: Bits;
  readonly scratch: Bits;
  readonly velocityUnits: bigint[];
  readonly velocityFiat: (bigint | undefined)[];
  readonly velocityUnitsD: number[];
  readonly velocityFiatD: number[];
}

const DESTINATION_KEYS: [string, DestinationContext][] = [
  ['internal_wallet', { kind: 'internal_wallet' }],
  ['external', { kind: 'external' }],
  ...TRUST_LEVELS.flatMap((trust): [string, DestinationContext][] => [
    [`ab:${trust}:0`, { kind: 'address_book', trust, locked: false }],
    [`ab:${trust}:1`, { kind: 'address_book', trust, locked: true }],
  ]),
];

function destinationKey(d: DestinationContext): string {
  return d.kind === 'address_book' ? `ab:${d.trust}:${d.locked ? 1 : 0}` : d.kind;
}

export function buildRuleIndex(rules: readonly RuleJson[], outcomes: readonly RuleOutcome[]): RuleIndex {
  const size = rules.length;
  const words = Math.max(1, Math.ceil(size / 32));
  const bits = (): Bits => new Uint32Array(words);
  const set = (b: Bits, i: number) => void (b[i >>> 5]! |= 1 << (i & 31));
  const all = bits();
  for (let i = 0; i < size; i++) set(all, i);

  // A categorical field: `listOf(rule)` is the rule's list, or undefined when it has no such condition.
  const field = (
    listOf: (r: RuleJson, i: number) => readonly string[] | undefined,
    universe?: readonly string[],
  ): Field => {
    const without = bits();
    const byValue = new Map<string, Bits>();
    rules.forEach((r, i) => {
      if (listOf(r, i) === undefined) set(without, i);
    });
    const valueBits = (v: string): Bits => {
      let b = byValue.get(v);
      if (!b) byValue.set(v, (b = Uint32Array.from(without)));
      return b;
    };
    for (const v of universe ?? []) valueBits(v);
    rules.forEach((r, i) => {
      for (const v of listOf(r, i) ?? []) set(valueBits(v), i);
    });
    return { without, byValue };
  };
  // For groups, OR-ing per-group bitsets must not re-add rules: store only the rules naming the group.
  const groupsField = (): Field => {
    const f = field((r) => r.when.initiatorGroups);
    for (const b of f.byValue.values()) for (let w = 0; w < words; w++) b[w]! &= ~f.without[w]!;
    return f;
  };
  // Destination and screening: evaluate each rule's own compiled condition against every possible fact.
  const byFact = <T>(
    name: 'destination' | 'screening',
    keys: [string, T][],
    ctx: (fact: T) => PolicyContext,
  ): Field => {
    const lists = rules.map((r) => {
      if (r.when[name] === undefined) return undefined;
      const cond = compileConditions({ [name]: r.when[name] })[0]!;
      const probe: PolicyRequest = { type: 'transfer', initiator: '-', destination: '-' };
      return keys.filter(([, fact]) => cond.test(probe, ctx(fact), 0) === HOLDS).map(([k]) => k);
    });
    return field(
      (_r, i) => lists[i],
      keys.map(([k]) => k),
    );
  };

  const needsList: { scope: string; windowSeconds: number; fiat: boolean }[] = [];
  const needOf = (scope: string, windowSeconds: number): number => {
    let n = needsList.findIndex((x) => x.scope === scope && x.windowSeconds === windowSeconds);
    if (n === NONE) n = needsList.push({ scope, windowSeconds, fiat: false }) - 1;
    return n;
  };
  const f64 = (fill: number) => new Float64Array(size).fill(fill);
  const ix: RuleIndex = {
    size,
    words,
    all,
    fields: {
      type: field((r) => r.when.requestType),
      wallet: field((r) => r.when.wallet),
      tier: field((r) => r.when.tier),
      chain: field((r) => r.when.chain),
      asset: field((r) => r.when.asset),
      initiator: field((r) => r.when.initiator),
      groups: groupsField(),
      destination: byFact('destination', DESTINATION_KEYS, (destination) => ({ destination })),
      screening: byFact(
        'screening',
        RISK_LEVELS.map((risk) => [risk, risk] as [string, (typeof RISK_LEVELS)[number]]),
        (risk) => ({
          screening: { risk },
        }),
      ),
    },
    outcomes,
    needsAmount: new Uint8Array(size),
    amountMin: f64(-Infinity),
    amountMax: f64(Infinity),
    amountMinExact: new Array(size).fill(undefined),
    amountMaxExact: new Array(size).fill(undefined),
    hasFiat: new Uint8Array(size),
    fiatMin: f64(-Infinity),
    fiatMax: f64(Infinity),
    fiatMinExact: new Array(size).fill(undefined),
    fiatMaxExact: new Array(size).fill(undefined),
    velocityNeed: new Int32Array(size).fill(NONE),
    velocityMaxUnits: f64(Infinity),
    velocityMaxFiat: f64(Infinity),
    velocityMaxUnitsExact: new Array(size).fill(undefined),
    velocityMaxFiatExact: new Array(size).fill(undefined),
    timeWindow: new Array(size).fill(undefined),
    needs: needsList,
    uses: { tier: false, groups: false, destination: false, screening: false, fiat: false },
    candidates: bits(),
    scratch: bits(),
    velocityUnits: [],
    velocityFiat: [],
    velocityUnitsD: [],
    velocityFiatD: [],
  };
  rules.forEach((r, i) => {
    const w = r.when;
    if (w.amount) {
      ix.needsAmount[i] = 1;
      if (w.amount.min !== undefined)
        [ix.amountMin[i], ix.amountMinExact[i]] = [Number(w.amount.min), BigInt(w.amount.min)];
      if (w.amount.max !== undefined)
        [ix.amountMax[i], ix.amountMaxExact[i]] = [Number(w.amount.max), BigInt(w.amount.max)];
    }
    if (w.fiat) {
      ix.hasFiat[i] = 1;
      ix.uses.fiat = true;
      if (w.fiat.min !== undefined)
        [ix.fiatMin[i], ix.fiatMinExact[i]] = [Number(w.fiat.min), BigInt(w.fiat.min)];
      if (w.fiat.max !== undefined)
        [ix.fiatMax[i], ix.fiatMaxExact[i]] = [Number(w.fiat.max), BigInt(w.fiat.max)];
    }
    if (w.velocity) {
      const n = needOf(w.velocity.scope, w.velocity.windowSeconds);
      ix.velocityNeed[i] = n;
      if (w.velocity.maxUnits !== undefined) {
        [ix.velocityMaxUnits[i], ix.velocityMaxUnitsExact[i]] = [
          Number(w.velocity.maxUnits),
          BigInt(w.velocity.maxUnits),
        ];
      }
      if (w.velocity.maxFiat !== undefined) {
        [ix.velocityMaxFiat[i], ix.velocityMaxFiatExact[i]] = [
          Number(w.velocity.maxFiat),
          BigInt(w.velocity.maxFiat),
        ];
        needsList[n]!.fiat = true;
        ix.uses.fiat = true;
      }
    }
    if (w.timeWindow) ix.timeWindow[i] = compileConditions({ timeWindow: w.timeWindow })[0];
    ix.uses.tier ||= w.tier !== undefined;
    ix.uses.groups ||= w.initiatorGroups !== undefined;
    ix.uses.destination ||= w.destination !== undefined;
    ix.uses.screening ||= w.screening !== undefined;
  });
  return ix;
}

/** x ≤ y, given both as doubles (monotonic rounding of the bigints) and, for ties, exactly. */
function le(xd: number, x: bigint, yd: number, y: bigint | undefined): boolean {
  return xd < yd || (xd === yd && (y === undefined || x <= y));
}

function and(target: Bits, field: Field, value: string | undefined, words: number): void {
  const b = value === undefined ? field.without : (field.byValue.get(value) ?? field.without);
  for (let w = 0; w < words; w++) target[w]! &= b[w]!;
}

/**
 * The matching rule's outcome, null for the default deny, or undefined when the context lacks a fact that
 * some rule needs (the caller then evaluates rule by rule).
 */
export function fastOutcome(
  ix: RuleIndex,
  r: PolicyRequest,
  c: PolicyContext,
  now: number,
): RuleOutcome | null | undefined {
  const { uses, words, needs } = ix;
  const amount = r.amount;
  if (uses.tier && r.wallet !== undefined && c.tier === undefined) return undefined;
  if (uses.groups && c.initiatorGroups === undefined) return undefined;
  if (uses.destination && r.destination !== undefined && c.destination === undefined) return undefined;
  if (uses.screening && c.screening === undefined) return undefined;
  if (uses.fiat && amount !== undefined && c.fiat === undefined) return undefined;
  if (amount !== undefined) {
    for (let n = 0; n < needs.length; n++) {
      const need = needs[n]!;
      const sum = c.velocity?.find((s) => s.scope === need.scope && s.windowSeconds === need.windowSeconds);
      if (sum === undefined || (need.fiat && sum.fiat === undefined)) return undefined;
      const units = sum.units + amount;
      const fiat = sum.fiat === undefined || c.fiat === undefined ? undefined : sum.fiat + c.fiat;
      ix.velocityUnits[n] = units;
      ix.velocityUnitsD[n] = Number(units);
      ix.velocityFiat[n] = fiat;
      ix.velocityFiatD[n] = fiat === undefined ? NaN : Number(fiat);
    }
  }

  const cand = ix.candidates;
  cand.set(ix.all);
  const f = ix.fields;
  and(cand, f.type, r.type, words);
  and(cand, f.wallet, r.wallet, words);
  and(cand, f.tier, r.wallet === undefined ? undefined : c.tier, words);
  and(cand, f.chain, r.chain, words);
  and(cand, f.asset, r.asset, words);
  and(cand, f.initiator, r.initiator, words);
  if (uses.groups) {
    const g = ix.scratch;
    g.set(f.groups.without);
    for (const group of c.initiatorGroups!) {
      const b = f.groups.byValue.get(group);
      if (b) for (let w = 0; w < words; w++) g[w]! |= b[w]!;
    }
    for (let w = 0; w < words; w++) cand[w]! &= g[w]!;
  }
  if (uses.destination)
    and(cand, f.destination, r.destination === undefined ? undefined : destinationKey(c.destination!), words);
  if (uses.screening) and(cand, f.screening, c.screening!.risk, words);

  const ad = amount === undefined ? NaN : Number(amount);
  const fiat = c.fiat;
  const fd = fiat === undefined ? NaN : Number(fiat);
  for (let w = 0; w < words; w++) {
    let word = cand[w]!;
    while (word !== 0) {
      const low = word & -word;
      word ^= low;
      const i = (w << 5) + 31 - Math.clz32(low);
      if (ix.needsAmount[i] === 1) {
        if (amount === undefined) continue;
        if (
          !le(ix.amountMin[i]!, ix.amountMinExact[i] ?? 0n, ad, amount) ||
          !le(ad, amount, ix.amountMax[i]!, ix.amountMaxExact[i])
        )
          continue;
      }
      if (ix.hasFiat[i] === 1) {
        if (amount === undefined) continue;
        if (
          !le(ix.fiatMin[i]!, ix.fiatMinExact[i] ?? 0n, fd, fiat!) ||
          !le(fd, fiat!, ix.fiatMax[i]!, ix.fiatMaxExact[i])
        )
          continue;
      }
      const tw = ix.timeWindow[i];
      if (tw !== undefined && tw.test(r, c, now) !== HOLDS) continue;
      const n = ix.velocityNeed[i]!;
      if (n !== NONE) {
        if (amount === undefined) continue;
        if (
          !le(
            ix.velocityUnitsD[n]!,
            ix.velocityUnits[n]!,
            ix.velocityMaxUnits[i]!,
            ix.velocityMaxUnitsExact[i],
          )
        )
          continue;
        if (ix.velocityMaxFiatExact[i] !== undefined) {
          if (
            !le(ix.velocityFiatD[n]!, ix.velocityFiat[n]!, ix.velocityMaxFiat[i]!, ix.velocityMaxFiatExact[i])
          )
            continue;
        }
      }
      return ix.outcomes[i]!;
    }
  }
  return null;
}
