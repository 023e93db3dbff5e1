/**
 * Liveness: no governance change may leave the tenant unable to act. After every change (and at genesis
 * and publish) these must still hold, or the change is refused with E_QUORUM_UNSATISFIABLE naming what
 * would break:
 *
 * 1. The governance quorum: the governance group has at least k *eligible* members (active users with at
 *    least one active key). The initiator of a governance request may be one of its k approvers, so no +1.
 * 2. The freeze group has at least one eligible member (otherwise nobody could freeze).
 * 3. Every workflow of the active policy can be completed by some set of eligible approvers, for the worst
 *    possible initiator. Exactly:
 *    - Possible initiators of a workflow are the eligible users its rule's `initiator` / `initiatorGroups`
 *      conditions admit (everyone eligible when it has neither).
 *    - For each possible initiator p (when some step excludes the initiator and p is in its group), step i
 *      may use the eligible members of its group, minus p when the step has `excludeInitiator`. So a step
 *      of k whose group contains possible initiators needs k + 1 eligible members; one whose group no
 *      possible initiator belongs to needs k.
 *    - A step needing approvers distinct from earlier steps must be staffed disjointly: the steps involved
 *      (each step with `distinctFromEarlierSteps` after the first, and every step before such a step) are
 *      checked together as a matching of distinct people to k slots per step. This is conservative in one
 *      rare case: a non-distinct step followed by a distinct one is treated as if it needed fresh people,
 *      although it could reuse earlier approvers.
 *    - A time-lock's veto group has at least one eligible member (otherwise the veto is a dead letter).
 *
 * The workflow shapes are derived from the policy document once, at publish (`policyRequirements`), and
 * kept in the state, so liveness is checked from the state alone.
 */
import { canonicalize } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import {
  normalizePolicy,
  validatePolicy,
  type PolicyDocument,
  type WorkflowStepSpec,
} from '../policy/index.ts';
import { eligibleMembers, isEligibleUser, type GovernanceState } from './governance-state.ts';

export interface PolicyRequirement {
  /** The ids of the rules whose workflow has this shape, in document order. */
  readonly rules: readonly string[];
  readonly steps: readonly WorkflowStepSpec[];
  /** Who can initiate what these rules govern: both lists must admit the initiator; absent = no limit. */
  readonly initiators: { readonly users?: readonly string[]; readonly groups?: readonly string[] };
  readonly vetoGroup: string | null;
}

export interface LivenessProblem {
  readonly what: 'governance_quorum' | 'freeze_group' | 'workflow_step' | 'workflow_distinct' | 'veto_group';
  readonly message: string;
  readonly group?: string;
  readonly k?: number;
  readonly eligible?: number;
  readonly rules?: readonly string[];
  /** 0-based step index. */
  readonly step?: number;
  /** The possible initiator for whom the workflow cannot complete. */
  readonly initiator?: string;
}

/** The workflow shapes of a policy document (validated; E_POLICY_INVALID otherwise), deduplicated. */
export function policyRequirements(document: PolicyDocument): PolicyRequirement[] {
  const doc = normalizePolicy(validatePolicy(document));
  const byShape = new Map<string, { rules: string[]; shape: Omit<PolicyRequirement, 'rules'> }>();
  for (const rule of doc.rules) {
    if (typeof rule.action === 'string') continue;
    const wf = rule.action.workflow;
    const initiators: { users?: string[]; groups?: string[] } = {};
    if (rule.when.initiator) initiators.users = [...rule.when.initiator].sort();
    if (rule.when.initiatorGroups) initiators.groups = [...rule.when.initiatorGroups].sort();
    const shape = {
      steps: wf.steps.map((s) => ({
        group: s.group,
        k: s.k,
        excludeInitiator: s.excludeInitiator ?? true,
        distinctFromEarlierSteps: s.distinctFromEarlierSteps ?? true,
      })),
      initiators,
      vetoGroup: wf.timeLock?.vetoGroup ?? null,
    };
    const key = canonicalize(shape);
    const seen = byShape.get(key);
    if (seen) seen.rules.push(rule.id);
    else byShape.set(key, { rules: [rule.id], shape });
  }
  return [...byShape.values()].map(({ rules, shape }) => ({ rules, ...shape }));
}

/** Every liveness problem of `state` (empty when it is live). */
export function livenessProblems(state: GovernanceState): LivenessProblem[] {
  const problems: LivenessProblem[] = [];
  const { group, k } = state.governance;
  const gov = eligibleMembers(state, group).length;
  if (gov < k) {
    problems.push({
      what: 'governance_quorum',
      message: `the governance quorum needs ${k} of ${group}, which would have ${gov} eligible member(s)`,
      group,
      k,
      eligible: gov,
    });
  }
  const freezers = eligibleMembers(state, state.freezeGroup).length;
  if (freezers < 1) {
    problems.push({
      what: 'freeze_group',
      message: `the freeze group ${state.freezeGroup} would have no eligible member`,
      group: state.freezeGroup,
      k: 1,
      eligible: 0,
    });
  }
  for (const req of state.policies.active?.requirements ?? []) problems.push(...workflowProblems(state, req));
  return problems;
}

/** Throws E_QUORUM_UNSATISFIABLE listing what would break; `change` names the change in the message. */
export function assertLive(state: GovernanceState, change: string): void {
  const problems = livenessProblems(state);
  if (problems.length === 0) return;
  throw new StrongroomError('E_QUORUM_UNSATISFIABLE', `${change} refused: ${problems[0]!.message}`, {
    details: { problems: problems.slice(0, 20), count: problems.length },
    hints: ['add or re-key members first, or lower the quorum / publish a policy that needs fewer approvers'],
  });
}

function workflowProblems(state: GovernanceState, req: PolicyRequirement): LivenessProblem[] {
  const problems: LivenessProblem[] = [];
  const rulesText = req.rules.length === 1 ? `rule ${req.rules[0]}` : `rules ${req.rules.join(', ')}`;
  if (req.vetoGroup !== null && eligibleMembers(state, req.vetoGroup).length < 1) {
    problems.push({
      what: 'veto_group',
      message: `${rulesText}: time-lock veto group ${req.vetoGroup} would have no eligible member`,
      group: req.vetoGroup,
      k: 1,
      eligible: 0,
      rules: req.rules,
    });
  }
  const initiators = possibleInitiators(state, req);
  if (initiators.length === 0) return problems; // these rules can never fire: nothing to keep alive
  const members = req.steps.map((s) => eligibleMembers(state, s.group));
  // Worst case: the initiator is whoever removes the most from excluding steps; try each who removes any.
  const excluding = new Set(req.steps.flatMap((s, i) => (s.excludeInitiator ? members[i]! : [])));
  const worstCases: (string | null)[] = initiators.filter((p) => excluding.has(p));
  if (worstCases.length === 0) worstCases.push(null);

  for (const p of worstCases) {
    const pools = req.steps.map((s, i) =>
      s.excludeInitiator && p !== null ? members[i]!.filter((u) => u !== p) : members[i]!,
    );
    const short = req.steps.findIndex((s, i) => pools[i]!.length < s.k);
    if (short >= 0) {
      const s = req.steps[short]!;
      const excl = s.excludeInitiator && p !== null && members[short]!.includes(p);
      problems.push({
        what: 'workflow_step',
        message:
          `${rulesText} step ${short + 1} needs ${s.k} of ${s.group}${excl ? ' besides the initiator' : ''}, ` +
          `which would have ${members[short]!.length} eligible member(s)`,
        group: s.group,
        k: s.k,
        eligible: members[short]!.length,
        rules: req.rules,
        step: short,
        ...(p !== null ? { initiator: p } : {}),
      });
      return problems;
    }
    const joint = req.steps.map(
      (_, i) =>
        (i > 0 && req.steps[i]!.distinctFromEarlierSteps) ||
        req.steps.slice(i + 1).some((s) => s.distinctFromEarlierSteps),
    );
    const slots = req.steps.map((s, i) => (joint[i] ? { k: s.k, pool: pools[i]! } : { k: 0, pool: [] }));
    if (!canStaff(slots)) {
      problems.push({
        what: 'workflow_distinct',
        message: `${rulesText}: not enough distinct eligible approvers for steps that must not reuse earlier approvers`,
        rules: req.rules,
        ...(p !== null ? { initiator: p } : {}),
      });
      return problems;
    }
  }
  return problems;
}

function possibleInitiators(state: GovernanceState, req: PolicyRequirement): string[] {
  const inGroups = req.initiators.groups
    ? new Set(req.initiators.groups.flatMap((g) => eligibleMembers(state, g)))
    : undefined;
  const candidates = req.initiators.users ?? Object.keys(state.users);
  return candidates
    .filter((u) => isEligibleUser(state, u) && (inGroups === undefined || inGroups.has(u)))
    .sort();
}

/**
 * Whether each step can get `k` different people from its pool with nobody used twice: bipartite
 * b-matching by augmenting paths (Kuhn's algorithm with a capacity per step).
 */
function canStaff(steps: readonly { k: number; pool: readonly string[] }[]): boolean {
  const ownerOf = new Map<string, number>();
  const augment = (step: number, visited: Set<string>): boolean => {
    for (const u of steps[step]!.pool) {
      if (visited.has(u)) continue;
      visited.add(u);
      const owner = ownerOf.get(u);
      if (owner === undefined || augment(owner, visited)) {
        ownerOf.set(u, step);
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < steps.length; i++) {
    for (let n = 0; n < steps[i]!.k; n++) if (!augment(i, new Set())) return false;
  }
  return true;
}
