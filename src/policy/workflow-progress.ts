/**
 * Where a workflow stands, from the approvals recorded so far. Pure: the caller has already verified each
 * approval's signature and resolved the approver's groups in the governance state in force.
 *
 * Rules, in the order they apply:
 * - Approvals are taken in time order (ties: rejections first, then by user and key, so the order of the
 *   input never matters). Ones signed before the request was created or after `now` are ignored.
 * - Steps are sequential. An approval counts toward the step that is active when it was signed, if the
 *   approver is a member of that step's group, is not the initiator (when `excludeInitiator`), was not
 *   counted for an earlier step (when `distinctFromEarlierSteps`) and has not already been counted for this
 *   step (two keys of one user count once). An approver of a later step approves once that step is active.
 * - One rejection ends the request while it is pending, if the rejecting user could approve some step.
 * - Nothing counts at or after the expiry (createdAt + expiresInSeconds); a request still pending then is
 *   expired.
 * - With a time-lock, a request whose last step is complete waits `seconds` from that moment; a rejection
 *   by a member of the veto group during the wait rejects it.
 */
import type { WorkflowSpec } from './workflow-spec.ts';

export interface RecordedApproval {
  readonly userId: string;
  readonly keyId: string;
  /** The approver's groups in the governance state in force. */
  readonly groups: readonly string[];
  readonly kind: 'approval' | 'rejection';
  /** Signing time, ms since the epoch. */
  readonly at: number;
}

export interface WorkflowInput {
  readonly initiatorUserId: string;
  readonly approvals: readonly RecordedApproval[];
  /** ms since the epoch. */
  readonly now: number;
  readonly createdAt: number;
}

export type WorkflowState = 'pending' | 'approved' | 'rejected' | 'expired' | 'time_locked';

export interface WorkflowProgress {
  readonly state: WorkflowState;
  /** Index of the active step; equals the number of steps once all are complete. */
  readonly step: number;
  /** The steps completed so far, with the users counted for each (in the order they approved). */
  readonly satisfied: readonly {
    readonly step: number;
    readonly group: string;
    readonly approvers: readonly string[];
  }[];
  /** Approvals still needed at the active step (0 when none are). */
  readonly missing: number;
  readonly expiresAt: number;
  /** When the last step was completed. */
  readonly completedAt?: number;
  readonly timeLockEndsAt?: number;
  readonly rejectedBy?: string;
  /** One line per fact that decided the state, for people. */
  readonly explanation: readonly string[];
}

function byTime(a: RecordedApproval, b: RecordedApproval): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.kind !== b.kind) return a.kind === 'rejection' ? -1 : 1;
  if (a.userId !== b.userId) return a.userId < b.userId ? -1 : 1;
  return a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
}

/**
 * @example
 * progressWorkflow(rule.workflow, { initiatorUserId: 'usr_a', approvals, now: Date.now(), createdAt })
 * // → { state: 'pending', step: 1, missing: 1, ... }
 */
export function progressWorkflow(workflow: WorkflowSpec, input: WorkflowInput): WorkflowProgress {
  const { steps } = workflow;
  const { initiatorUserId, now, createdAt } = input;
  const expiresAt = createdAt + workflow.expiresInSeconds * 1000;
  const explanation: string[] = [];
  const counted: string[][] = steps.map(() => []);
  const earlier = new Set<string>();
  const canApprove = (a: RecordedApproval, s: number): boolean => {
    const step = steps[s]!;
    return a.groups.includes(step.group) && !(step.excludeInitiator && a.userId === initiatorUserId);
  };
  const satisfied = () =>
    counted.flatMap((approvers, s) => (s < active ? [{ step: s, group: steps[s]!.group, approvers }] : []));
  const approvals = input.approvals.filter((a) => a.at >= createdAt && a.at <= now).sort(byTime);
  let active = 0;
  let completedAt: number | undefined;

  for (const a of approvals) {
    if (completedAt === undefined) {
      if (a.at >= expiresAt) break;
      if (a.kind === 'rejection') {
        if (steps.some((_, s) => canApprove(a, s))) {
          explanation.push(`rejected by ${a.userId} at step ${active + 1}`);
          return {
            state: 'rejected',
            step: active,
            satisfied: satisfied(),
            missing: 0,
            expiresAt,
            rejectedBy: a.userId,
            explanation,
          };
        }
        continue;
      }
      const step = steps[active]!;
      const mine = counted[active]!;
      if (!canApprove(a, active) || mine.includes(a.userId)) continue;
      if (step.distinctFromEarlierSteps && earlier.has(a.userId)) continue;
      mine.push(a.userId);
      if (mine.length === step.k) {
        explanation.push(`step ${active + 1} (${step.k} of ${step.group}) complete: ${mine.join(', ')}`);
        for (const u of mine) earlier.add(u);
        active++;
        if (active === steps.length) completedAt = a.at;
      }
    } else if (
      workflow.timeLock &&
      a.kind === 'rejection' &&
      a.groups.includes(workflow.timeLock.vetoGroup)
    ) {
      const endsAt = completedAt + workflow.timeLock.seconds * 1000;
      if (a.at < endsAt) {
        explanation.push(`vetoed by ${a.userId} (${workflow.timeLock.vetoGroup}) during the time-lock`);
        return {
          state: 'rejected',
          step: active,
          satisfied: satisfied(),
          missing: 0,
          expiresAt,
          completedAt,
          timeLockEndsAt: endsAt,
          rejectedBy: a.userId,
          explanation,
        };
      }
    }
  }

  if (completedAt === undefined) {
    const step = steps[active]!;
    const missing = step.k - counted[active]!.length;
    if (now >= expiresAt) {
      explanation.push(`expired at step ${active + 1}: ${missing} more of ${step.group} were needed`);
      return { state: 'expired', step: active, satisfied: satisfied(), missing, expiresAt, explanation };
    }
    explanation.push(`waiting for ${missing} more of ${step.group} at step ${active + 1} of ${steps.length}`);
    return { state: 'pending', step: active, satisfied: satisfied(), missing, expiresAt, explanation };
  }
  if (workflow.timeLock) {
    const timeLockEndsAt = completedAt + workflow.timeLock.seconds * 1000;
    if (now < timeLockEndsAt) {
      explanation.push(
        `time-locked until ${new Date(timeLockEndsAt).toISOString()}; ${workflow.timeLock.vetoGroup} may veto`,
      );
      return {
        state: 'time_locked',
        step: active,
        satisfied: satisfied(),
        missing: 0,
        expiresAt,
        completedAt,
        timeLockEndsAt,
        explanation,
      };
    }
    explanation.push('time-lock passed without a veto');
    return {
      state: 'approved',
      step: active,
      satisfied: satisfied(),
      missing: 0,
      expiresAt,
      completedAt,
      timeLockEndsAt,
      explanation,
    };
  }
  return {
    state: 'approved',
    step: active,
    satisfied: satisfied(),
    missing: 0,
    expiresAt,
    completedAt,
    explanation,
  };
}
