/**
 * Pure evaluation: (policy, request, context, now) → decision and trace. Rules are tried in order and the
 * first whose conditions all hold decides; no match denies. The trace lists every rule tried: matched, or
 * the first condition that failed with the values compared. A condition needing a recorded fact that the
 * context lacks stops evaluation with a deny (`indeterminate`), whatever later rules say.
 */
import type { CompiledPolicy, RuleOutcome } from './compile-policy.ts';
import { FAILS, HOLDS, MISSING, type ConditionFailure, type Outcome } from './conditions.ts';
import type { PolicyContext, PolicyRequest } from './evaluation-input.ts';
import { fastOutcome } from './rule-index.ts';

export type TraceEntry =
  | { readonly ruleId: string; readonly matched: true }
  | ({ readonly ruleId: string; readonly matched: false } & ConditionFailure);

export interface Evaluation extends RuleOutcome {
  /** Empty when evaluated with `{ trace: false }`. */
  readonly trace: readonly TraceEntry[];
  /** Set when a needed fact was missing from the context; the decision is then deny. */
  readonly indeterminate?: { readonly ruleId: string; readonly condition: string; readonly missing: string };
}

export interface EvaluateOptions {
  /** Default true. `false` skips building the trace (the fast path). */
  trace?: boolean;
}

const NO_TRACE: readonly TraceEntry[] = Object.freeze([]);
const DEFAULT_DENY: RuleOutcome = Object.freeze({ decision: 'deny', ruleId: null });
const untraced = new WeakMap<RuleOutcome, Evaluation>();

/**
 * @example
 * const policy = compilePolicy(parsePolicyText(yamlText, 'yaml'));
 * const { decision, ruleId, trace } = evaluate(policy, request, context, Date.now());
 */
export function evaluate(
  policy: CompiledPolicy,
  request: PolicyRequest,
  context: PolicyContext,
  now: number,
  options: EvaluateOptions = {},
): Evaluation {
  const tracing = options.trace !== false;
  if (!tracing) {
    const fast = fastOutcome(policy.index, request, context, now);
    if (fast !== undefined) return frozenResult(fast ?? DEFAULT_DENY);
  }
  const rules = policy.rules;
  const trace: TraceEntry[] | undefined = tracing ? [] : undefined;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const conditions = rule.conditions;
    let outcome: Outcome = HOLDS;
    let j = 0;
    for (; j < conditions.length; j++) {
      outcome = conditions[j]!.test(request, context, now);
      if (outcome !== HOLDS) break;
    }
    if (outcome === HOLDS) {
      if (trace === undefined) return frozenResult(rule.outcome);
      trace.push({ ruleId: rule.id, matched: true });
      return { ...rule.outcome, trace };
    }
    if (outcome === MISSING) {
      const failure = conditions[j]!.explain(request, context, now);
      const missing = 'missing' in failure ? failure.missing : 'context';
      const indeterminate = { ruleId: rule.id, condition: failure.condition, missing };
      trace?.push({ ruleId: rule.id, matched: false, ...failure });
      return { ...DEFAULT_DENY, trace: trace ?? NO_TRACE, indeterminate };
    }
    if (trace !== undefined && outcome === FAILS) {
      trace.push({ ruleId: rule.id, matched: false, ...conditions[j]!.explain(request, context, now) });
    }
  }
  return trace === undefined ? frozenResult(DEFAULT_DENY) : { ...DEFAULT_DENY, trace };
}

// The fast path hands back one frozen object per rule, so an untraced evaluation allocates nothing.
function frozenResult(outcome: RuleOutcome): Evaluation {
  let r = untraced.get(outcome);
  if (r === undefined) {
    r = Object.freeze({ ...outcome, trace: NO_TRACE });
    untraced.set(outcome, r);
  }
  return r;
}
