/**
 * Approvals and rejections of a governance request, and how they are counted. An approver signs the
 * canonical `{kind, requestDigest, stateDigest, approver, keyId, signedAt}`; `stateDigest` is the
 * request's base state, so an approval never carries over to a request re-based on a newer state.
 *
 * Counting is order-independent by construction: approvals are examined in a canonical order and every one
 * must be valid (an invalid one refuses the whole set, whatever its position), users are counted once
 * however many keys they signed with, and any valid rejection refuses the request.
 */
import { canonicalize, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { eligibleMembers, type GovernanceState } from './governance-state.ts';
import type { GovernanceRequest } from './governance-request.ts';
import { encodeSignature, statementBytes, verifyUserSignature, type StatementSigner } from './signatures.ts';
import { checkIsoTime } from './time.ts';

export interface ApprovalStatement {
  readonly kind: 'approval' | 'rejection';
  readonly requestDigest: Digest;
  /** The request's base state. */
  readonly stateDigest: Digest;
  readonly approver: string;
  readonly keyId: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly signedAt: string;
}

export interface GovernanceApproval extends ApprovalStatement {
  /** Base64 signature by `keyId` over `approvalBytes(statement)`. */
  readonly signature: string;
}

const STATEMENT_KEYS = ['kind', 'requestDigest', 'stateDigest', 'approver', 'keyId', 'signedAt'] as const;

/** The bytes an approver signs (the statement's six fields, nothing else). */
export function approvalBytes(s: ApprovalStatement): Uint8Array {
  return statementBytes({
    kind: s.kind,
    requestDigest: s.requestDigest,
    stateDigest: s.stateDigest,
    approver: s.approver,
    keyId: s.keyId,
    signedAt: s.signedAt,
  });
}

/** An approver signs an approval or rejection (client side). */
export function signApproval(statement: ApprovalStatement, signer: StatementSigner): GovernanceApproval {
  if (signer.keyId !== statement.keyId) {
    throw new StrongroomError('E_VALIDATION', 'signer key is not the statement keyId', {
      details: { parameter: 'signer' },
    });
  }
  return { ...statement, signature: encodeSignature(signer.sign(approvalBytes(statement))) };
}

export interface ApprovalTally {
  /** Distinct users who validly approved, sorted. */
  readonly approvers: readonly string[];
  /** Distinct users who validly rejected, sorted. */
  readonly rejecters: readonly string[];
  /** Latest `signedAt` among valid approvals (ms), or null when there is none. */
  readonly lastApprovalAt: number | null;
}

export interface TallyOptions {
  /** The request's digest (computed once by the caller). */
  readonly requestDigest: Digest;
  /** Refuse statements signed after this instant (ms); `now` plus clock skew. */
  readonly notAfter?: number;
}

function refuse(
  code: 'E_VALIDATION' | 'E_DIGEST_MISMATCH' | 'E_REQUEST_EXPIRED' | 'E_SIGNATURE_FUTURE' | 'E_FORBIDDEN',
  message: string,
  details: object,
): never {
  throw new StrongroomError(code, `approval: ${message}`, { details: { ...details } });
}

/**
 * Checks every approval against the base `state` and `request`, then counts. Each must: be well formed;
 * name this request and its base state; be signed within the request's lifetime (and not after
 * `notAfter`); come from an active member of the governance group of `state` using one of their active
 * keys; and verify. Throws on the first bad one in canonical order (E_VALIDATION, E_DIGEST_MISMATCH,
 * E_REQUEST_EXPIRED, E_SIGNATURE_FUTURE, E_FORBIDDEN, E_KEY_UNKNOWN, E_KEY_REVOKED, E_SIGNATURE_INVALID).
 */
export function tallyApprovals(
  state: GovernanceState,
  request: GovernanceRequest,
  approvals: readonly GovernanceApproval[],
  options: TallyOptions,
): ApprovalTally {
  if (!Array.isArray(approvals)) refuse('E_VALIDATION', 'approvals must be an array', { field: 'approvals' });
  const created = Date.parse(request.createdAt);
  const expires = Date.parse(request.expiresAt);
  const members = new Set(eligibleMembers(state, state.governance.group));
  const ordered = approvals
    .map((a) => ({ a, key: canonicalize(a) }))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const approvers = new Set<string>();
  const rejecters = new Set<string>();
  let last: number | null = null;
  for (const { a } of ordered) {
    if (a === null || typeof a !== 'object')
      refuse('E_VALIDATION', 'must be an object', { field: 'approvals' });
    for (const key of Object.keys(a)) {
      if (key !== 'signature' && !(STATEMENT_KEYS as readonly string[]).includes(key))
        refuse('E_VALIDATION', `unknown field ${key}`, { field: key });
    }
    if (a.kind !== 'approval' && a.kind !== 'rejection')
      refuse('E_VALIDATION', 'kind must be approval or rejection', { field: 'kind' });
    const who = { approver: a.approver, keyId: a.keyId };
    if (a.requestDigest !== options.requestDigest)
      refuse('E_DIGEST_MISMATCH', 'signed for another request', { ...who, field: 'requestDigest' });
    if (a.stateDigest !== request.baseState)
      refuse('E_DIGEST_MISMATCH', 'signed against another state', { ...who, field: 'stateDigest' });
    const at = checkIsoTime(a.signedAt, 'signedAt');
    if (at < created)
      refuse('E_VALIDATION', 'signed before the request was created', { ...who, field: 'signedAt' });
    if (at > expires)
      refuse('E_REQUEST_EXPIRED', 'signed after the request expired', { ...who, field: 'signedAt' });
    if (options.notAfter !== undefined && at > options.notAfter)
      refuse('E_SIGNATURE_FUTURE', 'signed in the future', { ...who, field: 'signedAt' });
    if (typeof a.approver !== 'string' || !members.has(a.approver)) {
      refuse(
        'E_FORBIDDEN',
        `${String(a.approver)} is not an active member of governance group ${state.governance.group}`,
        who,
      );
    }
    verifyUserSignature(
      state,
      { userId: a.approver, keyId: a.keyId, signature: a.signature },
      approvalBytes(a),
      a.kind,
    );
    if (a.kind === 'rejection') rejecters.add(a.approver);
    else {
      approvers.add(a.approver);
      last = last === null ? at : Math.max(last, at);
    }
  }
  return { approvers: [...approvers].sort(), rejecters: [...rejecters].sort(), lastApprovalAt: last };
}
