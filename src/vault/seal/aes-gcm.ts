/**
 * AES-256-GCM from node:crypto in the one layout every software-sealed blob uses: nonce(12) || ciphertext ||
 * tag(16). Synchronous on purpose: it is the unwrap hot path, and a `KeyObject` made once per key (while
 * unsealed) saves re-importing the raw key on every call.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto';
import { StrongroomError } from '../../domain/errors.ts';

export const GCM_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** A `KeyObject` for a raw 32-byte key; the caller still wipes `raw`. */
export function gcmKey(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== GCM_KEY_BYTES) {
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'an AES-256 key must be 32 bytes');
  }
  return createSecretKey(raw);
}

/**
 * Encrypts `plaintext` bound to `aad`. `nonce` is for known-answer tests only: production callers let a
 * fresh random 96-bit nonce be drawn (keys here encrypt far fewer than 2^32 messages per version).
 */
export function gcmEncrypt(key: KeyObject, plaintext: Uint8Array, aad: Uint8Array, nonce?: Uint8Array): Uint8Array {
  const out = new Uint8Array(GCM_NONCE_BYTES + plaintext.length + GCM_TAG_BYTES);
  const iv = out.subarray(0, GCM_NONCE_BYTES);
  if (nonce) {
    if (nonce.length !== GCM_NONCE_BYTES) throw new StrongroomError('E_VALIDATION', 'nonce must be 12 bytes', { details: { parameter: 'nonce' } });
    iv.set(nonce);
  } else {
    freshNonce(iv);
  }
  const cipher = createCipheriv('aes-256-gcm', key, iv); // GCM tags default to 16 bytes
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  out.set(body, GCM_NONCE_BYTES);
  body.fill(0);
  cipher.final();
  out.set(cipher.getAuthTag(), GCM_NONCE_BYTES + plaintext.length);
  return out;
}

/*
 * Nonces are drawn from the CSPRNG 1,024 at a time: one `randomFillSync` call costs about as much as a
 * whole small AES-GCM encryption. Each 12-byte slice is handed out once; nonces are public (they are
 * stored in every cryptogram), so holding the next few in memory reveals nothing.
 */
const NONCES_PER_DRAW = 1024;
let noncePool = new Uint8Array(0);
let nonceAt = 0;

function freshNonce(into: Uint8Array): void {
  if (nonceAt + GCM_NONCE_BYTES > noncePool.length) {
    noncePool = randomFillSync(new Uint8Array(GCM_NONCE_BYTES * NONCES_PER_DRAW));
    nonceAt = 0;
  }
  into.set(noncePool.subarray(nonceAt, nonceAt + GCM_NONCE_BYTES));
  noncePool.fill(0, nonceAt, nonceAt + GCM_NONCE_BYTES); // never handed out twice, even by a bug here
  nonceAt += GCM_NONCE_BYTES;
}

/**
 * Decrypts nonce || ciphertext || tag. Returns `undefined` when the tag does not verify (wrong key, aad,
 * nonce or an altered byte) so each caller raises the error that fits its context.
 */
export function gcmDecrypt(key: KeyObject, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) return undefined;
  const tagAt = sealed.length - GCM_TAG_BYTES;
  // No `authTagLength` option (it costs ~25% of an unwrap): the tag passed is always exactly the last 16
  // bytes, so a truncated tag can never be accepted.
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, GCM_NONCE_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(tagAt));
  const body = decipher.update(sealed.subarray(GCM_NONCE_BYTES, tagAt));
  try {
    decipher.final();
  } catch {
    body.fill(0);
    return undefined;
  }
  // A plain Uint8Array view (no copy): secrets leave the vault modules as Uint8Array, never Buffer.
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}
