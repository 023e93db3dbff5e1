/**
 * What the vault's worker threads do (vault-worker.mjs loads this module; vault-worker-pool.ts sends the
 * messages). Each task is a plain function (synchronous but for BIP39 wallets), so the same code is
 * testable on the main thread.
 *
 * - `wallets`: new wallet secrets (wallets.ts, `newWalletSecretSync`) with their public info; the secrets
 *   go back in one transferred buffer that both sides wipe.
 * - `rewrap-keys` / `rewrap`: a rewrap's per-row crypto (see rewrap.ts): open each cryptogram under its
 *   master key version, seal it again under the target version, open the new one again and derive the
 *   wallet's BIP32 fingerprint from it. Master keys arrive as `KeyObject`s and live only in this worker's
 *   state until it exits.
 *
 * The cryptogram layout is cryptogram.ts's: header || nonce || ciphertext || tag, associated data
 * header || canonical binding; the header and binding encoders are cryptogram.ts's own, the AES-GCM
 * layout seal/aes-gcm.ts's (what the software seal uses). rewrap.test.ts opens what this writes with
 * `openCryptogram`.
 */
import type { KeyObject } from 'node:crypto';
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import { StrongroomError, isStrongroomError } from '../domain/errors.ts';
import { wipe } from './bytes.ts';
import { encodeCryptogramBinding, encodeCryptogramHeader, readCryptogramHeader } from './cryptogram.ts';
import { gcmDecrypt, gcmEncrypt } from './seal/aes-gcm.ts';
import type { WorkerError } from './vault-worker-pool.ts';
import {
  checkSeedSource,
  fingerprintNumberOfSecret,
  generateWalletSecret,
  newWalletSecretSync,
  publicInfoOfSecret,
  walletBinding,
  type SeedSource,
  type WalletPublicInfo,
} from './wallets.ts';

// ------------------------------------------------------------------------------------------ wallets

export interface WalletsTask {
  count: number;
  seeds: SeedSource;
  network: BitcoinNetworkName;
}

export interface WalletsResult {
  /** Every secret, `secretLength` bytes each, in one buffer (transferred; the receiver wipes it). */
  secrets: ArrayBuffer;
  secretLength: number;
  infos: WalletPublicInfo[];
}

/**
 * `count` new wallet secrets and their public info (fingerprint, account xpubs). BIP39 seeds run their
 * PBKDF2 on the libuv pool, all at once (so asynchronously: the reply follows later messages); the
 * derivations then run here.
 */
export function makeWallets(task: WalletsTask): Reply | Promise<Reply> {
  const { count, seeds, network } = task;
  if (!Number.isSafeInteger(count) || count < 1 || count > 1024) {
    throw new StrongroomError('E_VALIDATION', 'count must be 1..1024', { details: { parameter: 'count' } });
  }
  checkSeedSource(seeds);
  if (seeds === 'csprng') return walletsReply(Array.from({ length: count }, () => newWalletSecretSync(seeds)), network);
  const made = Array.from({ length: count }, () => generateWalletSecret(seeds));
  return Promise.allSettled(made).then((all) => {
    const secrets = all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = all.find((r) => r.status === 'rejected');
    if (failed) {
      wipe(...secrets);
      throw failed.reason;
    }
    return walletsReply(secrets, network);
  });
}

/** Derives each secret's public info and moves the secrets into one buffer; wipes every input. */
function walletsReply(secrets: Uint8Array[], network: BitcoinNetworkName): Reply {
  const length = secrets[0]!.length;
  const all = new Uint8Array(secrets.length * length);
  const infos: WalletPublicInfo[] = [];
  try {
    secrets.forEach((secret, i) => {
      all.set(secret, i * length);
      infos.push(publicInfoOfSecret(secret, network));
    });
  } catch (e) {
    wipe(all);
    throw e;
  } finally {
    wipe(...secrets);
  }
  const result: WalletsResult = { secrets: all.buffer, secretLength: length, infos };
  return { result, transfer: [all.buffer] };
}

// ------------------------------------------------------------------------------------------- rewrap

/** The keys of one rewrap job, as a worker holds them. */
export interface RewrapKeys {
  tenant: string;
  /** Master key lineage id (hex) and the version every cryptogram ends under. */
  target: { id: string; version: number };
  keys: Map<number, KeyObject>;
  /** Encoded header of the target version (cached). */
  header?: Uint8Array;
}

export interface RewrapKeysTask {
  tenant: string;
  target: { id: string; version: number };
  keys: Array<{ version: number; key: KeyObject }>;
}

/** Row outcome codes in a packed result. */
export const ROW_VERIFIED = 0; // already under the target version; opened and fingerprinted
export const ROW_REWRAPPED = 1; // sealed again under the target version; the new cryptogram follows

/**
 * Packs rows for a worker, in order: u16 length + UTF-8 wallet id, u32 length + cryptogram. One buffer,
 * transferred (cryptograms and ids are not secret).
 */
export function packRewrapRows(rows: ReadonlyArray<{ walletId: string; cryptogram: Uint8Array }>): Uint8Array {
  const ids = rows.map((r) => ENC.encode(r.walletId));
  let size = 0;
  rows.forEach((r, i) => {
    if (ids[i]!.length > 0xffff) throw new StrongroomError('E_VALIDATION', 'wallet id too long', { details: { parameter: 'walletId' } });
    size += 2 + ids[i]!.length + 4 + r.cryptogram.length;
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  rows.forEach((r, i) => {
    const id = ids[i]!;
    view.setUint16(at, id.length);
    out.set(id, at + 2);
    at += 2 + id.length;
    view.setUint32(at, r.cryptogram.length);
    out.set(r.cryptogram, at + 4);
    at += 4 + r.cryptogram.length;
  });
  return out;
}

export interface RewrapChunkResult {
  /** Per row: u8 outcome, u32 fingerprint, u32 length + the new cryptogram (length 0 unless rewrapped). */
  out: ArrayBuffer;
  /** Rows processed (all, unless `failure` stopped the chunk at `failure.index`). */
  count: number;
  failure?: { index: number; error: WorkerError };
}

/**
 * Re-encrypts one chunk of rows. Stops at the first row that fails (a wrong key, an altered cryptogram, a
 * secret with no valid master key): rewrap stops there anyway, and nothing of that batch is written.
 */
export function rewrapRows(state: RewrapKeys, packed: Uint8Array): RewrapChunkResult {
  const { tenant, target } = state;
  const header = (state.header ??= encodeCryptogramHeader(target));
  const targetKey = state.keys.get(target.version);
  const inView = new DataView(packed.buffer, packed.byteOffset, packed.length);
  // Outcome 9 bytes per row; a new cryptogram is at most 32 header bytes longer than the old one.
  let rows = 0;
  for (let at = 0; at < packed.length; rows++) {
    at += 2 + inView.getUint16(at);
    at += 4 + inView.getUint32(at);
  }
  const out = new Uint8Array(packed.length + rows * (9 + header.length));
  const outView = new DataView(out.buffer);
  let o = 0;
  let index = 0;
  for (let at = 0; at < packed.length; index++) {
    const idLength = inView.getUint16(at);
    const walletId = DEC.decode(packed.subarray(at + 2, at + 2 + idLength));
    at += 2 + idLength;
    const length = inView.getUint32(at);
    const cryptogram = packed.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    try {
      if (!targetKey) throw noKey(target.id, target.version);
      const binding = encodeCryptogramBinding(walletBinding(tenant, walletId));
      // Associated data under the target key: target header || binding (for sealing and re-opening).
      const aad = new Uint8Array(header.length + binding.length);
      aad.set(header, 0);
      aad.set(binding, header.length);
      const old = readCryptogramHeader(cryptogram);
      let current = cryptogram;
      let outcome = ROW_VERIFIED;
      if (old.masterKey.version !== target.version || old.masterKey.id !== target.id) {
        const key = old.masterKey.id === target.id ? state.keys.get(old.masterKey.version) : undefined;
        if (!key) throw noKey(old.masterKey.id, old.masterKey.version);
        const oldAad = new Uint8Array(old.length + binding.length);
        oldAad.set(cryptogram.subarray(0, old.length), 0);
        oldAad.set(binding, old.length);
        const plaintext = open(key, cryptogram, old.length, oldAad, old.masterKey.version);
        try {
          const body = gcmEncrypt(targetKey, plaintext, aad);
          current = new Uint8Array(header.length + body.length);
          current.set(header, 0);
          current.set(body, header.length);
        } finally {
          wipe(plaintext);
        }
        outcome = ROW_REWRAPPED;
      } else if (old.length !== header.length) {
        throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the cryptogram header does not match its master key');
      }
      // Verify what will be stored: open it again; its secret's master key gives the fingerprint.
      const check = open(targetKey, current, header.length, aad, target.version);
      let fingerprint: number;
      try {
        fingerprint = fingerprintNumberOfSecret(check);
      } finally {
        wipe(check);
      }
      out[o] = outcome;
      outView.setUint32(o + 1, fingerprint);
      const written = outcome === ROW_REWRAPPED ? current.length : 0;
      outView.setUint32(o + 5, written);
      if (written > 0) out.set(current, o + 9);
      o += 9 + written;
    } catch (e) {
      return { out: out.buffer, count: index, failure: { index, error: workerError(e) } };
    }
  }
  return { out: out.buffer, count: index };
}

/** Reads a packed result: calls `row(i, fingerprint, cryptogram?)` for each row in order. */
export function readRewrapResult(
  result: RewrapChunkResult,
  row: (index: number, fingerprint: number, rewrapped: Uint8Array | undefined) => void,
): void {
  const out = new Uint8Array(result.out);
  const view = new DataView(result.out);
  let o = 0;
  for (let i = 0; i < result.count; i++) {
    const outcome = out[o]!;
    const fingerprint = view.getUint32(o + 1);
    const length = view.getUint32(o + 5);
    row(i, fingerprint, outcome === ROW_REWRAPPED ? out.subarray(o + 9, o + 9 + length) : undefined);
    o += 9 + length;
  }
}

/** Adds a job's keys to a worker's state (a new job replaces an old one). */
export function acceptRewrapKeys(state: RewrapKeys | undefined, task: RewrapKeysTask): RewrapKeys {
  const same = state && state.tenant === task.tenant && state.target.id === task.target.id && state.target.version === task.target.version;
  const next: RewrapKeys = same ? state : { tenant: task.tenant, target: { ...task.target }, keys: new Map() };
  for (const { version, key } of task.keys) next.keys.set(version, key);
  return next;
}

/** Opens nonce || ciphertext || tag after a `headerLength`-byte header, under `aad` (header || binding). */
function open(key: KeyObject, cryptogram: Uint8Array, headerLength: number, aad: Uint8Array, version: number): Uint8Array {
  const plaintext = gcmDecrypt(key, cryptogram.subarray(headerLength), aad);
  if (!plaintext) {
    throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the cryptogram does not open under this key and associated data', {
      details: { keyVersion: version },
    });
  }
  return plaintext;
}

function noKey(id: string, version: number): StrongroomError {
  return new StrongroomError('E_CRYPTOGRAM_INVALID', 'no live master key with this id and version', {
    details: { keyId: id, version },
    hints: ['the version may have been retired after a rewrap'],
  });
}

// ---------------------------------------------------------------------------------------- messages

/** A worker's state: the keys of the rewrap job it serves, if any. */
export interface WorkerState {
  rewrap?: RewrapKeys;
}

/** A task's answer and the buffers to transfer with it. */
export interface Reply {
  result: unknown;
  transfer: ArrayBuffer[];
}

/**
 * Runs one message in a worker. Synchronous, so a worker handles its messages strictly in order (a job's
 * keys before its rows), except `wallets` with BIP39 seeds, which answers later. Buffers received are
 * wiped here when they held secrets.
 */
export function handleTask(state: WorkerState, message: Record<string, unknown>): Reply | Promise<Reply> {
  switch (message.op) {
    case 'wallets':
      return makeWallets(message as unknown as WalletsTask);
    case 'rewrap-keys':
      state.rewrap = acceptRewrapKeys(state.rewrap, message as unknown as RewrapKeysTask);
      return { result: true, transfer: [] };
    case 'rewrap': {
      if (!state.rewrap) throw new StrongroomError('E_INTERNAL', 'no rewrap job was handed to this worker');
      const r = rewrapRows(state.rewrap, new Uint8Array(message.rows as ArrayBuffer));
      return { result: r, transfer: [r.out] };
    }
    case 'forget':
      state.rewrap = undefined;
      return { result: true, transfer: [] };
    default:
      throw new StrongroomError('E_INTERNAL', 'unknown vault worker task', { details: { op: String(message.op) } });
  }
}

/** An error as it crosses to the main thread: code, message, hints, details (never a secret). */
export function workerError(e: unknown): WorkerError {
  if (isStrongroomError(e)) return { code: e.code, message: e.message, details: e.details, hints: e.hints };
  return { code: 'E_INTERNAL', message: `vault worker: ${e instanceof Error ? e.message : String(e)}` };
}

const ENC = new TextEncoder();
const DEC = new TextDecoder();
