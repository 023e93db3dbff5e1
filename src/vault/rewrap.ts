/**
 * Rewrap: after a rotation, re-encrypt every cryptogram under the current master key, in batches, each
 * batch ONE storage transaction together with the job's progress. A crash at any point loses at most the
 * uncommitted batches; a re-run resumes after the committed cursor, and each row's key version makes the
 * update skip a row that is already done.
 *
 * Verification: every new cryptogram is decrypted again and its wallet fingerprint re-derived and compared
 * with the recorded one before the batch commits. A running SHA-256 chain over (walletId, fingerprint) in
 * walletId order is kept with the cursor; at the end it must equal the same chain computed over the stored
 * records when the job started, and the verified count must equal the number of wallets. Only then are the
 * old master key versions retired (zeroized in the seal). Wallet creation is refused while a job runs, so
 * the set of wallets is fixed.
 *
 * Speed (a million rows in under a minute): with the software seal, the per-row crypto (open, seal again,
 * open again, HMAC-SHA512 master key, libsecp256k1 public key, HASH160) runs in the vault's worker threads
 * (vault-worker-tasks.ts), one chunk of each batch per worker; the master key versions go to them as
 * `KeyObject`s, never as bytes, and die with the workers when the job ends. Meanwhile this thread reads
 * the next batches and verifies and commits the finished ones, strictly in order. An HSM seal's keys never
 * leave the token: its rewrap runs here, through the seal, one row at a time.
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
import type { MasterKeyRef, Seal } from './seal/seal.ts';
import { VaultWorkerPool, defaultWorkerCount, hasWorkerKeys, type WorkerKeySource } from './vault-worker-pool.ts';
import { packRewrapRows, readRewrapResult, type RewrapChunkResult } from './vault-worker-tasks.ts';
import { fingerprintNumberOfSecret, walletBinding } from './wallets.ts';
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
   * Worker threads for the per-row crypto; 0 keeps it on this thread. Default: one per core when the seal
   * can hand its keys to workers (the software seal) and at least `WORKERS_FROM` wallets remain (starting
   * workers costs more than it saves on a few rows), else 0. An HSM seal always runs on this thread.
   */
  workers?: number;
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
/** Batches handed to the workers ahead of the one being verified and committed. */
const AHEAD = 2;

/**
 * One link of the (walletId, fingerprint) chain: SHA-256(previous || JCS([walletId, fingerprint])). For an
 * array of two strings, JSON.stringify is RFC 8785 (JCS serialises strings exactly as JSON.stringify).
 */
function link(previous: string, walletId: string, fingerprint: string): string {
  // The template is JSON.stringify's exact output for strings that need no escaping (every wallet id
  // the vault accepts, every hex fingerprint); it saves a third of a link, run twice per wallet.
  const entry = PLAIN.test(walletId) && PLAIN.test(fingerprint) ? `["${walletId}","${fingerprint}"]` : JSON.stringify([walletId, fingerprint]);
  return hash('sha256', previous + entry, 'hex');
}

/** Strings JSON.stringify writes as they are, between quotes. */
const PLAIN = /^[A-Za-z0-9._:-]*$/;

/** What the crypto made of one batch: each row's re-derived fingerprint and its new cryptogram, if any. */
interface BatchOutcome {
  /** Rows done, in order; a failure stops the batch at row `done`. */
  done: number;
  fingerprints: Uint32Array;
  /** New cryptogram of each rewrapped row (undefined: already under the target key). */
  cryptograms: Array<Uint8Array | undefined>;
  failure?: StrongroomError;
}

/** Where the per-row crypto runs: worker threads (software seal) or this thread (any seal). */
interface RewrapEngine {
  /** Starts the crypto of `rows`; the promise never rejects (failures are in the outcome). */
  start(rows: RewrapRow[]): Promise<BatchOutcome>;
  close(): Promise<void>;
}

export async function runRewrap(ctx: RewrapContext): Promise<RewrapReturnType> {
  const { tenant, seal, storage } = ctx;
  if (!Number.isSafeInteger(ctx.batchSize) || ctx.batchSize < 1 || ctx.batchSize > 100_000) {
    throw new StrongroomError('E_VALIDATION', 'batchSize must be 1..100000', { details: { parameter: 'batchSize' } });
  }
  if (ctx.workers !== undefined && (!Number.isSafeInteger(ctx.workers) || ctx.workers < 0 || ctx.workers > 64)) {
    throw new StrongroomError('E_VALIDATION', 'workers must be 0..64', { details: { parameter: 'workers' } });
  }
  const target = seal.current();
  let job = await storage.getRewrapJob(tenant);
  if (!job || job.state === 'done' || job.toVersion !== target.version) job = await startJob(ctx, target);

  await rewrapAuditKey(ctx, target);

  const workers = hasWorkerKeys(seal) ? (ctx.workers ?? (job.total - job.done >= WORKERS_FROM ? defaultWorkerCount() : 0)) : 0;
  const engine: RewrapEngine =
    workers > 0 && hasWorkerKeys(seal) ? new WorkerEngine(seal, tenant, target, workers) : new InlineEngine(seal, tenant, target);
  try {
    const read = (after: string | null): Promise<RewrapRow[]> =>
      hasRewrapRowReader(storage)
        ? storage.listRewrapRows(tenant, { after, limit: ctx.batchSize })
        : storage.listWallets(tenant, { after, limit: ctx.batchSize });
    // Batches in flight, oldest first; reading stops at the first short page.
    const inFlight: Array<{ rows: RewrapRow[]; outcome: Promise<BatchOutcome> }> = [];
    let after = job.cursor;
    let more = true;
    const refill = async () => {
      while (more && inFlight.length <= AHEAD) {
        const rows = await read(after);
        more = rows.length === ctx.batchSize;
        if (rows.length === 0) break;
        after = rows[rows.length - 1]!.walletId;
        inFlight.push({ rows, outcome: engine.start(rows) });
      }
    };
    await refill();
    while (inFlight.length > 0) {
      const { rows, outcome } = inFlight.shift()!;
      await refill(); // the workers get the next batches before this thread waits
      const done = await outcome;
      let running: string = job.digestRunning;
      const updates: Array<{ walletId: string; fromVersion: number; cryptogram: Uint8Array }> = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        if (i >= done.done) {
          throw withWallet(done.failure ?? new StrongroomError('E_INTERNAL', 'the rewrap of a batch stopped short'), row.walletId);
        }
        if (done.fingerprints[i] !== fingerprintNumber(row.fingerprint)) {
          throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'a wallet does not re-derive its recorded fingerprint; rewrap stopped', {
            details: { walletId: row.walletId },
            hints: ['nothing of this batch was written; investigate the wallet row before resuming'],
          });
        }
        running = link(running, row.walletId, row.fingerprint);
        const cryptogram = done.cryptograms[i];
        if (cryptogram) updates.push({ walletId: row.walletId, fromVersion: row.keyVersion, cryptogram });
      }
      job = { ...job, cursor: rows[rows.length - 1]!.walletId, done: job.done + rows.length, digestRunning: running };
      await storage.commitRewrapBatch(job, updates);
      ctx.onProgress?.(progressOf(job));
    }
  } finally {
    await engine.close();
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

/** A recorded fingerprint (8 lower-case hex) as a number; NaN (never equal) when malformed. */
function fingerprintNumber(hex: string): number {
  return typeof hex === 'string' && /^[0-9a-f]{8}$/.test(hex) ? Number.parseInt(hex, 16) : Number.NaN;
}

/** The error of a row, naming its wallet (a public id). */
function withWallet(e: StrongroomError, walletId: string): StrongroomError {
  return new StrongroomError(e.code, e.message, { details: { ...e.details, walletId }, hints: e.hints, cause: e.cause });
}

function failed(e: unknown): StrongroomError {
  return e instanceof StrongroomError ? e : new StrongroomError('E_INTERNAL', 'the rewrap crypto failed', { cause: e });
}

/**
 * The per-row crypto in worker threads. Each batch is cut into one contiguous chunk per worker; a worker
 * handles its messages in order, so the chunks of later batches queue behind. Key versions are handed to
 * every worker the first time a batch needs them (a version the seal does not hold is not sent: its rows
 * fail in the worker with the seal's own error).
 */
class WorkerEngine implements RewrapEngine {
  readonly #pool: VaultWorkerPool;
  readonly #seal: Seal & WorkerKeySource;
  readonly #tenant: string;
  readonly #target: MasterKeyRef;
  readonly #sent = new Set<number>();

  constructor(seal: Seal & WorkerKeySource, tenant: string, target: MasterKeyRef, workers: number) {
    this.#seal = seal;
    this.#tenant = tenant;
    this.#target = target;
    this.#pool = new VaultWorkerPool(workers);
  }

  start(rows: RewrapRow[]): Promise<BatchOutcome> {
    try {
      this.#handOverKeys(rows);
      const n = this.#pool.size;
      const per = Math.ceil(rows.length / n);
      const chunks: Array<Promise<RewrapChunkResult>> = [];
      for (let w = 0, at = 0; at < rows.length; w++, at += per) {
        const packed = packRewrapRows(rows.slice(at, at + per));
        chunks.push(this.#pool.call<RewrapChunkResult>('rewrap', { rows: packed.buffer }, [packed.buffer as ArrayBuffer], w));
      }
      return Promise.all(chunks).then(
        (results) => collect(rows.length, per, results),
        (e: unknown) => ({ done: 0, fingerprints: new Uint32Array(0), cryptograms: [], failure: failed(e) }),
      );
    } catch (e) {
      return Promise.resolve({ done: 0, fingerprints: new Uint32Array(0), cryptograms: [], failure: failed(e) });
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  #handOverKeys(rows: RewrapRow[]): void {
    const versions = new Set<number>();
    if (!this.#sent.has(this.#target.version)) versions.add(this.#target.version);
    for (const row of rows) {
      try {
        const { id, version } = readCryptogramHeader(row.cryptogram).masterKey;
        if (id === this.#target.id && !this.#sent.has(version)) versions.add(version);
      } catch {
        // A malformed header fails in the worker, in its row's place.
      }
    }
    const keys: Array<{ version: number; key: unknown }> = [];
    for (const version of versions) {
      this.#sent.add(version);
      try {
        keys.push({ version, key: this.#seal.workerKey({ id: this.#target.id, version }) });
      } catch {
        // Retired or unknown: the worker reports each row that needs it.
      }
    }
    if (keys.length === 0) return;
    const payload = { tenant: this.#tenant, target: { id: this.#target.id, version: this.#target.version }, keys };
    // Queued ahead of the chunks in every worker; a failure shows in those chunks' replies.
    this.#pool.broadcast('rewrap-keys', payload).catch(() => undefined);
  }
}

/** Joins the chunk results of one batch; the first failure (in row order) ends it. */
function collect(total: number, per: number, results: RewrapChunkResult[]): BatchOutcome {
  const fingerprints = new Uint32Array(total);
  const cryptograms: Array<Uint8Array | undefined> = new Array(total);
  let done = 0;
  for (let w = 0; w < results.length; w++) {
    const r = results[w]!;
    const base = w * per;
    readRewrapResult(r, (i, fingerprint, cryptogram) => {
      fingerprints[base + i] = fingerprint;
      cryptograms[base + i] = cryptogram;
    });
    done = base + r.count;
    if (r.failure) {
      const e = r.failure.error;
      return { done, fingerprints, cryptograms, failure: new StrongroomError(e.code, e.message, { details: e.details ?? {}, hints: e.hints ?? [] }) };
    }
  }
  return { done, fingerprints, cryptograms };
}

/** The per-row crypto on this thread, through the seal (any mechanism; HSM seals always). */
class InlineEngine implements RewrapEngine {
  readonly #seal: Seal;
  readonly #tenant: string;
  readonly #target: MasterKeyRef;

  constructor(seal: Seal, tenant: string, target: MasterKeyRef) {
    this.#seal = seal;
    this.#tenant = tenant;
    this.#target = target;
  }

  async start(rows: RewrapRow[]): Promise<BatchOutcome> {
    const fingerprints = new Uint32Array(rows.length);
    const cryptograms: Array<Uint8Array | undefined> = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      try {
        const binding = encodeBindingOnce(walletBinding(this.#tenant, row.walletId));
        let cryptogram = row.cryptogram;
        if (readCryptogramHeader(cryptogram).masterKey.version !== this.#target.version) {
          const plaintext = await openEncoded(this.#seal, binding, cryptogram);
          try {
            cryptogram = await sealEncoded(this.#seal, binding, plaintext, this.#target);
          } finally {
            wipe(plaintext);
          }
          cryptograms[i] = cryptogram;
        }
        // Verify what will be stored: open the new cryptogram; its master key gives the fingerprint.
        const check = await openEncoded(this.#seal, binding, cryptogram);
        try {
          fingerprints[i] = fingerprintNumberOfSecret(check);
        } finally {
          wipe(check);
        }
      } catch (e) {
        return { done: i, fingerprints, cryptograms, failure: failed(e) };
      }
    }
    return { done: rows.length, fingerprints, cryptograms };
  }

  async close(): Promise<void> {}
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
