/**
 * A governance request: one proposed change to the governance state, bound to the exact state it applies
 * to (`baseState`) and signed by its initiator. Its digest is `digestOf` of the whole request; approvals
 * and the initiator's signature cover that digest, so editing any field invalidates all of them.
 */
import { digestOf, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { checkPayload, isRequestKind, type PayloadOf, type RequestKind } from './request-kinds.ts';
import { encodeSignature, requestStatementBytes, type StatementSigner } from './signatures.ts';
import { checkIsoTime } from './time.ts';

export interface GovernanceRequest<K extends RequestKind = RequestKind> {
  readonly tenant: string;
  readonly kind: K;
  readonly payload: PayloadOf<K>;
  /** Digest of the state this request changes; it applies to that state only. */
  readonly baseState: Digest;
  readonly initiator: string;
  /** The initiator's key that signs the request. */
  readonly keyId: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** A request as it travels and is stored: with its initiator's signature. */
export interface SignedGovernanceRequest<K extends RequestKind = RequestKind> {
  readonly request: GovernanceRequest<K>;
  /** Base64 signature by `request.keyId` over `requestStatementBytes(requestDigest(request))`. */
  readonly initiatorSignature: string;
}

/** Longest a governance request may stay open; a forgotten request must not stay approvable forever. */
export const MAX_REQUEST_LIFETIME_MS = 30 * 86_400_000;

const ENVELOPE_KEYS = [
  'tenant',
  'kind',
  'payload',
  'baseState',
  'initiator',
  'keyId',
  'createdAt',
  'expiresAt',
];
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

function invalid(field: string, message: string): never {
  throw new StrongroomError('E_VALIDATION', `request ${field}: ${message}`, { details: { field } });
}

/** Checks the shape of a request (envelope and payload), not its signatures or its fit to a state. */
export function validateGovernanceRequest(value: unknown): GovernanceRequest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid('/', 'must be an object');
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!ENVELOPE_KEYS.includes(key)) invalid(key, 'unknown field');
  if (typeof r.tenant !== 'string' || !ID_RE.test(r.tenant)) invalid('tenant', 'must be an identifier');
  if (!isRequestKind(r.kind)) invalid('kind', 'unknown request kind');
  if (typeof r.baseState !== 'string' || !DIGEST_RE.test(r.baseState))
    invalid('baseState', 'must be a sha256: digest');
  if (typeof r.initiator !== 'string' || !ID_RE.test(r.initiator)) invalid('initiator', 'must be a user id');
  if (typeof r.keyId !== 'string' || r.keyId.length === 0 || r.keyId.length > 64)
    invalid('keyId', 'must be a key id');
  const created = checkIsoTime(r.createdAt, 'createdAt');
  const expires = checkIsoTime(r.expiresAt, 'expiresAt');
  if (expires <= created) invalid('expiresAt', 'must be after createdAt');
  if (expires - created > MAX_REQUEST_LIFETIME_MS)
    invalid('expiresAt', 'a governance request may stay open 30 days at most');
  checkPayload(r.kind, r.payload);
  return r as unknown as GovernanceRequest;
}

/** Builds and validates a request (throws E_VALIDATION naming the bad field). */
export function createGovernanceRequest<K extends RequestKind>(
  fields: GovernanceRequest<K>,
): GovernanceRequest<K> {
  const request = {
    tenant: fields.tenant,
    kind: fields.kind,
    payload: fields.payload,
    baseState: fields.baseState,
    initiator: fields.initiator,
    keyId: fields.keyId,
    createdAt: fields.createdAt,
    expiresAt: fields.expiresAt,
  };
  return validateGovernanceRequest(request) as GovernanceRequest<K>;
}

export function requestDigest(request: GovernanceRequest): Digest {
  return digestOf(request);
}

/** The initiator signs their request (client side; the key never leaves the signer). */
export function signGovernanceRequest<K extends RequestKind>(
  request: GovernanceRequest<K>,
  signer: StatementSigner,
): SignedGovernanceRequest<K> {
  if (signer.keyId !== request.keyId) {
    throw new StrongroomError('E_VALIDATION', 'signer key is not the request keyId', {
      details: { parameter: 'signer' },
    });
  }
  return {
    request,
    initiatorSignature: encodeSignature(signer.sign(requestStatementBytes(requestDigest(request)))),
  };
}
