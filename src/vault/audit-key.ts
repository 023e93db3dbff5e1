/**
 * The tenant's audit key: Ed25519, created at init inside the vault and stored only as a cryptogram
 * (purpose `audit`), like every other key. It signs audit checkpoints (src/audit/checkpoint.ts), so a
 * verifier holding the public key detects a truncated or rewritten chain.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256Hex } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { CryptogramBinding } from './cryptogram.ts';

/** Where the audit key's cryptogram belongs; a wallet seed cannot be opened as an audit key. */
export function auditKeyBinding(tenant: string, keyId: string): CryptogramBinding {
  return { tenant, objectId: keyId, keyVersion: 0, purpose: 'audit-key' };
}

export interface GeneratedAuditKey {
  /** 32-byte Ed25519 secret key; the caller seals it into a cryptogram and wipes it. */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  keyId: string;
}

export function generateAuditKey(): GeneratedAuditKey {
  const secretKey = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secretKey);
  return { secretKey, publicKey, keyId: auditKeyId(publicKey) };
}

/** `audit-vault-<first 16 hex of SHA-256(public key)>`: what verifiers list as a trusted key id. */
export function auditKeyId(publicKey: Uint8Array): string {
  return `audit-vault-${sha256Hex(publicKey).slice(0, 16)}`;
}

/** Signs `message` and checks the secret still matches the recorded public key (a swapped row fails). */
export function signWithAuditKey(
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  const actual = ed25519.getPublicKey(secretKey);
  if (actual.length !== publicKey.length || !actual.every((b, i) => b === publicKey[i])) {
    throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the audit key does not match its recorded public key');
  }
  return ed25519.sign(message, secretKey);
}
