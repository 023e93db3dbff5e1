/**
 * The Shamir seal's master keys at rest: each key version encrypted separately under the unseal key
 * (AES-256-GCM, associated data binds tenant, key lineage id and version). The same structure sits in
 * storage and inside every share file, so one entry can be dropped (retire, zeroize) without the unseal
 * key, and an entry cannot be moved to another tenant or version.
 */
import type { KeyObject } from 'node:crypto';
import { canonicalize } from '../../domain/canonical.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { fromBase64, toBase64, utf8 } from '../bytes.ts';
import { gcmDecrypt, gcmEncrypt, GCM_KEY_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './aes-gcm.ts';

export interface EncryptedMasterKey {
  /** Master key version (MasterKeyRef.version). */
  readonly version: number;
  /** base64 of nonce(12) || ciphertext(32) || tag(16). */
  readonly sealed: string;
}

export interface EncryptedKeyring {
  /** Lineage id (MasterKeyRef.id), 32 hex characters. */
  readonly keyId: string;
  /** The version new cryptograms use, as of when this keyring was written. */
  readonly current: number;
  /** Ascending by version. */
  readonly keys: readonly EncryptedMasterKey[];
}

const KEY_ID_RE = /^[0-9a-f]{32}$/;

function masterKeyAad(tenant: string, keyId: string, version: number): Uint8Array {
  return utf8(canonicalize({ purpose: 'strongroom.shamir-seal.master-key', tenant, keyId, version }));
}

/** Encrypts one raw master key under the unseal key. The caller wipes `raw`. */
export function encryptMasterKey(
  unsealKey: KeyObject,
  tenant: string,
  keyId: string,
  version: number,
  raw: Uint8Array,
): EncryptedMasterKey {
  return { version, sealed: toBase64(gcmEncrypt(unsealKey, raw, masterKeyAad(tenant, keyId, version))) };
}

/** Decrypts one entry; `E_KEY_MATERIAL_INVALID` if it does not open (wrong key, moved or altered). */
export function decryptMasterKey(
  unsealKey: KeyObject,
  tenant: string,
  keyId: string,
  entry: EncryptedMasterKey,
): Uint8Array {
  const raw = gcmDecrypt(
    unsealKey,
    fromBase64(entry.sealed, 'keyring.sealed'),
    masterKeyAad(tenant, keyId, entry.version),
  );
  if (!raw || raw.length !== GCM_KEY_BYTES) {
    raw?.fill(0);
    throw new StrongroomError(
      'E_KEY_MATERIAL_INVALID',
      'an encrypted master key does not open under this unseal key',
      {
        details: { version: entry.version },
        hints: ['the keyring was altered, or belongs to another tenant or ceremony'],
      },
    );
  }
  return raw;
}

/** Checks the shape of a keyring read from storage or a share file (not its authenticity). */
export function parseKeyring(value: unknown, where: string): EncryptedKeyring {
  const bad = (why: string): StrongroomError =>
    new StrongroomError('E_SHARE_INVALID', `${where}: malformed master keyring (${why})`, {
      details: { parameter: where },
    });
  const k = value as Partial<EncryptedKeyring> | null;
  if (typeof k !== 'object' || k === null) throw bad('not an object');
  if (typeof k.keyId !== 'string' || !KEY_ID_RE.test(k.keyId)) throw bad('keyId');
  if (!isVersion(k.current)) throw bad('current');
  if (!Array.isArray(k.keys) || k.keys.length > 1024) throw bad('keys');
  let previous = 0;
  const keys: EncryptedMasterKey[] = [];
  for (const e of k.keys as unknown[]) {
    const entry = e as Partial<EncryptedMasterKey> | null;
    if (!entry || !isVersion(entry.version) || entry.version <= previous)
      throw bad('key versions must ascend');
    if (
      typeof entry.sealed !== 'string' ||
      entry.sealed.length !== base64Length(GCM_NONCE_BYTES + GCM_KEY_BYTES + GCM_TAG_BYTES)
    ) {
      throw bad('sealed key length');
    }
    previous = entry.version;
    keys.push({ version: entry.version, sealed: entry.sealed });
  }
  return { keyId: k.keyId, current: k.current, keys };
}

function isVersion(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= 0xffffffff;
}

function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}
