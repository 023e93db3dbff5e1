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
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../domain/canonical.ts';
import { canonicalize } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { wipe } from './bytes.ts';
import { openCryptogram, parseCryptogramHeader, sealCryptogram } from './cryptogram.ts';
import { auditKeyBinding, signWithAuditKey } from './audit-key.ts';
import type { MasterKeyRef, Seal } from './seal/seal.ts';
import { fingerprintOfSecret, walletBinding } from './wallets.ts';
import type { RewrapJob, RewrapProgress, RewrapReturnType, VaultAction, VaultStorage } from './vault.ts';

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
}

const CHAIN_START = '0'.repeat(64);

/** One link of the (walletId, fingerprint) chain. */
function link(previous: string, walletId: string, fingerprint: string): string {
  return createHash('sha256').update(previous).update(canonicalize([walletId, fingerprint])).digest('hex');
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

  for (;;) {
    const rows = await storage.listWallets(tenant, { after: job.cursor, limit: ctx.batchSize });
    if (rows.length === 0) break;
    const updates: Array<{ walletId: string; fromVersion: number; cryptogram: Uint8Array }> = [];
    let running: string = job.digestRunning;
    for (const row of rows) {
      const binding = walletBinding(tenant, row.walletId);
      let current = row.cryptogram;
      if (parseCryptogramHeader(current).masterKey.version !== target.version) {
        const plaintext = await openCryptogram(seal, binding, current);
        try {
          current = await sealCryptogram(seal, binding, plaintext, { ref: target });
        } finally {
          wipe(plaintext);
        }
        updates.push({ walletId: row.walletId, fromVersion: row.keyVersion, cryptogram: current });
      }
      // Verify what will be stored: open the new cryptogram and re-derive the fingerprint.
      const check = await openCryptogram(seal, binding, current);
      let fingerprint: string;
      try {
        fingerprint = fingerprintOfSecret(check);
      } finally {
        wipe(check);
      }
      if (fingerprint !== row.fingerprint) {
        throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'a wallet does not re-derive its recorded fingerprint; rewrap stopped', {
          details: { walletId: row.walletId },
          hints: ['nothing of this batch was written; investigate the wallet row before resuming'],
        });
      }
      running = link(running, row.walletId, fingerprint);
    }
    job = { ...job, cursor: rows[rows.length - 1]!.walletId, done: job.done + rows.length, digestRunning: running };
    await storage.commitRewrapBatch(job, updates);
    ctx.onProgress?.(progressOf(job));
    if (rows.length < ctx.batchSize) break;
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
