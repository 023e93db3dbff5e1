/**
 * The newest governance head a vault has verified, and the rule that it only moves forward. Pure logic:
 * the vault holds the tracker, persists its record wherever it likes (the database is fine: the record is
 * authenticated with a MAC keyed from the tenant's master key, injected here as a function) and loads it
 * back through `load`, which refuses a record whose MAC fails.
 *
 * Forward only: a head lower than the recorded one, or at the same height with another digest, is a
 * rollback (E_GOVERNANCE_ROLLBACK); so is a chain that does not pass through the recorded head (a fork).
 * The genesis is recorded once; a chain from another genesis is refused.
 */
import { timingSafeEqual } from 'node:crypto';
import { canonicalize, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { decodeBase64Strict } from '../domain/keys.ts';
import type { GovernanceTransition } from './apply-request.ts';
import type { GenesisSignature } from './genesis.ts';
import { stateDigest, type GovernanceState } from './governance-state.ts';
import {
  extendGovernanceChain,
  verifyGovernanceChain,
  type VerifiedGovernanceChain,
  type VerifyChainOptions,
} from './verify-chain.ts';

export interface GovernanceHead {
  readonly tenant: string;
  /** Digest of the tenant's genesis, fixed at the first accept. */
  readonly genesis: Digest;
  readonly height: number;
  readonly digest: Digest;
}

export interface GovernanceHeadRecord extends GovernanceHead {
  /** Base64 MAC over `headMacBytes(head)`. */
  readonly mac: string;
}

/** The vault's MAC (e.g. HMAC-SHA-256 keyed from the master key). Must be deterministic. */
export type HeadMac = (bytes: Uint8Array) => Uint8Array;

/** Evidence that a new head descends from what the tracker knows. */
export type GovernanceChainProof =
  /** The whole chain: needed for the first accept, accepted at any time. */
  | {
      readonly genesis: GovernanceState;
      readonly genesisSignatures: readonly GenesisSignature[];
      readonly transitions: readonly GovernanceTransition[];
    }
  /** From the recorded head's own state onwards (its digest must be the recorded digest). */
  | { readonly from: GovernanceState; readonly transitions: readonly GovernanceTransition[] };

export interface AcceptResult {
  /** The record to persist (unchanged content when the head did not move). */
  readonly record: GovernanceHeadRecord;
  readonly chain: VerifiedGovernanceChain;
}

/** The bytes the MAC covers: domain-separated, so the MAC key's other uses cannot produce a valid record. */
export function headMacBytes(head: GovernanceHead): Uint8Array {
  return new TextEncoder().encode(
    canonicalize({
      kind: 'governance_head',
      tenant: head.tenant,
      genesis: head.genesis,
      height: head.height,
      digest: head.digest,
    }),
  );
}

function rollback(message: string, details: Record<string, unknown>): StrongroomError {
  return new StrongroomError('E_GOVERNANCE_ROLLBACK', message, {
    details,
    hints: ['the vault only accepts the governance head it last verified or a newer one descending from it'],
  });
}

export class GovernanceHeadTracker {
  readonly #tenant: string;
  readonly #mac: HeadMac;
  #head: GovernanceHead | null;

  private constructor(tenant: string, mac: HeadMac, head: GovernanceHead | null) {
    if (typeof mac !== 'function') {
      throw new StrongroomError('E_VALIDATION', 'mac must be a function', { details: { parameter: 'mac' } });
    }
    this.#tenant = tenant;
    this.#mac = mac;
    this.#head = head;
  }

  /** A tracker for a tenant with no recorded head yet (before its genesis is accepted). */
  static create(tenant: string, mac: HeadMac): GovernanceHeadTracker {
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new StrongroomError('E_VALIDATION', 'tenant is required', { details: { parameter: 'tenant' } });
    }
    return new GovernanceHeadTracker(tenant, mac, null);
  }

  /** Restores a tracker from its persisted record; E_GOVERNANCE_CHAIN_INVALID when the MAC fails. */
  static load(record: GovernanceHeadRecord, mac: HeadMac): GovernanceHeadTracker {
    const head: GovernanceHead = {
      tenant: record?.tenant,
      genesis: record?.genesis,
      height: record?.height,
      digest: record?.digest,
    };
    let presented: Uint8Array;
    try {
      presented = decodeBase64Strict(record.mac, 'mac');
    } catch {
      presented = new Uint8Array(0);
    }
    const expected = mac(headMacBytes(head));
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new StrongroomError(
        'E_GOVERNANCE_CHAIN_INVALID',
        'governance head record failed authentication',
        {
          details: { reason: 'mac' },
          hints: ['the stored head was altered, or belongs to another master key'],
        },
      );
    }
    if (typeof head.tenant !== 'string' || !Number.isSafeInteger(head.height) || head.height < 0) {
      throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'governance head record is malformed', {
        details: { reason: 'shape' },
      });
    }
    return new GovernanceHeadTracker(head.tenant, mac, head);
  }

  get tenant(): string {
    return this.#tenant;
  }

  /** The recorded head, or null before the genesis. */
  get head(): GovernanceHead | null {
    return this.#head;
  }

  /** The record to persist for the current head, or null before the genesis. */
  record(): GovernanceHeadRecord | null {
    return this.#head === null ? null : this.#sign(this.#head);
  }

  /** Throws E_GOVERNANCE_ROLLBACK unless `state` is exactly the recorded head's state. */
  assertHeadState(state: GovernanceState): void {
    const head = this.#head;
    if (head === null || state?.tenant !== head.tenant || stateDigest(state) !== head.digest) {
      throw rollback('this is not the governance head the vault recorded', {
        recorded: head?.digest ?? null,
      });
    }
  }

  /**
   * Verifies `proof` and moves the recorded head to `newHead` if it is the proof's head and does not go
   * back. Throws E_GOVERNANCE_ROLLBACK (older head, same height with another digest, or a chain that does
   * not pass through the recorded head) or E_GOVERNANCE_CHAIN_INVALID (proof fails, other tenant or genesis,
   * or `newHead` is not where the proof leads). Nothing changes when it throws.
   */
  accept(
    newHead: { readonly height: number; readonly digest: Digest },
    proof: GovernanceChainProof,
    options: VerifyChainOptions = {},
  ): AcceptResult {
    const recorded = this.#head;
    if (recorded !== null) {
      if (newHead.height < recorded.height) {
        throw rollback(`governance head ${newHead.height} is older than the recorded ${recorded.height}`, {
          height: newHead.height,
          recorded: recorded.height,
        });
      }
      if (newHead.height === recorded.height && newHead.digest !== recorded.digest) {
        throw rollback(`governance head at height ${newHead.height} differs from the recorded one`, {
          height: newHead.height,
          digest: newHead.digest,
          recorded: recorded.digest,
        });
      }
    }
    const chain = this.#verify(proof, options);
    const invalid = (message: string, reason: string) =>
      new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', message, { details: { reason } });
    if (chain.tenant !== this.#tenant) throw invalid('the chain is for another tenant', 'tenant');
    if (recorded !== null && chain.genesis !== recorded.genesis)
      throw invalid('the chain starts from another genesis', 'genesis');
    if (chain.headDigest !== newHead.digest || chain.head.height !== newHead.height) {
      throw invalid('the proof does not lead to the claimed head', 'head');
    }
    if (recorded !== null) {
      const onChain = chain.digests[recorded.height - chain.fromHeight];
      if (onChain !== recorded.digest) {
        throw rollback('the chain does not pass through the recorded governance head', {
          recorded: recorded.digest,
          height: recorded.height,
        });
      }
    }
    const head: GovernanceHead = {
      tenant: this.#tenant,
      genesis: chain.genesis,
      height: newHead.height,
      digest: newHead.digest,
    };
    const record = this.#sign(head);
    this.#head = head;
    return { record, chain };
  }

  #verify(proof: GovernanceChainProof, options: VerifyChainOptions): VerifiedGovernanceChain {
    if (proof !== null && typeof proof === 'object' && 'from' in proof) {
      if (this.#head === null) {
        throw new StrongroomError(
          'E_GOVERNANCE_CHAIN_INVALID',
          'no head recorded yet: prove the chain from genesis',
          { details: { reason: 'no_head' } },
        );
      }
      this.assertHeadState(proof.from);
      return {
        ...extendGovernanceChain(proof.from, proof.transitions, options),
        genesis: this.#head.genesis,
      };
    }
    return verifyGovernanceChain(proof.genesis, proof.genesisSignatures, proof.transitions, options);
  }

  #sign(head: GovernanceHead): GovernanceHeadRecord {
    return { ...head, mac: Buffer.from(this.#mac(headMacBytes(head))).toString('base64') };
  }
}
