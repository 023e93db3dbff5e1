/**
 * Users' public keys: which algorithms we accept, how a registered key (SPKI DER, base64) is parsed and
 * checked, how its key id is derived, and a small cache because parsing is the expensive step while
 * verification runs on every request.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { StrongroomError } from './errors.ts';

/** Names as in the RFC 9421 signature algorithm registry (secp256k1 is our own, same shape as P-256). */
export const KEY_ALGORITHMS = ['ed25519', 'ecdsa-p256-sha256', 'ecdsa-secp256k1-sha256'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

/** Every accepted algorithm yields a 64-byte signature (Ed25519, or ECDSA as raw r||s). */
export const SIGNATURE_BYTES = 64;

// The OpenSSL names node:crypto reports for each algorithm's key.
// `spkiBytes` is the canonical SPKI length (EC points uncompressed); node:crypto keeps whatever point
// form it was given, so the length is what tells a compressed point apart.
const KEY_SHAPE: Record<KeyAlgorithm, { type: 'ed25519' | 'ec'; curve?: string; spkiBytes: number }> = {
  ed25519: { type: 'ed25519', spkiBytes: 44 },
  'ecdsa-p256-sha256': { type: 'ec', curve: 'prime256v1', spkiBytes: 91 },
  'ecdsa-secp256k1-sha256': { type: 'ec', curve: 'secp256k1', spkiBytes: 88 },
};

// Longest canonical SPKI we accept is P-256/secp256k1 uncompressed (91/88 bytes); leave headroom.
const MAX_SPKI_BASE64 = 256;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical, padded base64 only (Buffer.from alone silently skips junk). */
export function decodeBase64Strict(text: string, parameter: string): Buffer {
  const bytes = BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (bytes === undefined || bytes.toString('base64') !== text) {
    throw new StrongroomError('E_VALIDATION', `${parameter} is not canonical base64`, {
      details: { parameter },
    });
  }
  return bytes;
}

/**
 * Parses a registered public key and checks that it is a key of `alg`.
 * The SPKI must be canonical (DER as node:crypto re-exports it, EC points uncompressed) so that one key
 * has exactly one key id.
 */
export function parsePublicKey(alg: KeyAlgorithm, spkiBase64: string): KeyObject {
  if (!isKeyAlgorithm(alg)) {
    throw new StrongroomError('E_VALIDATION', `alg must be one of ${KEY_ALGORITHMS.join(', ')}`, {
      details: { parameter: 'alg' },
    });
  }
  if (typeof spkiBase64 !== 'string' || spkiBase64.length === 0 || spkiBase64.length > MAX_SPKI_BASE64) {
    throw new StrongroomError('E_VALIDATION', 'publicKey must be a base64 SPKI DER public key', {
      details: { parameter: 'publicKey' },
    });
  }
  const der = decodeBase64Strict(spkiBase64, 'publicKey');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'publicKey is not a valid SPKI DER public key', {
      details: { parameter: 'publicKey' },
      cause,
    });
  }
  const shape = KEY_SHAPE[alg];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== shape.type || (shape.curve !== undefined && curve !== shape.curve)) {
    throw new StrongroomError('E_VALIDATION', `publicKey is not a key for alg ${alg}`, {
      details: { parameter: 'publicKey', alg, keyType: key.asymmetricKeyType, curve },
    });
  }
  if (der.length !== shape.spkiBytes || !key.export({ format: 'der', type: 'spki' }).equals(der)) {
    throw new StrongroomError('E_VALIDATION', 'publicKey is not in canonical SPKI form', {
      details: { parameter: 'publicKey' },
      hints: ['export the key as SPKI DER with an uncompressed EC point'],
    });
  }
  return key;
}

/** `k_` + base64url of the first 16 bytes of SHA-256 over the SPKI DER. */
export function keyIdOf(spkiDer: Uint8Array): string {
  const digest = createHash('sha256').update(spkiDer).digest();
  return `k_${digest.subarray(0, 16).toString('base64url')}`;
}

/** Verifies a 64-byte signature (Ed25519, or ECDSA r||s over SHA-256). Never throws on bad input. */
export function verifySignature(
  alg: KeyAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    return alg === 'ed25519'
      ? cryptoVerify(null, data, key, signature)
      : cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Like `verifySignature`, but runs in libuv's thread pool (node:crypto's callback form), so verifying
 * signatures on the request path does not block the event loop. Never rejects on bad input.
 */
export function verifySignatureAsync(
  alg: KeyAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== SIGNATURE_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (err: Error | null, ok: boolean) => resolve(!err && ok);
    try {
      if (alg === 'ed25519') cryptoVerify(null, data, key, signature, done);
      else cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature, done);
    } catch {
      resolve(false);
    }
  });
}

/**
 * Bounded LRU of parsed public keys, keyed by algorithm and SPKI. Failures are not cached, so a bad key
 * costs a parse each time it is presented; it never evicts good keys.
 */
export class PublicKeyCache {
  readonly #max: number;
  readonly #entries = new Map<string, KeyObject>();

  constructor(maxEntries = 10_000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new StrongroomError('E_VALIDATION', 'maxEntries must be a positive integer', {
        details: { parameter: 'maxEntries' },
      });
    }
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The parsed key, from the cache or freshly parsed (throws like `parsePublicKey`). */
  get(alg: KeyAlgorithm, spkiBase64: string): KeyObject {
    const id = `${alg} ${spkiBase64}`;
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      // Re-insert so Map iteration order is least-recently-used first.
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit;
    }
    const key = parsePublicKey(alg, spkiBase64);
    this.#entries.set(id, key);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return key;
  }

  clear(): void {
    this.#entries.clear();
  }
}
