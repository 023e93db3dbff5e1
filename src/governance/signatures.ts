/**
 * What governance signatures cover and how one is checked against a state. Every signed statement is the
 * RFC 8785 text of a small object whose `kind` names what it is ('genesis', 'governance_request',
 * 'approval', 'rejection'), so a signature made for one purpose can never be replayed as another.
 */
import { canonicalize, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { decodeBase64Strict, PublicKeyCache, SIGNATURE_BYTES, verifySignature, verifySignatureAsync } from '../domain/keys.ts';
import type { GovernanceState } from './governance-state.ts';

/**
 * A synchronous signer for the client-side helpers (signGenesis, signGovernanceRequest, signApproval).
 * Asynchronous signers (passkeys, HSMs) sign `genesisStatementBytes` / `requestStatementBytes` /
 * `approvalBytes` themselves and wrap the result with `encodeSignature`.
 */
export interface StatementSigner {
  readonly keyId: string;
  sign(bytes: Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();

/** The bytes each initial admin signs at the genesis ceremony. */
export function genesisStatementBytes(genesisDigest: Digest): Uint8Array {
  return encoder.encode(canonicalize({ kind: 'genesis', stateDigest: genesisDigest }));
}

/** The bytes an initiator signs to submit a governance request. */
export function requestStatementBytes(requestDigest: Digest): Uint8Array {
  return encoder.encode(canonicalize({ kind: 'governance_request', requestDigest }));
}

/** Canonical bytes of any statement object (approvals are signed this way, without their signature). */
export function statementBytes(statement: object): Uint8Array {
  return encoder.encode(canonicalize(statement));
}

export function encodeSignature(signature: Uint8Array): string {
  return Buffer.from(signature).toString('base64');
}

// Parsing a public key costs more than verifying with it; keys are immutable, so a shared cache is safe.
const publicKeys = new PublicKeyCache();

export interface SignatureClaim {
  readonly userId: string;
  readonly keyId: string;
  /** Base64 of the 64-byte signature. */
  readonly signature: string;
}

/**
 * Checks that `userId` is a current user of `state`, that `keyId` is one of their active keys, and that
 * `signature` is that key's signature over `data`. Throws E_KEY_UNKNOWN, E_KEY_REVOKED (revoked key or
 * removed user) or E_SIGNATURE_INVALID; `what` names the statement in the message and details.
 */
export function verifyUserSignature(
  state: GovernanceState,
  claim: SignatureClaim,
  data: Uint8Array,
  what: string,
): void {
  const c = claimedKey(state, claim, what);
  if (c.sig.length !== SIGNATURE_BYTES || !verifySignature(c.alg, publicKeys.get(c.alg, c.publicKey), data, c.sig)) {
    throw invalidSignature(claim, what);
  }
}

/**
 * `verifyUserSignature` with the signature verified in libuv's thread pool (node:crypto's callback form),
 * off the event loop; the key checks are the same and synchronous. Rejects with the same errors.
 */
export async function verifyUserSignatureAsync(
  state: GovernanceState,
  claim: SignatureClaim,
  data: Uint8Array,
  what: string,
): Promise<void> {
  const c = claimedKey(state, claim, what);
  if (c.sig.length !== SIGNATURE_BYTES || !(await verifySignatureAsync(c.alg, publicKeys.get(c.alg, c.publicKey), data, c.sig))) {
    throw invalidSignature(claim, what);
  }
}

/** The claimed signer's registered key and the decoded signature, once user and key are known to be current. */
function claimedKey(state: GovernanceState, claim: SignatureClaim, what: string) {
  const details = { what, userId: claim.userId, keyId: claim.keyId };
  const user = Object.hasOwn(state.users, claim.userId) ? state.users[claim.userId] : undefined;
  const key =
    user !== undefined && Object.hasOwn(user.keys, claim.keyId) ? user.keys[claim.keyId] : undefined;
  if (user === undefined || key === undefined) {
    throw new StrongroomError(
      'E_KEY_UNKNOWN',
      `${what}: key ${claim.keyId} is not a key of user ${claim.userId}`,
      { details },
    );
  }
  if (user.status !== 'active') {
    throw new StrongroomError('E_KEY_REVOKED', `${what}: user ${claim.userId} has been removed`, { details });
  }
  if (key.status !== 'active') {
    throw new StrongroomError('E_KEY_REVOKED', `${what}: key ${claim.keyId} has been revoked`, { details });
  }
  let sig: Uint8Array;
  try {
    sig =
      typeof claim.signature === 'string'
        ? decodeBase64Strict(claim.signature, 'signature')
        : new Uint8Array(0);
  } catch {
    sig = new Uint8Array(0);
  }
  return { alg: key.alg, publicKey: key.publicKey, sig };
}

function invalidSignature(claim: SignatureClaim, what: string): StrongroomError {
  return new StrongroomError(
    'E_SIGNATURE_INVALID',
    `${what}: signature by ${claim.userId} (${claim.keyId}) does not verify`,
    { details: { what, userId: claim.userId, keyId: claim.keyId } },
  );
}
