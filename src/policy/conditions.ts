/**
 * One compiled check per condition kind. `test` is the hot path (no allocation, bigint comparisons);
 * `explain` runs only when a trace is wanted and says which bound failed and with what values.
 *
 * A condition that reads a fact the request simply does not have (an amount on a governance request)
 * fails. A condition that needs a recorded fact the context lacks (fiat price, screening, velocity sum,
 * groups, tier, destination class) is MISSING, which makes the whole evaluation deny: absent data must
 * never let a request slip past a deny rule into a later, looser one.
 */
import type { PolicyContext, PolicyRequest, VelocitySum } from './evaluation-input.ts';
import { minutes } from './parse-policy.ts';
import { RISK_LEVELS, type ConditionsJson, type RangeJson } from './policy-schema.ts';

export const HOLDS = 0;
export const FAILS = 1;
export const MISSING = 2;
export type Outcome = typeof HOLDS | typeof FAILS | typeof MISSING;

export type ConditionFailure =
  | {
      readonly condition: string;
      readonly expected: string | readonly string[];
      readonly actual: string | readonly string[] | null;
    }
  | { readonly condition: string; readonly missing: string };

export interface CompiledCondition {
  readonly name: keyof ConditionsJson;
  test(r: PolicyRequest, c: PolicyContext, now: number): Outcome;
  explain(r: PolicyRequest, c: PolicyContext, now: number): ConditionFailure;
}

/** The order conditions are checked in (cheap and request-only first); the trace names the first that fails. */
export const CONDITION_ORDER = [
  'requestType',
  'wallet',
  'tier',
  'chain',
  'asset',
  'initiator',
  'initiatorGroups',
  'destination',
  'amount',
  'fiat',
  'timeWindow',
  'screening',
  'velocity',
] as const satisfies readonly (keyof ConditionsJson)[];

const DAY_MS = 86_400_000;
const str = (v: bigint | undefined): string | null => (v === undefined ? null : v.toString());
const missing = (condition: string, what: string): ConditionFailure => ({ condition, missing: what });

function oneOf(
  name: 'requestType' | 'wallet' | 'chain' | 'asset' | 'initiator',
  list: readonly string[],
  read: (r: PolicyRequest) => string | undefined,
): CompiledCondition {
  const set = new Set(list);
  return {
    name,
    test: (r) => (set.has(read(r) as string) ? HOLDS : FAILS),
    explain: (r) => ({ condition: name, expected: list, actual: read(r) ?? null }),
  };
}

function tier(list: readonly string[]): CompiledCondition {
  const set = new Set(list);
  return {
    name: 'tier',
    test: (r, c) =>
      r.wallet === undefined ? FAILS : c.tier === undefined ? MISSING : set.has(c.tier) ? HOLDS : FAILS,
    explain: (r, c) =>
      r.wallet !== undefined && c.tier === undefined
        ? missing('tier', 'context.tier')
        : { condition: 'tier', expected: list, actual: r.wallet === undefined ? null : (c.tier ?? null) },
  };
}

function initiatorGroups(list: readonly string[]): CompiledCondition {
  const wanted = new Set(list);
  const anyOf = (groups: readonly string[]): boolean => {
    for (const g of groups) if (wanted.has(g)) return true;
    return false;
  };
  return {
    name: 'initiatorGroups',
    test: (_r, c) => (c.initiatorGroups === undefined ? MISSING : anyOf(c.initiatorGroups) ? HOLDS : FAILS),
    explain: (_r, c) =>
      c.initiatorGroups === undefined
        ? missing('initiatorGroups', 'context.initiatorGroups')
        : { condition: 'initiatorGroups', expected: list, actual: [...c.initiatorGroups] },
  };
}

function destination(d: NonNullable<ConditionsJson['destination']>): CompiledCondition {
  const trust = d.trust ? new Set<string>(d.trust) : undefined;
  const unlockedOnly = d.unlockedOnly === true;
  // Returns the failing sub-condition, or '' when the destination matches.
  const check = (r: PolicyRequest, c: PolicyContext): string => {
    if (r.destination === undefined) return 'destination';
    const dc = c.destination;
    if (dc === undefined) return 'missing';
    if (d.kind === 'any') return '';
    if (dc.kind !== d.kind) return 'destination.kind';
    if (dc.kind !== 'address_book') return '';
    if (trust !== undefined && !trust.has(dc.trust)) return 'destination.trust';
    if (unlockedOnly && dc.locked) return 'destination.unlockedOnly';
    return '';
  };
  return {
    name: 'destination',
    test: (r, c) => {
      const f = check(r, c);
      return f === '' ? HOLDS : f === 'missing' ? MISSING : FAILS;
    },
    explain: (r, c) => {
      const f = check(r, c);
      const dc = c.destination;
      if (f === 'missing') return missing('destination', 'context.destination');
      if (f === 'destination') return { condition: f, expected: d.kind, actual: null };
      if (f === 'destination.kind') return { condition: f, expected: d.kind, actual: dc?.kind ?? null };
      if (f === 'destination.trust' && dc?.kind === 'address_book')
        return { condition: f, expected: d.trust ?? [], actual: dc.trust };
      return { condition: 'destination.unlockedOnly', expected: 'unlocked', actual: 'locked' };
    },
  };
}

function range(
  name: 'amount' | 'fiat',
  r: RangeJson,
  read: (r: PolicyRequest, c: PolicyContext) => bigint | undefined | null,
): CompiledCondition {
  // `read` returns undefined when the request has nothing to measure (fails), null when the context lacks it.
  const min = r.min === undefined ? undefined : BigInt(r.min);
  const max = r.max === undefined ? undefined : BigInt(r.max);
  return {
    name,
    test: (req, c) => {
      const v = read(req, c);
      if (v === null) return MISSING;
      if (v === undefined) return FAILS;
      return (min !== undefined && v < min) || (max !== undefined && v > max) ? FAILS : HOLDS;
    },
    explain: (req, c) => {
      const v = read(req, c);
      if (v === null) return missing(name, `context.${name}`);
      if (v === undefined)
        return { condition: name, expected: `${r.min ?? '0'}..${r.max ?? ''}`, actual: null };
      if (min !== undefined && v < min)
        return { condition: `${name}.min`, expected: min.toString(), actual: v.toString() };
      return { condition: `${name}.max`, expected: String(max), actual: v.toString() };
    },
  };
}

function timeWindow(w: NonNullable<ConditionsJson['timeWindow']>): CompiledCondition {
  const days = new Set(w.days);
  const from = minutes(w.from);
  const to = minutes(w.to);
  const isoDay = (now: number) => ((((Math.floor(now / DAY_MS) + 3) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday (4)
  const minuteOfDay = (now: number) => Math.floor((((now % DAY_MS) + DAY_MS) % DAY_MS) / 60_000);
  const hhmm = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return {
    name: 'timeWindow',
    test: (_r, _c, now) => {
      const m = minuteOfDay(now);
      return days.has(isoDay(now)) && m >= from && m < to ? HOLDS : FAILS;
    },
    explain: (_r, _c, now) =>
      days.has(isoDay(now))
        ? { condition: 'timeWindow.time', expected: `${w.from}-${w.to} UTC`, actual: hhmm(minuteOfDay(now)) }
        : { condition: 'timeWindow.days', expected: w.days.map(String), actual: String(isoDay(now)) },
  };
}

function screening(maxRisk: string): CompiledCondition {
  const rank = (risk: string) => RISK_LEVELS.indexOf(risk as (typeof RISK_LEVELS)[number]);
  const limit = rank(maxRisk);
  return {
    name: 'screening',
    test: (_r, c) => (c.screening === undefined ? MISSING : rank(c.screening.risk) <= limit ? HOLDS : FAILS),
    explain: (_r, c) =>
      c.screening === undefined
        ? missing('screening', 'context.screening')
        : { condition: 'screening.maxRisk', expected: maxRisk, actual: c.screening.risk },
  };
}

function velocity(v: NonNullable<ConditionsJson['velocity']>): CompiledCondition {
  const maxUnits = v.maxUnits === undefined ? undefined : BigInt(v.maxUnits);
  const maxFiat = v.maxFiat === undefined ? undefined : BigInt(v.maxFiat);
  const { scope, windowSeconds } = v;
  const find = (c: PolicyContext): VelocitySum | undefined => {
    const sums = c.velocity;
    if (sums === undefined) return undefined;
    for (let i = 0; i < sums.length; i++) {
      const s = sums[i]!;
      if (s.windowSeconds === windowSeconds && s.scope === scope) return s;
    }
    return undefined;
  };
  const what = `context.velocity[${scope}/${windowSeconds}s]`;
  // Returns the failing sub-condition, '' when within limits, 'missing' when a needed sum or price is absent.
  const check = (r: PolicyRequest, c: PolicyContext): string => {
    if (r.amount === undefined) return 'velocity';
    const s = find(c);
    if (s === undefined) return 'missing';
    if (maxUnits !== undefined && s.units + r.amount > maxUnits) return 'velocity.maxUnits';
    if (maxFiat !== undefined) {
      if (s.fiat === undefined || c.fiat === undefined) return 'missing';
      if (s.fiat + c.fiat > maxFiat) return 'velocity.maxFiat';
    }
    return '';
  };
  return {
    name: 'velocity',
    test: (r, c) => {
      const f = check(r, c);
      return f === '' ? HOLDS : f === 'missing' ? MISSING : FAILS;
    },
    explain: (r, c) => {
      const f = check(r, c);
      const s = find(c);
      if (f === 'missing')
        return missing(
          'velocity',
          s === undefined ? what : c.fiat === undefined ? 'context.fiat' : `${what}.fiat`,
        );
      if (f === 'velocity') return { condition: f, expected: 'an amount', actual: null };
      if (f === 'velocity.maxUnits')
        return { condition: f, expected: String(maxUnits), actual: str(s!.units + r.amount!) };
      return { condition: 'velocity.maxFiat', expected: String(maxFiat), actual: str(s!.fiat! + c.fiat!) };
    },
  };
}

/** Compiles the conditions of one rule, in CONDITION_ORDER. */
export function compileConditions(when: ConditionsJson): CompiledCondition[] {
  const out: CompiledCondition[] = [];
  for (const name of CONDITION_ORDER) {
    switch (name) {
      case 'requestType':
        if (when.requestType) out.push(oneOf(name, when.requestType, (r) => r.type));
        break;
      case 'wallet':
        if (when.wallet) out.push(oneOf(name, when.wallet, (r) => r.wallet));
        break;
      case 'tier':
        if (when.tier) out.push(tier(when.tier));
        break;
      case 'chain':
        if (when.chain) out.push(oneOf(name, when.chain, (r) => r.chain));
        break;
      case 'asset':
        if (when.asset) out.push(oneOf(name, when.asset, (r) => r.asset));
        break;
      case 'initiator':
        if (when.initiator) out.push(oneOf(name, when.initiator, (r) => r.initiator));
        break;
      case 'initiatorGroups':
        if (when.initiatorGroups) out.push(initiatorGroups(when.initiatorGroups));
        break;
      case 'destination':
        if (when.destination) out.push(destination(when.destination));
        break;
      case 'amount':
        if (when.amount) out.push(range(name, when.amount, (r) => r.amount));
        break;
      case 'fiat':
        if (when.fiat)
          out.push(range(name, when.fiat, (r, c) => (r.amount === undefined ? undefined : (c.fiat ?? null))));
        break;
      case 'timeWindow':
        if (when.timeWindow) out.push(timeWindow(when.timeWindow));
        break;
      case 'screening':
        if (when.screening) out.push(screening(when.screening.maxRisk));
        break;
      case 'velocity':
        if (when.velocity) out.push(velocity(when.velocity));
        break;
    }
  }
  return out;
}
