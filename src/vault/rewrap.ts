/**
 * Rewrap: after a rotation, re-encrypt every cryptogram under the current master key, in batches, each
 * batch ONE storage transaction together with the job's progress. A crash at any point loses at most the
 * uncommitted batch; a re-run resumes after the committed cursor, and each row's key version makes the
 * update skip a row that is already done.
 *
 * Verification: every new cryptogram is decrypted again and its wallet fingerprint re-derived and compared
 * with the recorded one before the batch commits. A running SHA-256 chain over (walletId, fingerprint) in
 * walletId order is kept with the cursor; at the end it must equal the same chain computed over the stored
 * records when the job started, and the verified count must equal the number of wallets. Only then are the
 * old master key versions retired (zeroized in the seal). Wallet creation is refused while a job runs, so
 * the set of wallets is fixed.
 *
 * Speed (a million rows in under a minute): the fingerprints' public keys, the largest cost, are computed
 * by worker threads (fingerprint-pool.ts) for large jobs, while the main thread reads, decrypts and
 * re-encrypts the NEXT batch; batches still verify and commit strictly one after another, in order.
 */
import { hash } from 'node:crypto';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { wipe } from './bytes.ts';
import {
  encodeBindingOnce,
  openCryptogram,
  openEncoded,
  parseCryptogramHeader,
  readCryptogramHeader,
  sealCryptogram,
  sealEncoded,
} from './cryptogram.ts';
import { auditKeyBinding, signWithAuditKey } from './audit-key.ts';
import { FingerprintPool, defaultFingerprintWorkers } from './fingerprint-pool.ts';
import { fingerprintHex } from './hd.ts';
import type { MasterKeyRef, Seal } from './seal/seal.ts';
import { fingerprintOfMasterKey, masterKeyOfSecret, walletBinding } from './wallets.ts';
import type { RewrapJob, RewrapProgress, RewrapReturnType, VaultAction, VaultStorage, WalletRecord } from './vault.ts';

export interface RewrapContext {
  tenant: string;
  seal: Seal;
  storage: VaultStorage;
  now: () => Date;
  batchSize: number;
  onProgress?: (progress: RewrapProgress) => void;
  /** Audits an action; throws if it cannot (then nothing further happens). */
  record(action: VaultAction, payload: unknown): Promise<void>;
  /** Zeroizes an old master key version in the seal. */
  retire(ref: MasterKeyRef): Promise<void>;
  /**
   * Worker threads for the fingerprints; 0 derives them on the main thread. Default: one per spare core
   * when at least `WORKERS_FROM` wallets remain, else 0 (starting workers costs more than it saves).
   */
  fingerprintWorkers?: number;
}

/** What a rewrap reads of each wallet. */
export type RewrapRow = Pick<WalletRecord, 'walletId' | 'keyVersion' | 'cryptogram' | 'fingerprint'>;

/**
 * Optional storage fast path: just the `RewrapRow` columns, in walletId order (as `listWallets`), without
 * building whole records (parsing every row's xpubs JSON is a measurable share of a million-row rewrap).
 */
export interface RewrapRowReader {
  listRewrapRows(tenant: string, options: { after: string | null; limit: number }): Promise<RewrapRow[]>;
}

function hasRewrapRowReader(storage: VaultStorage): storage is VaultStorage & RewrapRowReader {
  return typeof (storage as Partial<RewrapRowReader>).listRewrapRows === 'function';
}

const CHAIN_START = '0'.repeat(64);
const WORKERS_FROM = 20_000;
const KEY_BYTES = 32;

/**
 * One link of the (walletId, fingerprint) chain: SHA-256(previous || JCS([walletId, fingerprint])). For an
 * array of two strings, JSON.stringify is RFC 8785 (JCS serialises strings exactly as JSON.stringify).
 */
function link(previous: string, walletId: string, fingerprint: string): string {
  return hash('sha256', previous + JSON.stringify([walletId, fingerprint]), 'hex');
}

/** A batch re-encrypted but not yet verified or written. */
interface PreparedBatch {
  rows: RewrapRow[];
  updates: Array<{ walletId: string; fromVersion: number; cryptogram: Uint8Array }>;
  /** Fingerprints re-derived from the NEW cryptograms, in row order. */
  fingerprints: Promise<string[]>;
}

export async function runRewrap(ctx: RewrapContext): Promise<RewrapReturnType> {
  const { tenant, seal, storage } = ctx;
  if (!Number.isSafeInteger(ctx.batchSize) || ctx.batchSize < 1 || ctx.batchSize > 100_000) {
    throw new StrongroomError('E_VALIDATION', 'batchSize must be 1..100000', { details: { parameter: 'batchSize' } });
  }
  const target = seal.current();
  let job = await storage.getRewrapJob(tenant);
  if (!job || job.state === 'done' || job.toVersion !== target.version) job = await startJob(ctx, target);

  await rewrapAuditKey(ctx, target);

  const workers = ctx.fingerprintWorkers ?? (job.total - job.done >= WORKERS_FROM ? defaultFingerprintWorkers() : 0);
  const pool = workers > 0 ? new FingerprintPool(workers) : undefined;
  try {
    const read = (after: string | null): Promise<RewrapRow[]> =>
      hasRewrapRowReader(storage)
        ? storage.listRewrapRows(tenant, { after, limit: ctx.batchSize })
        : storage.listWallets(tenant, { after, limit: ctx.batchSize });
    let rows = await read(job.cursor);
    let current = rows.length > 0 ? await prepareBatch(ctx, target, rows, pool) : undefined;
    while (current) {
      // Read and re-encrypt the next batch while the workers derive this one's fingerprints.
      const full = current.rows.length === ctx.batchSize;
      rows = full ? await read(current.rows[current.rows.length - 1]!.walletId) : [];
      const next = rows.length > 0 ? await prepareBatch(ctx, target, rows, pool) : undefined;

      const fingerprints = await current.fingerprints;
      let running: string = job.digestRunning;
      current.rows.forEach((row, i) => {
        if (fingerprints[i] !== row.fingerprint) {
          throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'a wallet does not re-derive its recorded fingerprint; rewrap stopped', {
            details: { walletId: row.walletId },
            hints: ['nothing of this batch was written; investigate the wallet row before resuming'],
          });
        }
        running = link(running, row.walletId, fingerprints[i]!);
      });
      job = { ...job, cursor: current.rows[current.rows.length - 1]!.walletId, done: job.done + current.rows.length, digestRunning: running };
      await storage.commitRewrapBatch(job, current.updates);
      ctx.onProgress?.(progressOf(job));
      current = next;
    }
  } finally {
    await pool?.close();
  }

  const count = await storage.countWallets(tenant);
  const digestAfter: Digest = `sha256:${job.digestRunning}`;
  if (job.done !== count || digestAfter !== job.digestBefore) {
    throw new StrongroomError('E_INTERNAL', 'rewrap verification failed: the wallets after differ from before', {
      details: { verified: job.done, wallets: count, digestBefore: job.digestBefore, digestAfter },
      hints: ['the old master key was NOT retired; nothing is lost'],
    });
  }
  await ctx.record('vault.rewrap.done', { toVersion: target.version, verified: job.done, digest: digestAfter });
  for (let v = 1; v < target.version; v++) await retireIfLive(ctx, { id: target.id, version: v });
  job = { ...job, state: 'done', finishedAt: ctx.now().toISOString() };
  await storage.putRewrapJob(job);
  ctx.onProgress?.(progressOf(job));
  return {
    fromVersion: job.fromVersion,
    toVersion: job.toVersion,
    verified: job.done,
    digestBefore: job.digestBefore,
    digestAfter,
    retired: job.fromVersion < target.version,
  };
}

/**
 * Re-encrypts the rows still under an old key, opens every row's (new) cryptogram again and starts the
 * derivation of its fingerprint from that plaintext: in the pool, or here when there is none.
 */
async function prepareBatch(ctx: RewrapContext, target: MasterKeyRef, rows: RewrapRow[], pool: FingerprintPool | undefined): Promise<PreparedBatch> {
  const { tenant, seal } = ctx;
  const updates: PreparedBatch['updates'] = [];
  const keys = new Uint8Array(rows.length * KEY_BYTES);
  try {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const binding = encodeBindingOnce(walletBinding(tenant, row.walletId));
      let cryptogram = row.cryptogram;
      if (readCryptogramHeader(cryptogram).masterKey.version !== target.version) {
        const plaintext = await openEncoded(seal, binding, cryptogram);
        try {
          cryptogram = await sealEncoded(seal, binding, plaintext, target);
        } finally {
          wipe(plaintext);
        }
        updates.push({ walletId: row.walletId, fromVersion: row.keyVersion, cryptogram });
      }
      // Verify what will be stored: open the new cryptogram; its master key gives the fingerprint.
      const check = await openEncoded(seal, binding, cryptogram);
      try {
        const key = masterKeyOfSecret(check);
        keys.set(key, i * KEY_BYTES);
        key.fill(0);
      } finally {
        wipe(check);
      }
    }
  } catch (e) {
    keys.fill(0);
    throw e;
  }
  const fingerprints = pool ? pool.fingerprints(keys).then(hexFingerprints) : Promise.resolve(inlineFingerprints(keys));
  fingerprints.catch(() => undefined); // awaited later; a failure there must not surface as unhandled first
  return { rows, updates, fingerprints };
}

function inlineFingerprints(keys: Uint8Array): string[] {
  const out: string[] = [];
  try {
    for (let at = 0; at < keys.length; at += KEY_BYTES) out.push(fingerprintOfMasterKey(keys.subarray(at, at + KEY_BYTES)));
  } finally {
    keys.fill(0);
  }
  return out;
}

function hexFingerprints(batch: { fingerprints: Uint32Array; invalid: readonly number[] }): string[] {
  if (batch.invalid.length > 0) {
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'a wallet secret does not yield a valid master key; rewrap stopped');
  }
  return Array.from(batch.fingerprints, fingerprintHex);
}

/** Starts a job: the digest of the stored wallets' (walletId, fingerprint), audited before anything moves. */
async function startJob(ctx: RewrapContext, target: MasterKeyRef): Promise<RewrapJob> {
  const { tenant, storage } = ctx;
  let chain = CHAIN_START;
  let total = 0;
  let after: string | null = null;
  for (;;) {
    const page = await storage.listFingerprints(tenant, { after, limit: 10_000 });
    for (const p of page) chain = link(chain, p.walletId, p.fingerprint);
    total += page.length;
    if (page.length < 10_000) break;
    after = page[page.length - 1]!.walletId;
  }
  const digestBefore: Digest = `sha256:${chain}`;
  await ctx.record('vault.rewrap.start', { toVersion: target.version, wallets: total, digestBefore });
  const job: RewrapJob = {
    tenant,
    // Every older version is retired at the end (retiring one already retired is a no-op).
    fromVersion: Math.max(1, target.version - 1),
    toVersion: target.version,
    state: 'running',
    cursor: null,
    done: 0,
    total,
    digestBefore,
    digestRunning: CHAIN_START,
    startedAt: ctx.now().toISOString(),
    finishedAt: null,
  };
  await storage.putRewrapJob(job);
  return job;
}

/** The audit key moves first (one row); checked by signing with it against its recorded public key. */
async function rewrapAuditKey(ctx: RewrapContext, target: MasterKeyRef): Promise<void> {
  const key = await ctx.storage.getKey(ctx.tenant, 'audit');
  if (!key || parseCryptogramHeader(key.cryptogram).masterKey.version === target.version) return;
  const binding = auditKeyBinding(ctx.tenant, key.keyId);
  const secret = await openCryptogram(ctx.seal, binding, key.cryptogram);
  let cryptogram: Uint8Array;
  try {
    cryptogram = await sealCryptogram(ctx.seal, binding, secret, { ref: target });
  } finally {
    wipe(secret);
  }
  const check = await openCryptogram(ctx.seal, binding, cryptogram);
  try {
    signWithAuditKey(check, key.publicKey, new Uint8Array(1)); // throws if it is not the same key
  } finally {
    wipe(check);
  }
  await ctx.storage.putKey({ ...key, cryptogram, keyVersion: target.version });
}

async function retireIfLive(ctx: RewrapContext, ref: MasterKeyRef): Promise<void> {
  try {
    await ctx.retire(ref);
  } catch (e) {
    // A version that never existed or is gone already: nothing to retire.
    if (e instanceof StrongroomError && (e.code === 'E_VALIDATION' || e.code === 'E_NOT_FOUND')) return;
    throw e;
  }
}

function progressOf(job: RewrapJob): RewrapProgress {
  return { fromVersion: job.fromVersion, toVersion: job.toVersion, done: job.done, total: job.total, state: job.state };
}
