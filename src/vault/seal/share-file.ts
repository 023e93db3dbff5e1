/**
 * A custodian's share file (their "smart card"): one Shamir share of the unseal key, encrypted under the
 * custodian's passphrase, plus the seal's master keyring encrypted under the unseal key (so M custodians
 * can restore after a zeroize, while one file alone reveals nothing). Only ciphertext is ever serialised.
 *
 * ```json
 * { "format": "strongroom-share", "version": 1, "tenant": "ten_...", "custodian": "alice", "index": 1,
 *   "threshold": 2, "total": 3, "epoch": 1, "fingerprint": "<16 hex>",
 *   "kdf": { "name": "scrypt", "N": 32768, "r": 8, "p": 1, "salt": "<base64>" },
 *   "check": "<16 hex>", "nonce": "<base64>", "ciphertext": "<base64 share || tag>",
 *   "masterKeys": { "keyId": "...", "current": 1, "keys": [{ "version": 1, "sealed": "<base64>" }] } }
 * ```
 *
 * scrypt(passphrase NFKC, salt) gives 64 bytes: the first 32 are the AES-256-GCM key of the share, the last
 * 32 key an HMAC whose first 8 bytes (`check`) tell a wrong passphrase (`E_PASSPHRASE_WRONG`) from an altered
 * file (`E_SHARE_INVALID`). `check` lets an attacker test guesses offline, but no more than the GCM tag
 * already does; scrypt's cost is the defence. The share's associated data is the canonical JSON of every
 * header field (format .. kdf), so an edited index, epoch or tenant fails. `masterKeys` is outside it on
 * purpose: the seal refreshes it after a rotation without the passphrase (it is authenticated by the
 * unseal key instead).
 */
import { createHmac, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { canonicalize } from '../../domain/canonical.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8, wipe } from '../bytes.ts';
import { gcmDecrypt, gcmEncrypt, gcmKey, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './aes-gcm.ts';
import { parseKeyring, type EncryptedKeyring } from './keyring.ts';

export const SHARE_FILE_FORMAT = 'strongroom-share';
export const SHARE_FILE_VERSION = 1;

/** scrypt cost. Production default N=2^15, r=8, p=1 (~32 MiB, ~100 ms). */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT_COST: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

/**
 * Lowest N accepted. Below the production default only so the test suite stays fast; `encryptShareFile`
 * callers in production never pass a cost.
 */
export const MIN_SCRYPT_N = 2 ** 10;
const MAX_SCRYPT_N = 2 ** 20;

export interface ShareFileKdf {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64, 16 bytes. */
  readonly salt: string;
}

export interface ShareFile {
  readonly format: typeof SHARE_FILE_FORMAT;
  readonly version: typeof SHARE_FILE_VERSION;
  readonly tenant: string;
  /** Custodian id, e.g. `alice` or a user id. */
  readonly custodian: string;
  /** 1..total, the custodian's position in the ceremony. */
  readonly index: number;
  readonly threshold: number;
  readonly total: number;
  /** Share generation: bumped by every rekey, so older share files are refused. */
  readonly epoch: number;
  /** Fingerprint of the unseal key for this epoch (16 hex); see `unsealKeyFingerprint`. */
  readonly fingerprint: string;
  readonly kdf: ShareFileKdf;
  /** 16 hex: tells a wrong passphrase from an altered file. */
  readonly check: string;
  /** base64, 12 bytes. */
  readonly nonce: string;
  /** base64 of the encrypted share || GCM tag. */
  readonly ciphertext: string;
  /** The master keyring encrypted under the unseal key, as of when the file was written or refreshed. */
  readonly masterKeys: EncryptedKeyring;
}

/**
 * A custodian passphrase. A string is NFKC-normalised and UTF-8 encoded; bytes are used as they are (pass
 * the UTF-8 of the NFKC form; bytes are preferred because the caller can wipe them, a string it cannot).
 */
export type Passphrase = string | Uint8Array;

export interface EncryptShareFileParameters {
  tenant: string;
  custodian: string;
  index: number;
  threshold: number;
  total: number;
  epoch: number;
  fingerprint: string;
  /** The raw Shamir share; the caller wipes it. */
  share: Uint8Array;
  passphrase: Passphrase;
  masterKeys: EncryptedKeyring;
  /** Test suites only: a cheaper scrypt (N >= 2^10). */
  scrypt?: Partial<ScryptCost>;
}

/** Fingerprint of the unseal key for a tenant and share epoch: HMAC-SHA256(unseal key, canonical{...})[0..8], hex. */
export function unsealKeyFingerprint(unsealKey: Uint8Array, tenant: string, epoch: number): string {
  const mac = createHmac('sha256', unsealKey)
    .update(canonicalize({ purpose: 'strongroom.unseal-key-fingerprint', tenant, epoch }))
    .digest();
  const out = toHex(mac.subarray(0, 8));
  mac.fill(0);
  return out;
}

/**
 * Encrypts one custodian's share under their passphrase.
 *
 * @example
 * const file = await encryptShareFile({ tenant, custodian: 'alice', index: 1, threshold: 2, total: 3, epoch: 1,
 *   fingerprint, share, passphrase, masterKeys });
 * writeFileSync('alice.share.json', serializeShareFile(file));
 */
export async function encryptShareFile(params: EncryptShareFileParameters): Promise<ShareFile> {
  const { tenant, custodian, index, threshold, total, epoch, fingerprint, share, passphrase } = params;
  if (!(share instanceof Uint8Array) || share.length < 2 || share.length > 256) {
    throw new StrongroomError('E_VALIDATION', 'share must be a Uint8Array of 2-256 bytes', {
      details: { parameter: 'share' },
    });
  }
  if (passphraseLength(passphrase) < 8) {
    throw new StrongroomError('E_VALIDATION', 'a custodian passphrase must have at least 8 characters', {
      details: { parameter: 'passphrase', custodian },
    });
  }
  const cost = { ...DEFAULT_SCRYPT_COST, ...params.scrypt };
  const kdf: ShareFileKdf = {
    name: 'scrypt',
    N: cost.N,
    r: cost.r,
    p: cost.p,
    salt: toBase64(randomBytes(16)),
  };
  const header = checkHeader({
    format: SHARE_FILE_FORMAT,
    version: SHARE_FILE_VERSION,
    tenant,
    custodian,
    index,
    threshold,
    total,
    epoch,
    fingerprint,
    kdf,
  });
  const masterKeys = parseKeyring(params.masterKeys, 'masterKeys');
  const derived = await deriveKeys(passphrase, kdf);
  try {
    const sealed = gcmEncrypt(gcmKey(derived.encryption), share, headerAad(header));
    return {
      ...header,
      check: derived.check,
      nonce: toBase64(sealed.subarray(0, GCM_NONCE_BYTES)),
      ciphertext: toBase64(sealed.subarray(GCM_NONCE_BYTES)),
      masterKeys,
    };
  } finally {
    wipe(derived.encryption);
  }
}

/**
 * Decrypts the share (the caller wipes it). `E_PASSPHRASE_WRONG` names the custodian; an altered file
 * fails with `E_SHARE_INVALID`. Checks the file's shape first, so a malformed file costs no scrypt.
 */
export async function decryptShareFile(file: ShareFile, passphrase: Passphrase): Promise<Uint8Array> {
  const checked = checkShareFile(file);
  if (passphraseLength(passphrase) < 1) {
    throw new StrongroomError('E_VALIDATION', 'passphrase must be a non-empty string', {
      details: { parameter: 'passphrase', custodian: checked.custodian },
    });
  }
  const derived = await deriveKeys(passphrase, checked.kdf);
  try {
    if (!equalBytes(fromHex(derived.check), fromHex(checked.check))) {
      throw new StrongroomError('E_PASSPHRASE_WRONG', `wrong passphrase for custodian ${checked.custodian}`, {
        details: { custodian: checked.custodian, index: checked.index },
      });
    }
    const sealed = concatBytes(
      fromBase64(checked.nonce, 'nonce'),
      fromBase64(checked.ciphertext, 'ciphertext'),
    );
    const share = gcmDecrypt(gcmKey(derived.encryption), sealed, headerAad(headerOf(checked)));
    if (!share) {
      throw new StrongroomError(
        'E_SHARE_INVALID',
        `the share file of custodian ${checked.custodian} was altered`,
        {
          details: { custodian: checked.custodian, index: checked.index },
          hints: [
            'the passphrase is right but the header or ciphertext changed; ask the custodian for their original file',
          ],
        },
      );
    }
    return share;
  } finally {
    wipe(derived.encryption);
  }
}

/** The same share file carrying another keyring (after a rotation); needs no passphrase. */
export function withMasterKeys(file: ShareFile, masterKeys: EncryptedKeyring): ShareFile {
  return { ...checkShareFile(file), masterKeys: parseKeyring(masterKeys, 'masterKeys') };
}

/** JSON text of a share file (ciphertext only, nothing secret). */
export function serializeShareFile(file: ShareFile): string {
  return JSON.stringify(checkShareFile(file), null, 2) + '\n';
}

/** Parses and checks a share file's JSON text (or its UTF-8 bytes); anything unexpected fails with `E_SHARE_INVALID`. */
export function parseShareFile(text: string | Uint8Array): ShareFile {
  let value: unknown;
  try {
    value = JSON.parse(
      typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text),
    );
  } catch (cause) {
    throw new StrongroomError('E_SHARE_INVALID', 'the share file is not JSON', { cause });
  }
  return checkShareFile(value as ShareFile);
}

/** Validates every field of a share file (shape, not authenticity) and returns a clean copy. */
export function checkShareFile(file: ShareFile): ShareFile {
  if (typeof file !== 'object' || file === null) throw malformed('not an object');
  const header = checkHeader(file);
  if (typeof file.check !== 'string' || !/^[0-9a-f]{16}$/.test(file.check)) throw malformed('check');
  if (typeof file.nonce !== 'string' || safeLength(file.nonce) !== GCM_NONCE_BYTES) throw malformed('nonce');
  const ctLength = typeof file.ciphertext === 'string' ? safeLength(file.ciphertext) : -1;
  if (ctLength < GCM_TAG_BYTES + 2 || ctLength > GCM_TAG_BYTES + 256) throw malformed('ciphertext');
  return {
    ...header,
    check: file.check,
    nonce: file.nonce,
    ciphertext: file.ciphertext,
    masterKeys: parseKeyring(file.masterKeys, 'masterKeys'),
  };
}

// ---- internals ----

type ShareFileHeader = Pick<
  ShareFile,
  | 'format'
  | 'version'
  | 'tenant'
  | 'custodian'
  | 'index'
  | 'threshold'
  | 'total'
  | 'epoch'
  | 'fingerprint'
  | 'kdf'
>;

function headerOf(f: ShareFile): ShareFileHeader {
  const { format, version, tenant, custodian, index, threshold, total, epoch, fingerprint, kdf } = f;
  return { format, version, tenant, custodian, index, threshold, total, epoch, fingerprint, kdf };
}

function headerAad(h: ShareFileHeader): Uint8Array {
  return utf8(canonicalize(h));
}

function checkHeader(h: ShareFileHeader): ShareFileHeader {
  if (h.format !== SHARE_FILE_FORMAT) throw malformed('format is not strongroom-share');
  if (h.version !== SHARE_FILE_VERSION) {
    throw new StrongroomError('E_SHARE_INVALID', `unknown share file version ${String(h.version)}`, {
      details: { version: h.version },
    });
  }
  if (typeof h.tenant !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(h.tenant))
    throw malformed('tenant');
  if (typeof h.custodian !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(h.custodian))
    throw malformed('custodian');
  if (!isInt(h.total, 2, 255)) throw malformed('total');
  if (!isInt(h.threshold, 2, h.total)) throw malformed('threshold');
  if (!isInt(h.index, 1, h.total)) throw malformed('index');
  if (!isInt(h.epoch, 1, 0xffffffff)) throw malformed('epoch');
  if (typeof h.fingerprint !== 'string' || !/^[0-9a-f]{16}$/.test(h.fingerprint))
    throw malformed('fingerprint');
  const k = h.kdf as Partial<ShareFileKdf> | undefined;
  if (!k || k.name !== 'scrypt') throw malformed('kdf.name');
  if (!isInt(k.N, MIN_SCRYPT_N, MAX_SCRYPT_N) || (k.N & (k.N - 1)) !== 0) throw malformed('kdf.N');
  if (!isInt(k.r, 1, 32) || !isInt(k.p, 1, 16)) throw malformed('kdf.r/p');
  if (typeof k.salt !== 'string' || safeLength(k.salt) < 16 || safeLength(k.salt) > 64)
    throw malformed('kdf.salt');
  const kdf: ShareFileKdf = { name: 'scrypt', N: k.N, r: k.r, p: k.p, salt: k.salt };
  return {
    format: h.format,
    version: h.version,
    tenant: h.tenant,
    custodian: h.custodian,
    index: h.index,
    threshold: h.threshold,
    total: h.total,
    epoch: h.epoch,
    fingerprint: h.fingerprint,
    kdf,
  };
}

/** Characters of a string passphrase (NFKC), bytes of a byte one; -1 when it is neither. */
export function passphraseLength(passphrase: unknown): number {
  if (typeof passphrase === 'string') return passphrase.normalize('NFKC').length;
  if (passphrase instanceof Uint8Array) return passphrase.length;
  return -1;
}

async function deriveKeys(
  passphrase: Passphrase,
  kdf: ShareFileKdf,
): Promise<{ encryption: Uint8Array; check: string }> {
  const salt = fromBase64(kdf.salt, 'kdf.salt');
  const secret = typeof passphrase === 'string' ? utf8(passphrase.normalize('NFKC')) : passphrase;
  const out = await new Promise<Buffer>((resolve, reject) =>
    scryptCallback(
      secret,
      salt,
      64,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 },
      (e, key) => (e ? reject(e) : resolve(key)),
    ),
  );
  if (secret !== passphrase) wipe(secret);
  const encryption = new Uint8Array(out.subarray(0, 32));
  const mac = createHmac('sha256', out.subarray(32))
    .update('strongroom.share-file.passphrase-check')
    .digest();
  out.fill(0);
  const check = toHex(mac.subarray(0, 8));
  mac.fill(0);
  return { encryption, check };
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

function safeLength(b64: string): number {
  try {
    return fromBase64(b64).length;
  } catch {
    return -1;
  }
}

function malformed(field: string): StrongroomError {
  return new StrongroomError('E_SHARE_INVALID', `malformed share file: ${field}`, { details: { field } });
}
