/**
 * Cryptograms: the versioned envelope every secret outside the seal is stored in (wallet seeds, audit keys).
 *
 * Layout (format version 1), all integers big-endian:
 *
 * ```
 * offset  size   field
 * 0       1      format version (0x01)
 * 1       1      L = length of the master key id (1..32)
 * 2       L      master key id (MasterKeyRef.id as bytes; hex in the API)
 * 2+L     4      master key version (u32, >= 1)
 * 6+L     12     nonce
 * 18+L    n      ciphertext (AES-256-GCM under that master key)
 * end-16  16     tag
 * ```
 *
 * The header (bytes 0 .. 6+L) is public: rewrap reads it to know which key version a cryptogram needs.
 * The key id is length-prefixed because seals name their lineage differently (a PKCS#11 seal uses 8 bytes,
 * the Shamir seal 16).
 *
 * Associated data = header || UTF-8 of the RFC 8785 canonical JSON of the binding
 * `{keyVersion, objectId, purpose, tenant}`. So a cryptogram copied to another tenant, object (wallet) or
 * purpose, or with an edited header (say, a different master key version), fails with `E_CRYPTOGRAM_INVALID`;
 * a format version this code does not know fails with `E_CRYPTOGRAM_VERSION`. The header is
 * self-delimiting, so the concatenation is unambiguous.
 */
import { StrongroomError } from '../domain/errors.ts';
import { fromHex, toHex, utf8 } from './bytes.ts';
import type { MasterKeyRef, Seal } from './seal/seal.ts';

export const CRYPTOGRAM_FORMAT_VERSION = 1;

/** Smallest valid cryptogram: header with a 1-byte id, nonce, empty ciphertext, tag. */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_ID_BYTES = 32;

/** Where a cryptogram lives and what it is for; all of it is bound into the tag. */
export interface CryptogramBinding {
  /** Tenant id, e.g. `ten_...`. */
  readonly tenant: string;
  /** The object the secret belongs to: the wallet id for a seed, the key id for an audit key. */
  readonly objectId: string;
  /** Version of the object's own key (a wallet re-keyed in place gets a new one); integer >= 0. */
  readonly keyVersion: number;
  /** What the secret is, e.g. `wallet-seed`, `audit-key`; a seed cannot be opened as an audit key. */
  readonly purpose: string;
}

/** The public part of a cryptogram. */
export interface CryptogramHeader {
  readonly formatVersion: number;
  /** The master key (lineage id and version) needed to open it. */
  readonly masterKey: MasterKeyRef;
  /** Byte length of the header; the seal's nonce || ciphertext || tag follows. */
  readonly length: number;
}

/**
 * Encrypts `plaintext` under the seal's current master key (or `options.ref`, for rewrap tests) bound to
 * `binding`. The caller owns and wipes `plaintext`.
 *
 * @example
 * const c = await sealCryptogram(seal, { tenant, objectId: walletId, keyVersion: 0, purpose: 'wallet-seed' }, seed);
 * wipe(seed);
 */
export function sealCryptogram(
  seal: Seal,
  binding: CryptogramBinding,
  plaintext: Uint8Array,
  options: { ref?: MasterKeyRef } = {},
): Promise<Uint8Array> {
  try {
    assertBytes(plaintext, 'plaintext');
    const ref = options.ref ?? seal.current();
    const header = headerBytes(ref);
    return sealWithAad(seal, header, cachedAad(header, header, binding), plaintext, ref);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Opens a cryptogram made by `sealCryptogram` with the same binding. Returns the plaintext, which the
 * caller wipes. Fails with `E_CRYPTOGRAM_VERSION` (unknown format), `E_CRYPTOGRAM_INVALID` (malformed,
 * wrong binding, altered byte, unknown or retired master key), or the seal's state errors.
 *
 * @example
 * const seed = await openCryptogram(seal, binding, c);
 * try { use(seed) } finally { wipe(seed) }
 */
export function openCryptogram(seal: Seal, binding: CryptogramBinding, bytes: Uint8Array): Promise<Uint8Array> {
  // Not `async`: the seal's promise is returned as is (one promise per unwrap on the hot path); errors
  // thrown here still surface as a rejection.
  try {
    const header = parseHeaderCached(bytes);
    checkLength(bytes, header);
    return seal.decrypt(bytes.subarray(header.length), cachedAad(bytes, header, binding), header.masterKey);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * A binding encoded once, for callers that seal and open many times under one binding in a row (rewrap:
 * open, re-seal, open again). Plain public data.
 */
export interface EncodedBinding {
  readonly bytes: Uint8Array;
}

/** Encodes (and checks) a binding once; see `openEncoded` and `sealEncoded`. */
export function encodeBindingOnce(binding: CryptogramBinding): EncodedBinding {
  return { bytes: encodeBinding(binding) };
}

/** `sealCryptogram` with a binding from `encodeBindingOnce`. */
export function sealEncoded(seal: Seal, binding: EncodedBinding, plaintext: Uint8Array, ref?: MasterKeyRef): Promise<Uint8Array> {
  try {
    return sealBound(seal, binding.bytes, plaintext, ref);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** `openCryptogram` with a binding from `encodeBindingOnce` (no AAD cache: each row is seen once). */
export function openEncoded(seal: Seal, binding: EncodedBinding, bytes: Uint8Array): Promise<Uint8Array> {
  try {
    const header = parseHeaderCached(bytes);
    checkLength(bytes, header);
    const aad = new Uint8Array(header.length + binding.bytes.length);
    aad.set(bytes.subarray(0, header.length), 0);
    aad.set(binding.bytes, header.length);
    return seal.decrypt(bytes.subarray(header.length), aad, header.masterKey);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Reads the public header: which master key a cryptogram needs (rewrap uses it to find cryptograms still
 * under an old key version). Checks structure only, not authenticity.
 */
export function parseCryptogramHeader(bytes: Uint8Array): CryptogramHeader {
  assertBytes(bytes, 'cryptogram');
  if (bytes.length < 1) throw invalid('the cryptogram is empty');
  const formatVersion = bytes[0]!;
  if (formatVersion !== CRYPTOGRAM_FORMAT_VERSION) {
    throw new StrongroomError('E_CRYPTOGRAM_VERSION', `unknown cryptogram format version ${formatVersion}`, {
      details: { formatVersion, supported: [CRYPTOGRAM_FORMAT_VERSION] },
      hints: ['the cryptogram was written by a newer Strongroom, or is not a cryptogram'],
    });
  }
  const idLength = bytes[1];
  if (idLength === undefined || idLength < 1 || idLength > MAX_KEY_ID_BYTES) throw invalid('bad master key id length');
  const length = 2 + idLength + 4;
  if (bytes.length < length) throw invalid('the cryptogram header is truncated');
  const id = toHex(bytes.subarray(2, 2 + idLength));
  const version = new DataView(bytes.buffer, bytes.byteOffset + 2 + idLength, 4).getUint32(0, false);
  if (version < 1) throw invalid('bad master key version');
  return { formatVersion, masterKey: { id, version }, length };
}

/**
 * `parseCryptogramHeader` through a small cache of recently seen headers (no hex decoding or allocation on
 * a hit; the exact header bytes are compared). The returned object is frozen and may be shared.
 */
export function readCryptogramHeader(bytes: Uint8Array): CryptogramHeader {
  return parseHeaderCached(bytes);
}

/** Header bytes for a master key; exported for the format's known-answer test. */
export function encodeCryptogramHeader(ref: MasterKeyRef): Uint8Array {
  return encodeHeader(ref);
}

/** Canonical bytes of a binding (RFC 8785 JSON); exported for the format's known-answer test. */
export function encodeCryptogramBinding(binding: CryptogramBinding): Uint8Array {
  return encodeBinding(binding);
}

// ---- internals ----

function sealBound(seal: Seal, bindingBytes: Uint8Array, plaintext: Uint8Array, ref?: MasterKeyRef): Promise<Uint8Array> {
  assertBytes(plaintext, 'plaintext');
  const keyRef = ref ?? seal.current();
  const header = headerBytes(keyRef);
  const aad = new Uint8Array(header.length + bindingBytes.length);
  aad.set(header, 0);
  aad.set(bindingBytes, header.length);
  return sealWithAad(seal, header, aad, plaintext, keyRef);
}

function sealWithAad(seal: Seal, header: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, ref: MasterKeyRef): Promise<Uint8Array> {
  return seal.encrypt(plaintext, aad, ref).then((body) => {
    const out = new Uint8Array(header.length + body.length);
    out.set(header, 0);
    out.set(body, header.length);
    return out;
  });
}

function checkLength(bytes: Uint8Array, header: CryptogramHeader): void {
  if (bytes.length < header.length + NONCE_BYTES + TAG_BYTES) {
    throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the cryptogram is too short', { details: { length: bytes.length } });
  }
}

/*
 * Caches for the unwrap hot path. Everything cached is public (headers name a master key; bindings name a
 * tenant and an object), and both are bounded. A hit still compares the exact header bytes, and a binding's
 * fields are still type-checked on every call, so a cached entry is only ever reused for the same bytes.
 */
const HEADER_CACHE_SIZE = 8;
const AAD_CACHE_SIZE = 4096;

interface CachedHeader {
  readonly bytes: Uint8Array;
  readonly header: CryptogramHeader;
}
/** Most recently parsed headers: a tenant has one lineage id and a few master key versions. */
const headerCache: CachedHeader[] = [];

/** `parseCryptogramHeader`, remembering the last few headers (no hex, no allocation on a hit). */
function parseHeaderCached(bytes: Uint8Array): CryptogramHeader {
  assertBytes(bytes, 'cryptogram');
  const idLength = bytes[1];
  if (bytes[0] === CRYPTOGRAM_FORMAT_VERSION && idLength !== undefined && idLength >= 1 && idLength <= MAX_KEY_ID_BYTES) {
    const length = 2 + idLength + 4;
    for (const c of headerCache) if (c.bytes.length === length && samePrefix(c.bytes, bytes)) return c.header;
  }
  const parsed = parseCryptogramHeader(bytes);
  const header = Object.freeze({ ...parsed, masterKey: Object.freeze({ ...parsed.masterKey }) });
  if (headerCache.length >= HEADER_CACHE_SIZE) headerCache.pop();
  headerCache.unshift({ bytes: bytes.slice(0, header.length), header });
  return header;
}

/** Encoded headers of recently used master keys (sealing under the current key is the common case). */
const headerBytesCache = new Map<string, Uint8Array>();

function headerBytes(ref: MasterKeyRef): Uint8Array {
  const key = typeof ref?.id === 'string' && typeof ref.version === 'number' ? `${ref.id}:${ref.version}` : undefined;
  const hit = key === undefined ? undefined : headerBytesCache.get(key);
  if (hit) return hit;
  const header = encodeHeader(ref);
  if (headerBytesCache.size >= HEADER_CACHE_SIZE) headerBytesCache.delete(headerBytesCache.keys().next().value as string);
  headerBytesCache.set(key!, header);
  return header;
}

/** True if `bytes` starts with `prefix`. */
function samePrefix(prefix: Uint8Array, bytes: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (prefix[i] !== bytes[i]) return false;
  return true;
}

interface CachedAad {
  readonly header: Uint8Array;
  readonly aad: Uint8Array;
}
const aadCache = new Map<string, CachedAad>();

/** header || canonical binding, from a bounded cache keyed by the binding's fields (length-prefixed). */
function cachedAad(bytes: Uint8Array, header: { readonly length: number }, binding: CryptogramBinding): Uint8Array {
  const { tenant, objectId, keyVersion, purpose } = binding ?? ({} as CryptogramBinding);
  assertField(tenant, 'tenant');
  assertField(objectId, 'objectId');
  assertField(purpose, 'purpose');
  assertKeyVersion(keyVersion);
  // Length prefixes make the key unambiguous whatever characters the fields hold.
  const key = `${tenant.length}:${tenant}${objectId.length}:${objectId}${purpose.length}:${purpose}${keyVersion}`;
  const hit = aadCache.get(key);
  if (hit && hit.header.length === header.length && samePrefix(hit.header, bytes)) return hit.aad;
  const bindingBytes = encodeBinding(binding);
  const aad = new Uint8Array(header.length + bindingBytes.length);
  aad.set(bytes.subarray(0, header.length), 0);
  aad.set(bindingBytes, header.length);
  if (!hit && aadCache.size >= AAD_CACHE_SIZE) aadCache.delete(aadCache.keys().next().value as string);
  aadCache.set(key, { header: aad.subarray(0, header.length), aad });
  return aad;
}

function encodeHeader(ref: MasterKeyRef): Uint8Array {
  if (typeof ref?.id !== 'string' || !/^(?:[0-9a-f]{2}){1,32}$/.test(ref.id)) {
    throw new StrongroomError('E_VALIDATION', 'master key id must be 1-32 bytes of lower-case hex', { details: { parameter: 'ref.id' } });
  }
  if (!Number.isSafeInteger(ref.version) || ref.version < 1 || ref.version > 0xffffffff) {
    throw new StrongroomError('E_VALIDATION', 'master key version must be an integer in 1..2^32-1', { details: { parameter: 'ref.version' } });
  }
  const id = fromHex(ref.id, 'ref.id');
  const out = new Uint8Array(2 + id.length + 4);
  out[0] = CRYPTOGRAM_FORMAT_VERSION;
  out[1] = id.length;
  out.set(id, 2);
  new DataView(out.buffer).setUint32(2 + id.length, ref.version, false);
  return out;
}

function encodeBinding(binding: CryptogramBinding): Uint8Array {
  const { tenant, objectId, keyVersion, purpose } = binding ?? ({} as CryptogramBinding);
  assertField(tenant, 'tenant');
  assertField(objectId, 'objectId');
  assertField(purpose, 'purpose');
  assertKeyVersion(keyVersion);
  // RFC 8785 canonical JSON of exactly these four fields. For strings and safe integers with the keys
  // written in sorted order, JSON.stringify produces the JCS bytes (the test pins this against
  // canonicalize); it is the unwrap hot path, and the generic canonicalizer costs several times more.
  return utf8(JSON.stringify({ keyVersion, objectId, purpose, tenant }));
}

function assertKeyVersion(keyVersion: unknown): asserts keyVersion is number {
  if (!Number.isSafeInteger(keyVersion) || (keyVersion as number) < 0) {
    throw new StrongroomError('E_VALIDATION', 'binding.keyVersion must be a non-negative integer', { details: { parameter: 'binding.keyVersion' } });
  }
}

function assertField(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new StrongroomError('E_VALIDATION', `binding.${name} must be a non-empty string of at most 256 characters`, {
      details: { parameter: `binding.${name}` },
    });
  }
}

function assertBytes(value: unknown, parameter: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must be a Uint8Array`, { details: { parameter } });
  }
}

function invalid(message: string): StrongroomError {
  return new StrongroomError('E_CRYPTOGRAM_INVALID', message);
}
