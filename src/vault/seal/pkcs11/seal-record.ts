import { StrongroomError } from '../../../domain/errors.ts';

/**
 * What a PKCS#11 seal remembers about its master keys, stored beside them in the token as a public data
 * object (CKO_DATA, label `strongroom:<tenant>:seal`). It holds no secret: key labels, versions, key check
 * values and each key's state. It must outlive a zeroize, so a restore can refuse a wrong component set
 * (different KCV) before it imports anything, and a fresh process knows the seal is zeroized.
 *
 * It is public so `state()` works before login. SoftHSM needs a login to create objects, but the PKCS#11
 * standard lets a public session create or destroy public objects on some tokens; the worst such a writer
 * can do is get an unseal or restore refused (unseal re-checks every key's KCV inside the token), or make
 * the seal look uninitialized, in which case a new ceremony refuses to touch the existing key objects.
 *
 * A token data object's CKA_VALUE is read-only once created, so each write creates a new object with the
 * next `revision` and then destroys the older ones; a reader takes the highest revision, so a crash
 * between the two steps leaves a valid record either way.
 */
export const SEAL_RECORD_FORMAT = 'strongroom.pkcs11-seal/1';

/** `destroyed` by zeroize (a restore brings it back); `retired` after a rotation (gone for good). */
export type KeyRecordState = 'active' | 'destroyed' | 'retired';

export interface KeyRecord {
  version: number;
  label: string;
  kcv: string;
  state: KeyRecordState;
}

export interface SealRecord {
  format: typeof SEAL_RECORD_FORMAT;
  tenant: string;
  revision: number;
  /** Lineage id written into cryptogram headers (MasterKeyRef.id). */
  id: string;
  current: number;
  keys: KeyRecord[];
}

export function recordLabel(tenant: string): string {
  return `strongroom:${tenant}:seal`;
}

export function masterKeyLabel(tenant: string, version: number): string {
  return `strongroom:${tenant}:master:${version}`;
}

export function encodeSealRecord(record: SealRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

export function decodeSealRecord(bytes: Uint8Array, tenant: string): SealRecord {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw unreadable('not JSON');
  }
  const r = value as Partial<SealRecord>;
  if (r?.format !== SEAL_RECORD_FORMAT) throw unreadable('unknown format');
  if (r.tenant !== tenant) throw unreadable('tenant mismatch');
  if (typeof r.id !== 'string' || !/^[0-9a-f]{16,64}$/.test(r.id)) throw unreadable('bad id');
  if (!Number.isSafeInteger(r.revision) || r.revision! < 1) throw unreadable('bad revision');
  if (!Number.isSafeInteger(r.current) || !Array.isArray(r.keys)) throw unreadable('bad keys');
  for (const k of r.keys) {
    const ok =
      Number.isSafeInteger(k?.version) &&
      k.version >= 1 &&
      k.label === masterKeyLabel(tenant, k.version) &&
      typeof k.kcv === 'string' &&
      /^[0-9A-F]{6}$/.test(k.kcv) &&
      ['active', 'destroyed', 'retired'].includes(k.state);
    if (!ok) throw unreadable('bad key entry');
  }
  const current = r.keys.find((k) => k.version === r.current);
  if (!current || current.state === 'retired') throw unreadable('current key missing');
  return r as SealRecord;
}

function unreadable(why: string): StrongroomError {
  return new StrongroomError('E_HSM', `the seal record in the token is unreadable: ${why}`, {
    hints: ['the token may belong to another deployment, or the record was edited'],
  });
}
