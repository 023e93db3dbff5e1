/**
 * Verifying the governance chain: nothing stored is believed. From the genesis and its ceremony signatures,
 * every transition is re-applied with its signatures and approvals re-checked, and the resulting states
 * are recomputed here, so an edited field anywhere (a state, a request, an approval, a signature) makes
 * verification fail with E_GOVERNANCE_CHAIN_INVALID.
 */
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError, isStrongroomError } from '../domain/errors.ts';
import { applyTransition, DEFAULT_CLOCK_SKEW_MS, type GovernanceTransition } from './apply-request.ts';
import { verifyGenesis, type GenesisSignature } from './genesis.ts';
import { stateDigest, type GovernanceState } from './governance-state.ts';

export interface VerifiedGovernanceChain {
  readonly tenant: string;
  /** Digest of the genesis (height 0). */
  readonly genesis: Digest;
  /** The newest state, recomputed. */
  readonly head: GovernanceState;
  readonly headDigest: Digest;
  /** Digest of every state verified, in order; `digests[i]` is the state at height `fromHeight + i`. */
  readonly digests: readonly Digest[];
  readonly fromHeight: number;
}

export interface VerifyChainOptions {
  /** When given, nothing in the chain may be signed after now + clock skew. Expiry is judged per request. */
  readonly now?: number;
  readonly clockSkewMs?: number;
}

function broken(index: number, height: number, cause: unknown): StrongroomError {
  const reason = isStrongroomError(cause) ? cause.code : 'E_INTERNAL';
  return new StrongroomError(
    'E_GOVERNANCE_CHAIN_INVALID',
    `governance chain breaks at transition ${index} (height ${height}): ${reason}`,
    {
      details: {
        index,
        height,
        reason,
        ...(isStrongroomError(cause) ? { reasonDetails: cause.details } : {}),
      },
      cause,
    },
  );
}

/**
 * Re-applies `transitions` from genesis. Returns the head and every state's digest. Throws
 * E_GOVERNANCE_CHAIN_INVALID; `details.reason` holds the underlying code (e.g. E_SIGNATURE_INVALID,
 * E_QUORUM_INCOMPLETE) and `details.index` the transition (-1: the genesis).
 */
export function verifyGovernanceChain(
  genesis: GovernanceState,
  genesisSignatures: readonly GenesisSignature[],
  transitions: readonly GovernanceTransition[],
  options: VerifyChainOptions = {},
): VerifiedGovernanceChain {
  let genesisDigest: Digest;
  try {
    genesisDigest = verifyGenesis(genesis, genesisSignatures);
  } catch (e) {
    throw isStrongroomError(e, 'E_GOVERNANCE_CHAIN_INVALID') ? e : broken(-1, 0, e);
  }
  return { ...extendGovernanceChain(genesis, transitions, options), genesis: genesisDigest };
}

/**
 * Re-applies `transitions` from an already verified state (the vault's recorded head): the incremental form
 * of `verifyGovernanceChain`. The caller must have established that `from` is trusted, e.g. that its
 * digest is the head the vault recorded (GovernanceHeadTracker does this).
 */
export function extendGovernanceChain(
  from: GovernanceState,
  transitions: readonly GovernanceTransition[],
  options: VerifyChainOptions = {},
): Omit<VerifiedGovernanceChain, 'genesis'> {
  if (!Array.isArray(transitions)) {
    throw new StrongroomError('E_VALIDATION', 'transitions must be an array', {
      details: { parameter: 'transitions' },
    });
  }
  const timing = {
    ...(options.now !== undefined ? { now: options.now } : {}),
    skew: options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS,
    live: false,
  };
  let state = from;
  const digests: Digest[] = [stateDigest(from)];
  transitions.forEach((t, i) => {
    try {
      state = applyTransition(state, t, timing, digests[digests.length - 1]);
    } catch (e) {
      throw broken(i, state.height + 1, e);
    }
    digests.push(stateDigest(state));
  });
  return {
    tenant: from.tenant,
    head: state,
    headDigest: digests[digests.length - 1]!,
    digests,
    fromHeight: from.height,
  };
}

/**
 * Checks states as stored (e.g. rows in the database) against the verified chain: `states[i]` must be
 * exactly the recomputed state at `digests[i]`. Throws E_GOVERNANCE_CHAIN_INVALID naming the first that
 * differs, or when the lists differ in length.
 */
export function checkStoredStates(
  chain: Pick<VerifiedGovernanceChain, 'digests' | 'fromHeight'>,
  states: readonly GovernanceState[],
): void {
  if (!Array.isArray(states) || states.length !== chain.digests.length) {
    throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'stored states do not match the verified chain', {
      details: {
        reason: 'length',
        expected: chain.digests.length,
        got: Array.isArray(states) ? states.length : null,
      },
    });
  }
  states.forEach((s, i) => {
    if (stateDigest(s) !== chain.digests[i]) {
      throw new StrongroomError(
        'E_GOVERNANCE_CHAIN_INVALID',
        `stored state at height ${chain.fromHeight + i} was altered`,
        {
          details: { reason: 'E_DIGEST_MISMATCH', height: chain.fromHeight + i, expected: chain.digests[i] },
        },
      );
    }
  });
}
