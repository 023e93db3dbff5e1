/**
 * The worker loop: claim due jobs, keep their leases alive while the handler runs, then complete or fail
 * them with the fencing token of the claim. It knows nothing of chains: a handler does one step of a job and
 * is idempotent, because a job may run again after a crash between the handler's commit and `complete`.
 *
 * A handler that writes business state does so through `fenced(fn)`: the transaction is guarded by the fence,
 * so once another worker has taken the job over, the old handler's writes are refused (`E_CONFLICT`) and
 * rolled back. When the lease is lost, `signal` aborts so the handler can stop early.
 */
import type { Transaction } from 'kysely';
import { isStrongroomError } from '../../domain/errors.ts';
import type { Database } from '../../store/database.ts';
import { jobsRepository, type Job } from '../../store/repositories/jobs-repository.ts';
import type { StoreSchema } from '../../store/schema.ts';

export interface JobContext {
  job: Job;
  fence: number;
  /** Aborted when the lease is lost (another worker holds the job) or the worker stops. */
  signal: AbortSignal;
  /**
   * Runs `fn` in a transaction guarded by the fence. On SQLite use only `trx` inside: the one connection is
   * held by this transaction until it ends.
   */
  fenced<T>(fn: (trx: Transaction<StoreSchema>) => Promise<T>): Promise<T>;
}

/** Thrown by a handler whose failure retrying cannot fix: the job ends `failed` at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export interface RunWorkerParameters {
  database: Database;
  workerId: string;
  kinds: string[];
  /** Does the job's work; its return value (JSON) is stored as the job's result. */
  handler: (ctx: JobContext) => Promise<unknown>;
  leaseMs: number;
  /** Wait between claims when nothing was due. */
  pollMs: number;
  /** Stops the loop and aborts the handlers' signals; `runWorker` resolves once in-flight jobs settled. */
  signal: AbortSignal;
  /** Jobs claimed and run at once (default 1). */
  concurrency?: number;
  /** Delay before the next attempt (default: 1 s doubling to 5 min). */
  retryAfterMs?: (attempts: number) => number;
  /** Told about errors the loop survives (claim failures, lost leases); never secrets, just what happened. */
  onError?: (error: unknown, job?: Job) => void;
}

const defaultBackoff = (attempts: number) => Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);

/** Runs until `signal` aborts. */
export async function runWorker(p: RunWorkerParameters): Promise<void> {
  const concurrency = p.concurrency ?? 1;
  const onError = p.onError ?? (() => {});
  while (!p.signal.aborted) {
    let jobs: Job[] = [];
    try {
      jobs = await jobsRepository.claim(p.database.db, p.workerId, p.kinds, p.leaseMs, concurrency);
    } catch (e) {
      onError(e);
    }
    if (jobs.length === 0) {
      await sleep(p.pollMs, p.signal);
      continue;
    }
    await Promise.all(jobs.map((job) => runOne(p, job, onError)));
  }
}

async function runOne(p: RunWorkerParameters, job: Job, onError: (e: unknown, job?: Job) => void): Promise<void> {
  const { db } = p.database;
  const fence = job.fence;
  const lost = new AbortController();
  const stopOnWorkerStop = () => lost.abort(p.signal.reason);
  p.signal.addEventListener('abort', stopOnWorkerStop, { once: true });
  // Renew well before expiry; a refused renewal means another worker owns the job now.
  let settled = false;
  const timer = setInterval(() => {
    jobsRepository.heartbeat(db, job.id, fence, p.leaseMs).catch((e: unknown) => {
      if (settled) return; // raced with our own complete/fail
      if (isStrongroomError(e, 'E_CONFLICT')) lost.abort(e);
      onError(e, job);
    });
  }, Math.max(1, Math.floor(p.leaseMs / 3)));
  const ctx: JobContext = {
    job,
    fence,
    signal: lost.signal,
    fenced: (fn) =>
      db.transaction().execute(async (trx) => {
        await jobsRepository.withFence(trx, job.id, fence);
        return fn(trx);
      }),
  };
  try {
    let result: unknown;
    try {
      result = await p.handler(ctx);
    } catch (e) {
      clearInterval(timer);
      settled = true;
      const permanent = e instanceof PermanentJobError;
      const retryAfter = (p.retryAfterMs ?? defaultBackoff)(job.attempts);
      await jobsRepository.fail(db, job.id, fence, describe(e), retryAfter, { permanent });
      return;
    }
    clearInterval(timer);
    settled = true;
    await jobsRepository.complete(db, job.id, fence, result ?? null);
  } catch (e) {
    // A stale fence here means the job moved on to another worker: nothing to do. Anything else (the
    // database unreachable) leaves the job running until its lease expires and someone claims it again.
    onError(e, job);
  } finally {
    clearInterval(timer);
    p.signal.removeEventListener('abort', stopOnWorkerStop);
  }
}

/** What is stored as `last_error`: the code and message, never a stack or a cause's details. */
function describe(e: unknown): string {
  if (isStrongroomError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
