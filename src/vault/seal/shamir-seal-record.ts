/**
 * The Shamir seal's non-secret record in `SealStorage` (`shamir-seal.json`): which master key versions are
 * live, the share epoch and the unseal key's fingerprint. Storage is untrusted, so the record carries an
 * HMAC under the unseal key, checked at every ceremony once the shares are combined: an edited record (an
 * older epoch put back, a version dropped) fails with `E_KEY_MATERIAL_INVALID`.
 */
import { createHmac } from 'node:crypto';
import { canonicalize } from '../../domain/canonical.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { equalBytes, fromHex, toHex, utf8 } from '../bytes.ts';

export const RECORD_NAME = 'shamir-seal.json';
export const KEYRING_NAME = 'shamir-keyring.json';
/** Master keys that no issued share file carries yet, kept through a zeroize so nothing is lost. */
export const RECOVERY_NAME = 'shamir-recovery.json';

export interface ShamirSealRecord {
  format: 'strongroom.shamir-seal';
  version: 1;
  tenant: string;
  /** Lineage id (MasterKeyRef.id), 32 hex. */
  keyId: string;
  current: number;
  /** Live master key versions, ascending (retired ones are gone). */
  versions: number[];
  epoch: number;
  threshold: number;
  total: number;
  /** Custodian id per share index (index 1 at position 0). */
  custodians: string[];
  fingerprint: string;
  /** Per share index: the `current` master key version its share file's keyring carries. */
  coverage: number[];
  /** HMAC-SHA256 under the unseal key over the canonical record without `mac`, hex. */
  mac: string;
}

export type UnsignedRecord = Omit<ShamirSealRecord, 'mac'>;

export function signRecord(unsealKey: Uint8Array, record: UnsignedRecord): ShamirSealRecord {
  return { ...record, mac: recordMac(unsealKey, record) };
}

export function verifyRecord(unsealKey: Uint8Array, record: ShamirSealRecord): void {
  const { mac, ...rest } = record;
  if (!equalBytes(fromHex(mac, 'record.mac'), fromHex(recordMac(unsealKey, rest)))) {
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'the seal record in storage was altered', {
      details: { tenant: record.tenant },
      hints: ['restore the seal storage from a backup; do not unseal until the change is explained'],
    });
  }
}

function recordMac(unsealKey: Uint8Array, record: UnsignedRecord): string {
  const {
    tenant,
    keyId,
    current,
    versions,
    epoch,
    threshold,
    total,
    custodians,
    fingerprint,
    coverage,
    format,
    version,
  } = record;
  const canonical = canonicalize({
    format,
    version,
    tenant,
    keyId,
    current,
    versions,
    epoch,
    threshold,
    total,
    custodians,
    fingerprint,
    coverage,
  });
  const mac = createHmac('sha256', unsealKey).update(utf8(canonical)).digest();
  const out = toHex(mac);
  mac.fill(0);
  return out;
}

export function encodeRecord(record: ShamirSealRecord): Uint8Array {
  return utf8(JSON.stringify(record));
}

export function decodeRecord(bytes: Uint8Array, tenant: string): ShamirSealRecord {
  let r: Partial<ShamirSealRecord>;
  try {
    r = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<ShamirSealRecord>;
  } catch {
    throw unreadable('not JSON');
  }
  if (r?.format !== 'strongroom.shamir-seal' || r.version !== 1) throw unreadable('unknown format');
  if (r.tenant !== tenant) throw unreadable('tenant mismatch');
  if (typeof r.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(r.keyId)) throw unreadable('keyId');
  if (!isInt(r.total, 2, 255) || !isInt(r.threshold, 2, r.total) || !isInt(r.epoch, 1, 0xffffffff))
    throw unreadable('threshold');
  if (!isInt(r.current, 1, 0xffffffff)) throw unreadable('current');
  const versions = r.versions;
  if (
    !Array.isArray(versions) ||
    !versions.every((v, i) => isInt(v, 1, r.current!) && (i === 0 || v > versions[i - 1]!))
  )
    throw unreadable('versions');
  if (versions[versions.length - 1] !== r.current) throw unreadable('current not live');
  if (
    !Array.isArray(r.custodians) ||
    r.custodians.length !== r.total ||
    !r.custodians.every((c) => typeof c === 'string')
  )
    throw unreadable('custodians');
  if (
    !Array.isArray(r.coverage) ||
    r.coverage.length !== r.total ||
    !r.coverage.every((c) => isInt(c, 1, r.current!))
  )
    throw unreadable('coverage');
  if (typeof r.fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(r.fingerprint))
    throw unreadable('fingerprint');
  if (typeof r.mac !== 'string' || !/^[0-9a-f]{64}$/.test(r.mac)) throw unreadable('mac');
  return r as ShamirSealRecord;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

function unreadable(why: string): StrongroomError {
  return new StrongroomError('E_KEY_MATERIAL_INVALID', `the seal record in storage is unreadable (${why})`, {
    details: { reason: why },
  });
}
