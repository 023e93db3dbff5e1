/**
 * libsecp256k1 (bitcoin-core/secp256k1) through the maintained native `secp256k1` addon: the hot path for
 * ECDSA signing (issue 5, "signing speed"). Cross-checked against @noble/curves in the tests.
 *
 * We load `secp256k1/bindings` on purpose, not the package entry point: `secp256k1/index.js` silently falls
 * back to a pure-JavaScript `elliptic` implementation when the addon fails to load, and a custody signer must
 * not change implementation behind our back. If the addon is missing, signing fails loudly.
 *
 * libsecp256k1's `secp256k1_ecdsa_sign` uses RFC 6979 nonces and always returns low-S signatures.
 */
import { createRequire } from 'node:module';
import { StrongroomError } from '../../domain/errors.ts';

interface NativeSecp256k1 {
  privateKeyVerify(privateKey: Uint8Array): boolean;
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed?: boolean): Uint8Array;
}

let native: NativeSecp256k1 | undefined;

function load(): NativeSecp256k1 {
  if (native) return native;
  try {
    native = createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1;
  } catch (cause) {
    throw new StrongroomError('E_INTERNAL', 'the native libsecp256k1 addon (secp256k1) is not available', {
      hints: ['rebuild it: npm rebuild secp256k1'],
      cause,
    });
  }
  return native;
}

/** True when the native addon loads (for status pages and tests). */
export function nativeSecp256k1Available(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

export interface RecoverableSignature {
  /** r || s, 64 bytes, s low (≤ n/2). */
  readonly signature: Uint8Array;
  /** Recovery id 0..3 (the EIP-155/1559 y-parity is recid & 1; recid ≥ 2 is practically impossible). */
  readonly recid: number;
}

/** ECDSA over a 32-byte digest (no hashing here), RFC 6979 nonce, low-S. */
export function ecdsaSignDigest(digest: Uint8Array, privateKey: Uint8Array): RecoverableSignature {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new StrongroomError('E_VALIDATION', 'digest must be 32 bytes', {
      details: { parameter: 'digest' },
    });
  }
  const lib = load();
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32 || !lib.privateKeyVerify(privateKey)) {
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'private key is not a valid secp256k1 scalar', {
      details: { parameter: 'privateKey' },
    });
  }
  const { signature, recid } = lib.ecdsaSign(digest, privateKey);
  return { signature: Uint8Array.from(signature), recid };
}

export function ecdsaVerifyDigest(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return load().ecdsaVerify(signature, digest, publicKey);
  } catch {
    return false;
  }
}

/**
 * The public key (65 bytes, uncompressed) that made `signature` (r || s) with recovery id `recid` over a
 * 32-byte digest, or undefined when none does.
 */
export function ecdsaRecoverDigest(signature: Uint8Array, recid: number, digest: Uint8Array): Uint8Array | undefined {
  try {
    return Uint8Array.from(load().ecdsaRecover(signature, recid, digest, false));
  } catch {
    return undefined;
  }
}

export function publicKeyOf(privateKey: Uint8Array, compressed = true): Uint8Array {
  return Uint8Array.from(load().publicKeyCreate(privateKey, compressed));
}
