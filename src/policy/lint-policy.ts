/**
 * Warnings a publisher should see: rules that can never match because an earlier rule matches everything
 * they match (first match wins). Conservative: a warning is only given when the earlier rule's conditions
 * are a subset of the later rule's kinds of condition and each is equal or wider; other overlaps are not
 * reported.
 */
import { RISK_LEVELS, type ConditionsJson, type PolicyDocument, type RangeJson } from './policy-schema.ts';
import { minutes } from './parse-policy.ts';

export interface PolicyWarning {
  readonly code: 'W_RULE_SHADOWED';
  readonly ruleId: string;
  readonly shadowedBy: string;
  readonly message: string;
}

const LISTS = ['requestType', 'wallet', 'tier', 'chain', 'asset', 'initiator', 'initiatorGroups'] as const;

const superset = (
  wide: readonly string[] | readonly number[],
  narrow: readonly string[] | readonly number[],
) =>
  (narrow as readonly (string | number)[]).every((v) => (wide as readonly (string | number)[]).includes(v));

function rangeCovers(wide: RangeJson, narrow: RangeJson): boolean {
  const lowOk =
    wide.min === undefined || (narrow.min !== undefined && BigInt(wide.min) <= BigInt(narrow.min));
  const highOk =
    wide.max === undefined || (narrow.max !== undefined && BigInt(wide.max) >= BigInt(narrow.max));
  return lowOk && highOk;
}

function maxCovers(wide: string | undefined, narrow: string | undefined): boolean {
  return wide === undefined || (narrow !== undefined && BigInt(wide) >= BigInt(narrow));
}

/** Does every request matching `narrow` also match `wide`? (true only when provably so) */
export function conditionsCover(wide: ConditionsJson, narrow: ConditionsJson): boolean {
  for (const name of LISTS) {
    const w = wide[name];
    if (w === undefined) continue;
    const n = narrow[name];
    if (n === undefined || !superset(w, n)) return false;
  }
  if (wide.amount && !(narrow.amount && rangeCovers(wide.amount, narrow.amount))) return false;
  if (wide.fiat && !(narrow.fiat && rangeCovers(wide.fiat, narrow.fiat))) return false;
  if (wide.destination && wide.destination.kind !== 'any') {
    const w = wide.destination;
    const n = narrow.destination;
    if (!n || n.kind !== w.kind) return false;
    if (w.trust && !(n.trust && superset(w.trust, n.trust))) return false;
    if (w.unlockedOnly && !n.unlockedOnly) return false;
  } else if (wide.destination && !narrow.destination) {
    return false; // "any" still needs the request to have a destination
  }
  if (wide.timeWindow) {
    const w = wide.timeWindow;
    const n = narrow.timeWindow;
    if (!n || !superset(w.days, n.days) || minutes(w.from) > minutes(n.from) || minutes(w.to) < minutes(n.to))
      return false;
  }
  if (wide.screening) {
    const n = narrow.screening;
    if (!n || RISK_LEVELS.indexOf(wide.screening.maxRisk) < RISK_LEVELS.indexOf(n.maxRisk)) return false;
  }
  if (wide.velocity) {
    const w = wide.velocity;
    const n = narrow.velocity;
    if (!n || n.scope !== w.scope || n.windowSeconds !== w.windowSeconds) return false;
    if (!maxCovers(w.maxUnits, n.maxUnits) || !maxCovers(w.maxFiat, n.maxFiat)) return false;
  }
  return true;
}

export function lintPolicy(doc: PolicyDocument): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  doc.rules.forEach((rule, j) => {
    for (let i = 0; i < j; i++) {
      const earlier = doc.rules[i]!;
      if (conditionsCover(earlier.when, rule.when)) {
        warnings.push({
          code: 'W_RULE_SHADOWED',
          ruleId: rule.id,
          shadowedBy: earlier.id,
          message: `rule "${rule.id}" can never match: rule "${earlier.id}" comes first and matches everything it does`,
        });
        break;
      }
    }
  });
  return warnings;
}
