/**
 * Signed requests: RFC 9421 HTTP Message Signatures over RFC 9530 Content-Digest (sha-256).
 *
 * We accept exactly one shape, ours, and reject everything else:
 *
 *   Content-Digest:  sha-256=:<base64>:
 *   Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=<int>;nonce="<n>";keyid="<k>";alg="<a>"
 *   Signature:       sig1=:<base64 of 64 bytes>:
 *
 * Nonce single use and key revocation are checked by the caller against the database; this module is
 * pure apart from `resolveKey`, and framework-agnostic.
 */
import { hash, randomBytes } from 'node:crypto';
import { StrongroomError } from './errors.ts';
import { isKeyAlgorithm, SIGNATURE_BYTES, verifySignatureAsync, type KeyAlgorithm } from './keys.ts';
import type { KeyObject } from 'node:crypto';

export const SIGNATURE_LABEL = 'sig1';
export const COVERED_COMPONENTS = ['@method', '@target-uri', 'content-digest'] as const;
export const DEFAULT_MAX_SKEW_SECONDS = 60;

const COMPONENTS_LIST = `(${COVERED_COMPONENTS.map((c) => `"${c}"`).join(' ')})`;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
// Our key ids are `k_` + 22 base64url chars; allow a little more for other issuers, but only characters
// that need no escaping inside a structured-field string.
const KEY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Component values are single lines of visible ASCII (RFC 9421 §2.1 forbids newlines in them).
const FIELD_VALUE = /^[\x20-\x7e]*$/;
const CREATED = /^(?:0|[1-9][0-9]{0,14})$/;
const PARAMS = /^;created=([0-9]+);nonce="([^"\\]*)";keyid="([^"\\]*)";alg="([^"\\]*)"$/;
const DIGEST_HEADER = /^sha-256=:([A-Za-z0-9+/]{43}=):$/;
const SIGNATURE_HEADER = /^sig1=:([A-Za-z0-9+/]{86}==):$/;

/** Whoever signs requests: the SDK's key-file signer, a test key, an HSM-backed service key. */
export interface RequestSigner {
  readonly keyId: string;
  readonly alg: KeyAlgorithm;
  /** SPKI DER, base64: what is registered on the server for this key. */
  readonly publicKeySpki: string;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface SignatureParameters {
  created: number;
  nonce: string;
  keyId: string;
  alg: KeyAlgorithm;
}

/** The signature, as the server learned it. The caller still checks nonce reuse and key revocation. */
export interface VerifiedSignature {
  keyId: string;
  alg: KeyAlgorithm;
  created: number;
  nonce: string;
}

export type HeaderRecord = Record<string, string | string[] | undefined>;

export interface SignedRequestInput {
  method: string;
  /** Absolute URI the client addressed, e.g. `https://vault.example/v1/requests?x=1`. */
  targetUri: string;
  /** Lower-case header names, as node:http and Fastify give them. */
  headers: HeaderRecord;
  /** The raw body bytes as received (not re-serialized). */
  body: Uint8Array | string;
}

export interface ResolvedKey {
  alg: KeyAlgorithm;
  key: KeyObject;
}

export interface VerifyOptions {
  /** Looks up a registered key; `undefined` means unknown (E_KEY_UNKNOWN). May throw its own errors. */
  resolveKey: (keyId: string) => Promise<ResolvedKey | undefined> | ResolvedKey | undefined;
  /** Current time, unix seconds. */
  now: number;
  maxSkewSeconds?: number;
  /**
   * How the signature itself is checked: by default in libuv's thread pool (`verifySignatureAsync`), so the
   * event loop is not blocked; a thread of its own (the vault's workers) passes `verifySignature`.
   */
  verify?: (alg: KeyAlgorithm, key: KeyObject, data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;
}

export interface SignRequestParameters {
  method: string;
  targetUri: string;
  body?: Uint8Array | string;
  signer: Pick<RequestSigner, 'keyId' | 'alg' | 'sign'>;
  /** Unix seconds; defaults to now. */
  created?: number;
  /** Defaults to 16 random bytes, base64url. */
  nonce?: string;
}

export interface SignedRequestHeaders {
  'content-digest': string;
  'signature-input': string;
  signature: string;
  [name: string]: string;
}

/** RFC 9530 Content-Digest value for `body` (the empty body digests the empty string). */
export function contentDigest(body: Uint8Array | string): string {
  // One-shot SHA-256 (runs on every signed request; cheaper than createHash().update().digest()).
  return `sha-256=:${hash('sha256', body, 'base64')}:`;
}

/** The Signature-Input member value (without the `sig1=` label), which is also `@signature-params`. */
export function serializeSignatureParams(params: SignatureParameters): string {
  checkParams(params);
  return `${COMPONENTS_LIST};created=${params.created};nonce="${params.nonce}";keyid="${params.keyId}";alg="${params.alg}"`;
}

export interface SignatureBaseParameters {
  method: string;
  targetUri: string;
  contentDigest: string;
  /** The serialized `@signature-params` value, exactly as sent in Signature-Input. */
  signatureParams: string;
}

/** RFC 9421 §2.5 signature base: one line per covered component, then `@signature-params`, no final LF. */
export function buildSignatureBase(p: SignatureBaseParameters): string {
  if (!METHOD.test(p.method)) throw invalid('method is not an HTTP token', 'method');
  if (!FIELD_VALUE.test(p.targetUri) || p.targetUri.length === 0) {
    throw invalid('target URI must be visible ASCII without line breaks', 'targetUri');
  }
  if (!FIELD_VALUE.test(p.contentDigest))
    throw invalid('content-digest has invalid characters', 'contentDigest');
  if (!FIELD_VALUE.test(p.signatureParams))
    throw invalid('signature params have invalid characters', 'signatureParams');
  return (
    `"@method": ${p.method}\n` +
    `"@target-uri": ${p.targetUri}\n` +
    `"content-digest": ${p.contentDigest}\n` +
    `"@signature-params": ${p.signatureParams}`
  );
}

/**
 * Signs a request; returns the three headers to send with it.
 *
 * @example
 * const headers = await signRequest({ method: 'POST', targetUri: 'https://vault.example/v1/requests', body, signer });
 */
export async function signRequest(p: SignRequestParameters): Promise<SignedRequestHeaders> {
  const method = p.method.toUpperCase();
  const body = p.body ?? '';
  const params: SignatureParameters = {
    created: p.created ?? Math.floor(Date.now() / 1000),
    nonce: p.nonce ?? randomBytes(16).toString('base64url'),
    keyId: p.signer.keyId,
    alg: p.signer.alg,
  };
  const signatureParams = serializeSignatureParams(params);
  const digest = contentDigest(body);
  const base = buildSignatureBase({ method, targetUri: p.targetUri, contentDigest: digest, signatureParams });
  const signature = await p.signer.sign(Buffer.from(base, 'latin1'));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    // e.g. an HSM returning DER-encoded ECDSA: RFC 9421 wants raw r||s.
    throw new StrongroomError(
      'E_VALIDATION',
      `signer must return a ${SIGNATURE_BYTES}-byte signature (ECDSA as r||s)`,
      {
        details: { parameter: 'signer' },
      },
    );
  }
  return {
    'content-digest': digest,
    'signature-input': `${SIGNATURE_LABEL}=${signatureParams}`,
    signature: `${SIGNATURE_LABEL}=:${Buffer.from(signature).toString('base64')}:`,
  };
}

/**
 * Verifies a signed request: syntax, time window, body digest, then (the expensive part) the signature.
 * Throws StrongroomError E_SIGNATURE_MISSING | E_SIGNATURE_INVALID | E_SIGNATURE_EXPIRED |
 * E_SIGNATURE_FUTURE | E_DIGEST_MISMATCH | E_KEY_UNKNOWN, or whatever `resolveKey` throws.
 */
export async function verifySignedRequest(
  req: SignedRequestInput,
  opts: VerifyOptions,
): Promise<VerifiedSignature> {
  const signatureInput = header(req.headers, 'signature-input');
  const signatureHeader = header(req.headers, 'signature');
  const digestHeader = header(req.headers, 'content-digest');

  const signatureParams = parseSignatureInput(signatureInput);
  const params = parseParams(signatureParams);
  const signature = parseSignature(signatureHeader);
  if (!DIGEST_HEADER.test(digestHeader)) {
    throw invalid('content-digest must be sha-256=:<base64>:', 'content-digest');
  }

  const skew = opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  // NaN would make both comparisons below false and silently disable the time window: fail closed.
  if (!Number.isFinite(opts.now) || !Number.isFinite(skew) || skew < 0) {
    throw new StrongroomError('E_VALIDATION', 'now and maxSkewSeconds must be finite, non-negative numbers', {
      details: { parameter: Number.isFinite(opts.now) ? 'maxSkewSeconds' : 'now' },
    });
  }
  if (params.created < opts.now - skew) {
    throw new StrongroomError('E_SIGNATURE_EXPIRED', 'signature is too old', {
      details: { created: params.created, now: opts.now, maxSkewSeconds: skew },
      hints: ['sign each request just before sending it', 'check the client clock'],
    });
  }
  if (params.created > opts.now + skew) {
    throw new StrongroomError('E_SIGNATURE_FUTURE', 'signature is created in the future', {
      details: { created: params.created, now: opts.now, maxSkewSeconds: skew },
      hints: ['check the client clock'],
    });
  }

  if (contentDigest(req.body) !== digestHeader) {
    throw new StrongroomError('E_DIGEST_MISMATCH', 'body does not match content-digest');
  }

  const resolved = await opts.resolveKey(params.keyId);
  if (resolved === undefined) {
    throw new StrongroomError('E_KEY_UNKNOWN', `key ${params.keyId} is not registered`, {
      details: { keyId: params.keyId },
    });
  }
  if (resolved.alg !== params.alg) {
    throw invalid(`alg ${params.alg} does not match the registered key's alg`, 'alg', {
      keyId: params.keyId,
    });
  }

  const base = buildSignatureBase({
    method: req.method,
    targetUri: req.targetUri,
    contentDigest: digestHeader,
    signatureParams,
  });
  // Off the event loop: verification is the most expensive step of every signed call.
  if (!(await (opts.verify ?? verifySignatureAsync)(params.alg, resolved.key, Buffer.from(base, 'latin1'), signature))) {
    throw new StrongroomError('E_SIGNATURE_INVALID', 'signature does not verify', {
      details: { keyId: params.keyId },
      hints: ['the signature covers method, full target URI (scheme, host, path, query) and body digest'],
    });
  }
  return { keyId: params.keyId, alg: params.alg, created: params.created, nonce: params.nonce };
}

function header(headers: HeaderRecord, name: string): string {
  const value = headers[name];
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new StrongroomError('E_SIGNATURE_MISSING', `request is not signed: ${name} header is missing`, {
      details: { header: name },
      hints: ["every request is signed with the author's key (RFC 9421); see the SDK's signRequest"],
    });
  }
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalid(`${name} header appears more than once`, name);
    return value[0]!;
  }
  return value;
}

/** Returns the member value after `sig1=`, which must be exactly our component list and parameters. */
function parseSignatureInput(value: string): string {
  const prefix = `${SIGNATURE_LABEL}=`;
  if (!value.startsWith(prefix))
    throw invalid('signature-input must hold exactly one signature, sig1', 'signature-input');
  const member = value.slice(prefix.length);
  if (!member.startsWith(COMPONENTS_LIST)) {
    throw invalid(`covered components must be exactly ${COMPONENTS_LIST}`, 'signature-input');
  }
  return member;
}

function parseParams(member: string): SignatureParameters {
  const m = PARAMS.exec(member.slice(COMPONENTS_LIST.length));
  if (m === null) {
    throw invalid(
      'signature parameters must be exactly created, nonce, keyid, alg (in this order)',
      'signature-input',
    );
  }
  const [, created, nonce, keyId, alg] = m as unknown as [string, string, string, string, string];
  if (!CREATED.test(created)) throw invalid('created must be a unix time in seconds', 'created');
  if (!isKeyAlgorithm(alg)) throw invalid(`alg ${alg} is not supported`, 'alg');
  const params: SignatureParameters = { created: Number(created), nonce, keyId, alg };
  checkParams(params);
  return params;
}

function checkParams(p: SignatureParameters): void {
  if (!Number.isSafeInteger(p.created) || p.created < 0)
    throw invalid('created must be a unix time in seconds', 'created');
  if (!NONCE.test(p.nonce)) throw invalid('nonce must be 16..64 characters of [A-Za-z0-9_-]', 'nonce');
  if (!KEY_ID.test(p.keyId)) throw invalid('keyid has invalid characters or length', 'keyid');
  if (!isKeyAlgorithm(p.alg)) throw invalid(`alg ${String(p.alg)} is not supported`, 'alg');
}

function parseSignature(value: string): Buffer {
  const m = SIGNATURE_HEADER.exec(value);
  const bytes = m === null ? undefined : Buffer.from(m[1]!, 'base64');
  // Re-encoding rejects non-canonical trailing bits, so one signature has one header form.
  if (bytes === undefined || bytes.toString('base64') !== m![1]) {
    throw invalid('signature must be sig1=:<base64 of 64 bytes>:', 'signature');
  }
  return bytes;
}

function invalid(message: string, parameter: string, extra: Record<string, unknown> = {}): StrongroomError {
  return new StrongroomError('E_SIGNATURE_INVALID', message, { details: { parameter, ...extra } });
}
