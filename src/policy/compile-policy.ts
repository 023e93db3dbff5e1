/**
 * A policy compiled once for fast, repeated evaluation: rules in order, each with its conditions as
 * closures over pre-parsed bigints and sets, and a frozen result to hand back when it matches.
 */
import type { Digest } from '../domain/canonical.ts';
import { compileConditions, type CompiledCondition } from './conditions.ts';
import { normalizePolicy, policyDigest, validatePolicy } from './parse-policy.ts';
import type { DecisionName, PolicyDocument, VelocityScopeName } from './policy-schema.ts';
import type { WorkflowSpec } from './workflow-spec.ts';
import { buildRuleIndex, type RuleIndex } from './rule-index.ts';

/** The outcome of a matched rule (or of the default deny when `ruleId` is null). */
export interface RuleOutcome {
  readonly decision: DecisionName;
  readonly ruleId: string | null;
  readonly workflow?: WorkflowSpec;
}

export interface CompiledRule {
  readonly id: string;
  readonly index: number;
  readonly conditions: readonly CompiledCondition[];
  readonly outcome: RuleOutcome;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly digest: Digest;
  /** The normalized document this was compiled from. */
  readonly document: PolicyDocument;
  readonly rules: readonly CompiledRule[];
  /** Velocity sums the context must carry for this policy: what the service computes before evaluating. */
  readonly velocityNeeds: readonly { readonly scope: VelocityScopeName; readonly windowSeconds: number }[];
  /** @internal the fast path's bitsets and typed arrays (see rule-index.ts). */
  readonly index: RuleIndex;
}

/** Validates (E_POLICY_INVALID) and compiles a document. */
export function compilePolicy(doc: PolicyDocument): CompiledPolicy {
  const document = normalizePolicy(validatePolicy(doc));
  const needs = new Map<string, { scope: VelocityScopeName; windowSeconds: number }>();
  const rules = document.rules.map((rule, index): CompiledRule => {
    const v = rule.when.velocity;
    if (v)
      needs.set(
        `${v.scope}/${v.windowSeconds}`,
        Object.freeze({ scope: v.scope, windowSeconds: v.windowSeconds }),
      );
    const outcome: RuleOutcome =
      typeof rule.action === 'string'
        ? { decision: rule.action, ruleId: rule.id }
        : {
            decision: 'workflow',
            ruleId: rule.id,
            workflow: deepFreeze(rule.action.workflow as WorkflowSpec),
          };
    return Object.freeze({
      id: rule.id,
      index,
      conditions: Object.freeze(compileConditions(rule.when)),
      outcome: Object.freeze(outcome),
    });
  });
  return Object.freeze({
    name: document.name,
    digest: policyDigest(document),
    document: deepFreeze(document),
    rules: Object.freeze(rules),
    index: buildRuleIndex(
      document.rules,
      rules.map((r) => r.outcome),
    ),
    velocityNeeds: Object.freeze([...needs.values()]),
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
