/**
 * Replays past requests, with the context recorded for each, against a draft policy and the current one,
 * and lists every request whose outcome (decision, or workflow) would change. Velocity sums are those
 * recorded at the time, which reflect what the current policy approved then.
 */
import { canonicalize } from '../domain/canonical.ts';
import type { CompiledPolicy, RuleOutcome } from './compile-policy.ts';
import { evaluate } from './evaluate.ts';
import type { PolicyContext, PolicyRequest } from './evaluation-input.ts';

export interface PastRequest {
  readonly requestId: string;
  readonly request: PolicyRequest;
  readonly context: PolicyContext;
  /** When it was evaluated, ms since the epoch. */
  readonly at: number;
}

export interface ChangedOutcome {
  readonly requestId: string;
  readonly before: RuleOutcome;
  readonly after: RuleOutcome;
}

const outcome = ({ decision, ruleId, workflow }: RuleOutcome): RuleOutcome =>
  workflow ? { decision, ruleId, workflow } : { decision, ruleId };
const same = (a: RuleOutcome, b: RuleOutcome) =>
  a.decision === b.decision &&
  (a.workflow === b.workflow ||
    (a.workflow !== undefined &&
      b.workflow !== undefined &&
      canonicalize(a.workflow) === canonicalize(b.workflow)));

/** Outcomes that differ between `current` and `draft` (a change of matching rule alone is not listed). */
export function simulate(
  draft: CompiledPolicy,
  current: CompiledPolicy,
  pastRequests: readonly PastRequest[],
): ChangedOutcome[] {
  const changed: ChangedOutcome[] = [];
  for (const p of pastRequests) {
    const before = outcome(evaluate(current, p.request, p.context, p.at, { trace: false }));
    const after = outcome(evaluate(draft, p.request, p.context, p.at, { trace: false }));
    if (!same(before, after)) changed.push({ requestId: p.requestId, before, after });
  }
  return changed;
}
