/**
 * Applying one governance request to the state it was made against: the only way a state changes.
 * Checks, in this order: the request's shape; tenant and base state; time; the initiator's signature;
 * approvals and quorum (or, for a freeze, that the initiator is in the freeze group); the change itself;
 * liveness of the result. The result is a new state whose `prev` is the old state's digest.
 */
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { tallyApprovals, type GovernanceApproval } from './approval.ts';
import { eligibleMembers, stateDigest, type GovernanceState } from './governance-state.ts';
import {
  requestDigest,
  validateGovernanceRequest,
  type SignedGovernanceRequest,
} from './governance-request.ts';
import { assertLive } from './liveness.ts';
import { requestStatementBytes, verifyUserSignature } from './signatures.ts';
import { transition } from './transitions.ts';

/** One link of the governance chain: a signed request and the approvals that carried it. */
export interface GovernanceTransition extends SignedGovernanceRequest {
  readonly approvals: readonly GovernanceApproval[];
}

export interface ApplyOptions {
  /** Current time, epoch milliseconds. The request must not have expired by then. */
  readonly now: number;
  /** Tolerated lead of signers' clocks over `now` (default 5 minutes). */
  readonly clockSkewMs?: number;
}

export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Applies a signed request with its approvals to `state`, as of `now`.
 *
 * Throws: E_VALIDATION (malformed request or approval), E_GOVERNANCE_CHAIN_INVALID (other tenant, or
 * `baseState` is not `state`), E_REQUEST_EXPIRED, E_SIGNATURE_FUTURE, E_KEY_UNKNOWN / E_KEY_REVOKED /
 * E_SIGNATURE_INVALID (initiator or approver), E_FORBIDDEN (approver outside the governance group, freeze
 * by a non-member), E_DIGEST_MISMATCH, E_REQUEST_REJECTED, E_QUORUM_INCOMPLETE (details: required,
 * counted, approvers), E_NOT_FOUND / E_CONFLICT / E_POLICY_INVALID (the change does not fit the state),
 * E_QUORUM_UNSATISFIABLE (the change would break liveness; details.problems).
 */
export function applyGovernanceRequest(
  state: GovernanceState,
  signed: SignedGovernanceRequest,
  approvals: readonly GovernanceApproval[],
  options: ApplyOptions,
): GovernanceState {
  if (!Number.isFinite(options?.now)) {
    throw new StrongroomError('E_VALIDATION', 'now must be epoch milliseconds', {
      details: { parameter: 'now' },
    });
  }
  return applyTransition(
    state,
    { ...signed, approvals },
    { now: options.now, skew: options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS, live: true },
  );
}

interface Timing {
  /** When given, nothing may be signed after now + skew. */
  readonly now?: number;
  readonly skew: number;
  /** Also require that the request is still open at `now` (false when re-verifying history). */
  readonly live: boolean;
}

/**
 * @internal shared by `applyGovernanceRequest` and chain verification, which passes the digest of `state`
 * it already has (hashing a large state is the dominant cost of verifying a chain).
 */
export function applyTransition(
  state: GovernanceState,
  t: GovernanceTransition,
  timing: Timing,
  base: Digest = stateDigest(state),
): GovernanceState {
  if (t === null || typeof t !== 'object') {
    throw new StrongroomError('E_VALIDATION', 'transition must be an object', {
      details: { field: 'transition' },
    });
  }
  const request = validateGovernanceRequest(t.request);
  const digest: Digest = requestDigest(request);
  if (request.tenant !== state.tenant) {
    throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'request is for another tenant', {
      details: { tenant: request.tenant, expected: state.tenant },
    });
  }
  if (request.baseState !== base) {
    throw new StrongroomError(
      'E_GOVERNANCE_CHAIN_INVALID',
      'request was made against another governance state',
      {
        details: { baseState: request.baseState, current: base, height: state.height },
        hints: ['re-create and re-sign the request against the current governance head'],
      },
    );
  }
  const created = Date.parse(request.createdAt);
  const notAfter = timing.now === undefined ? undefined : timing.now + timing.skew;
  if (notAfter !== undefined && created > notAfter) {
    throw new StrongroomError('E_SIGNATURE_FUTURE', 'request is dated in the future', {
      details: { createdAt: request.createdAt },
    });
  }
  if (timing.live && timing.now! > Date.parse(request.expiresAt)) {
    throw new StrongroomError('E_REQUEST_EXPIRED', 'governance request has expired', {
      details: { expiresAt: request.expiresAt },
    });
  }
  verifyUserSignature(
    state,
    { userId: request.initiator, keyId: request.keyId, signature: t.initiatorSignature },
    requestStatementBytes(digest),
    'initiator',
  );

  let effectiveAt = created;
  if (request.kind === 'freeze') {
    // Freezing must be fast and needs one person: the initiator's own signature is the whole evidence.
    if (!eligibleMembers(state, state.freezeGroup).includes(request.initiator)) {
      throw new StrongroomError('E_FORBIDDEN', `only members of ${state.freezeGroup} may freeze`, {
        details: { initiator: request.initiator, freezeGroup: state.freezeGroup },
      });
    }
    if (!Array.isArray(t.approvals) || t.approvals.length > 0) {
      throw new StrongroomError('E_VALIDATION', 'a freeze carries no approvals', {
        details: { field: 'approvals' },
      });
    }
  } else {
    const tally = tallyApprovals(state, request, t.approvals, {
      requestDigest: digest,
      ...(notAfter !== undefined ? { notAfter } : {}),
    });
    if (tally.rejecters.length > 0) {
      throw new StrongroomError(
        'E_REQUEST_REJECTED',
        `governance request rejected by ${tally.rejecters.join(', ')}`,
        {
          details: { rejectedBy: tally.rejecters },
        },
      );
    }
    const { group, k } = state.governance;
    if (tally.approvers.length < k) {
      throw new StrongroomError(
        'E_QUORUM_INCOMPLETE',
        `${tally.approvers.length} of ${k} approvals from ${group}`,
        {
          details: { group, required: k, counted: tally.approvers.length, approvers: tally.approvers },
        },
      );
    }
    effectiveAt = Math.max(created, tally.lastApprovalAt ?? created);
  }

  const changed = transition(state, request);
  const next: GovernanceState = {
    ...changed,
    height: state.height + 1,
    prev: base,
    changedBy: digest,
    at: new Date(effectiveAt).toISOString(),
  };
  assertLive(next, request.kind);
  return next;
}
