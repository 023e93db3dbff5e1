/**
 * Signed checkpoints anchor a tenant's audit chain: `{tenant, seq, headHash, at}` signed with Ed25519 over
 * its RFC 8785 canonical bytes by an audit key. A chain alone cannot show that its tail was cut off or
 * rewritten wholesale; a checkpoint signed by a key the database operator does not hold can.
 *
 * The signer is a role (`CheckpointSigner`): the vault's audit key in the end, an interim server key
 * (src/vault/interim-audit-signer.ts) until then. Verification needs only public keys, so anyone can run
 * it offline.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalize, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { isAuditTime, isDigest } from './audit-entry.ts';

/** Who signs checkpoints: satisfied by `InterimAuditSigner` today and the vault's audit key later. */
export interface CheckpointSigner {
  /** Identifies the public key verifiers must trust, e.g. `audit-interim-0123456789abcdef`. */
  readonly keyId: string;
  /** The 32-byte Ed25519 public key. */
  publicKeyRaw(): Uint8Array;
  /** A 64-byte Ed25519 signature over `bytes`. */
  sign(bytes: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface Checkpoint {
  readonly tenant: string;
  /** Seq of the chain's head at signing time. */
  readonly seq: number;
  /** Hash of the entry at `seq`. */
  readonly headHash: Digest;
  /** ISO-8601 UTC with milliseconds. */
  readonly at: string;
}

export interface SignedCheckpoint extends Checkpoint {
  readonly keyId: string;
  /** Base64 (standard alphabet, padded) Ed25519 signature over `checkpointBytes(checkpoint)`. */
  readonly signature: string;
}

/** Public keys a verifier trusts, by key id: raw 32-byte Ed25519 keys. */
export type TrustedAuditKeys = ReadonlyMap<string, Uint8Array>;

export type CheckpointVerification =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'malformed' | 'unknown-key' | 'bad-signature';
      readonly message: string;
    };

const SIGNATURE_RE = /^[A-Za-z0-9+/]{86}==$/;

function checkCheckpoint(cp: Checkpoint): void {
  const fail = (parameter: string, message: string): never => {
    throw new StrongroomError('E_VALIDATION', `checkpoint: ${message}`, { details: { parameter } });
  };
  if (typeof cp !== 'object' || cp === null) fail('checkpoint', 'checkpoint must be an object');
  if (typeof cp.tenant !== 'string' || cp.tenant.length === 0)
    fail('tenant', 'tenant must be a non-empty string');
  if (!Number.isSafeInteger(cp.seq) || cp.seq < 1) fail('seq', 'seq must be a positive integer');
  if (!isDigest(cp.headHash)) fail('headHash', 'headHash must be sha256:<64 lowercase hex>');
  if (!isAuditTime(cp.at)) fail('at', 'at must be an ISO-8601 UTC time with milliseconds');
}

/** The exact bytes a checkpoint signature covers: canonical JSON of the four fields, UTF-8. */
export function checkpointBytes(cp: Checkpoint): Uint8Array {
  checkCheckpoint(cp);
  return new TextEncoder().encode(
    canonicalize({ tenant: cp.tenant, seq: cp.seq, headHash: cp.headHash, at: cp.at }),
  );
}

/**
 * Signs a checkpoint with `signer`. Throws `E_VALIDATION` for a malformed checkpoint and `E_INTERNAL` if
 * the signer returns something that is not a 64-byte signature.
 */
export async function signCheckpoint(signer: CheckpointSigner, cp: Checkpoint): Promise<SignedCheckpoint> {
  const bytes = checkpointBytes(cp);
  const sig = await signer.sign(bytes);
  if (!(sig instanceof Uint8Array) || sig.length !== 64) {
    throw new StrongroomError('E_INTERNAL', 'checkpoint signer returned a malformed signature', {
      details: { keyId: signer.keyId },
    });
  }
  return {
    tenant: cp.tenant,
    seq: cp.seq,
    headHash: cp.headHash,
    at: cp.at,
    keyId: signer.keyId,
    signature: Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('base64'),
  };
}

/** Caches KeyObjects for the duration of one verification run (a few keys, many checkpoints). */
export class PublicKeyCache {
  readonly #keys = new Map<string, KeyObject | null>();
  readonly #trusted: TrustedAuditKeys;
  constructor(trusted: TrustedAuditKeys) {
    this.#trusted = trusted;
  }

  get(keyId: string): KeyObject | null {
    let key = this.#keys.get(keyId);
    if (key === undefined) {
      const raw = this.#trusted.get(keyId);
      key =
        raw instanceof Uint8Array && raw.length === 32
          ? createPublicKey({
              key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
              format: 'jwk',
            })
          : null;
      this.#keys.set(keyId, key);
    }
    return key;
  }
}

/**
 * Checks a signed checkpoint against trusted public keys. Never throws for bad input: a malformed
 * checkpoint, an unknown key id and a wrong signature are all reported with a reason.
 */
export function verifyCheckpoint(
  cp: SignedCheckpoint,
  trustedKeys: TrustedAuditKeys | PublicKeyCache,
): CheckpointVerification {
  let bytes: Uint8Array;
  try {
    bytes = checkpointBytes(cp);
  } catch (e) {
    return {
      ok: false,
      reason: 'malformed',
      message: e instanceof Error ? e.message : 'malformed checkpoint',
    };
  }
  if (typeof cp.keyId !== 'string' || typeof cp.signature !== 'string' || !SIGNATURE_RE.test(cp.signature)) {
    return { ok: false, reason: 'malformed', message: 'checkpoint keyId or signature is malformed' };
  }
  const cache = trustedKeys instanceof PublicKeyCache ? trustedKeys : new PublicKeyCache(trustedKeys);
  const key = cache.get(cp.keyId);
  if (key === null) {
    return {
      ok: false,
      reason: 'unknown-key',
      message: `checkpoint signed by untrusted key ${JSON.stringify(cp.keyId)}`,
    };
  }
  const good = verify(null, bytes, key, Buffer.from(cp.signature, 'base64'));
  return good
    ? { ok: true }
    : { ok: false, reason: 'bad-signature', message: 'checkpoint signature does not verify' };
}
