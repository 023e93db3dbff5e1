/**
 * The governance facts the vault checks in a signing evidence bundle, once it has verified the chain to
 * a head state (GovernanceHeadTracker.accept): the policy presented is the one in force, the wallet is not
 * frozen, and each approver's signature comes from a current user's active key (with their groups, for
 * the policy engine's workflow checks).
 */
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { policyDigest, type PolicyDocument } from '../policy/index.ts';
import { groupsOf, isFrozen, type GovernanceState } from './governance-state.ts';
import { verifyUserSignature, type SignatureClaim } from './signatures.ts';

/** Throws E_EVIDENCE_INVALID unless `document` is the policy in force in `state`; returns its version and digest. */
export function assertPolicyInForce(
  state: GovernanceState,
  document: PolicyDocument,
): { version: number; digest: Digest } {
  const active = state.policies.active;
  if (active === null) {
    throw new StrongroomError('E_EVIDENCE_INVALID', 'no policy has been published', {
      details: { reason: 'no_policy' },
    });
  }
  let digest: Digest;
  try {
    digest = policyDigest(document);
  } catch (cause) {
    throw new StrongroomError('E_EVIDENCE_INVALID', 'the policy presented cannot be read', {
      details: { reason: 'policy_unreadable' },
      cause,
    });
  }
  if (digest !== active.digest) {
    throw new StrongroomError('E_EVIDENCE_INVALID', 'the policy presented is not the policy in force', {
      details: {
        reason: 'policy_not_in_force',
        presented: digest,
        inForce: active.digest,
        version: active.version,
      },
    });
  }
  return { version: active.version, digest };
}

/** Throws E_FROZEN when the tenant or this wallet is frozen in `state`. */
export function assertNotFrozen(state: GovernanceState, walletId: string): void {
  if (isFrozen(state, walletId)) {
    throw new StrongroomError(
      'E_FROZEN',
      state.freeze.tenant ? 'the tenant is frozen' : `wallet ${walletId} is frozen`,
      {
        details: { walletId, tenant: state.freeze.tenant },
        hints: ['unfreezing takes a governance request approved by the governance quorum'],
      },
    );
  }
}

/**
 * Verifies a signature by a current user of `state` (active user, active key) and returns who they are:
 * the identity the policy engine counts (one per user, however many keys) and their groups.
 * Throws like `verifyUserSignature` (E_KEY_UNKNOWN, E_KEY_REVOKED, E_SIGNATURE_INVALID).
 */
export function verifyCurrentSigner(
  state: GovernanceState,
  claim: SignatureClaim,
  data: Uint8Array,
  what: string,
): { userId: string; groups: string[] } {
  verifyUserSignature(state, claim, data, what);
  return { userId: claim.userId, groups: groupsOf(state, claim.userId) };
}
