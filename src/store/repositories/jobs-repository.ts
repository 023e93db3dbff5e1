/**
 * Leased background jobs with fencing tokens. A worker claims a job for a lease; every claim increments the
 * job's `fence`, and every write-back (heartbeat, complete, fail, and the service's business writes through
 * `withFence`) names the fence it holds. A worker whose lease was taken over holds an older fence and gets
 * `E_CONFLICT`, changing nothing — so a paused or partitioned worker cannot act after another took over.
 *
 * PostgreSQL: claims lock candidate rows `FOR UPDATE SKIP LOCKED`, so concurrent workers pick disjoint jobs
 * without waiting on each other. SQLite: one writer; a claim is a single `UPDATE ... RETURNING`.
 *
 * Times are unix milliseconds taken from `opts.now` (default `Date.now()`), so tests are exact; on several
 * nodes, leases rely on their clocks agreeing to well within a lease.
 */
import type { Kysely, Transaction } from 'kysely';
import { canonicalize } from '../../domain/canonical.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Queryable } from '../queryable.ts';
import type { StoreSchema } from '../schema.ts';
import { isPostgres } from './dialect-of.ts';

/** `failed`: given up for good by the handler; `dead`: attempts spent (dead letter, for an operator). */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'dead';

export interface JobsTable {
  id: string;
  tenant_id: string;
  kind: string;
  key: string;
  payload: string;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_after: number;
  lease_owner: string | null;
  lease_until: number | null;
  fence: number;
  last_error: string | null;
  result: string | null;
  created_at: string;
  updated_at: string;
}

export interface Job {
  id: string;
  tenantId: string;
  kind: string;
  key: string;
  payload: unknown;
  state: JobState;
  /** Claims so far, including the current one. */
  attempts: number;
  maxAttempts: number;
  runAfter: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  /** The fencing token of the latest claim (0 before the first). */
  fence: number;
  lastError: string | null;
  result: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface EnqueueParameters {
  tenantId: string;
  kind: string;
  key: string;
  payload: unknown;
  /** Claims allowed before the job is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Earliest claim time, unix ms (default now). */
  runAfter?: number;
}

export interface TimeOptions {
  now?: number;
}

export interface FailOptions extends TimeOptions {
  /** The failure is final (retrying cannot change it): state `failed` at once, whatever attempts remain. */
  permanent?: boolean;
}

type JobsSchema = { jobs: JobsTable };
// This module's own table; the shared StoreSchema does not list it.
const j = (q: Queryable) => q as unknown as Kysely<JobsSchema>;

function toJob(r: JobsTable): Job {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind,
    key: r.key,
    payload: JSON.parse(r.payload) as unknown,
    state: r.state,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runAfter: Number(r.run_after),
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
    fence: Number(r.fence),
    lastError: r.last_error,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function stale(id: string, fence: number): StrongroomError {
  return new StrongroomError('E_CONFLICT', 'job lease lost: another worker holds a newer fencing token', {
    details: { job: id, fence },
    hints: ['stop working on this job; its new owner will finish it'],
  });
}

function checkPositive(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new StrongroomError('E_VALIDATION', `${name} must be a positive integer`, { details: { parameter: name } });
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

export const jobsRepository = {
  /**
   * Adds a job unless one with the same (kind, key) exists; returns the job either way. The same key with a
   * different tenant or payload is a bug in the caller: `E_IDEMPOTENCY_CONFLICT`.
   */
  async enqueue(q: Queryable, p: EnqueueParameters, opts: TimeOptions = {}): Promise<{ job: Job; created: boolean }> {
    const now = opts.now ?? Date.now();
    const maxAttempts = p.maxAttempts ?? 5;
    checkPositive('maxAttempts', maxAttempts);
    if (!p.kind || !p.key) throw new StrongroomError('E_VALIDATION', 'kind and key are required', { details: { parameter: p.kind ? 'key' : 'kind' } });
    const payload = canonicalize(p.payload);
    const r = await j(q)
      .insertInto('jobs')
      .values({
        id: newId('job', now), tenant_id: p.tenantId, kind: p.kind, key: p.key, payload, state: 'queued', attempts: 0,
        max_attempts: maxAttempts, run_after: p.runAfter ?? now, lease_owner: null, lease_until: null, fence: 0,
        last_error: null, result: null, created_at: iso(now), updated_at: iso(now),
      })
      .onConflict((oc) => oc.columns(['kind', 'key']).doNothing())
      .executeTakeFirst();
    const created = Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    const row = await j(q).selectFrom('jobs').selectAll().where('kind', '=', p.kind).where('key', '=', p.key).executeTakeFirstOrThrow();
    if (row.tenant_id !== p.tenantId || row.payload !== payload) {
      throw new StrongroomError('E_IDEMPOTENCY_CONFLICT', 'a different job with this kind and key exists', {
        details: { kind: p.kind, key: p.key, job: row.id },
      });
    }
    return { job: toJob(row), created };
  },

  async get(q: Queryable, id: string): Promise<Job | undefined> {
    const row = await j(q).selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  },

  async getByKey(q: Queryable, kind: string, key: string): Promise<Job | undefined> {
    const row = await j(q).selectFrom('jobs').selectAll().where('kind', '=', kind).where('key', '=', key).executeTakeFirst();
    return row && toJob(row);
  },

  /**
   * Claims up to `limit` jobs of the given kinds that are due, or whose lease expired, for `leaseMs`; each
   * comes back with a new fencing token (`job.fence`). Jobs whose lease expired after their last allowed
   * attempt (their worker kept dying) are dead-lettered instead of run again.
   */
  async claim(q: Queryable, workerId: string, kinds: string[], leaseMs: number, limit: number, opts: TimeOptions = {}): Promise<Job[]> {
    checkPositive('leaseMs', leaseMs);
    checkPositive('limit', limit);
    if (!workerId) throw new StrongroomError('E_VALIDATION', 'workerId is required', { details: { parameter: 'workerId' } });
    if (kinds.length === 0) return [];
    const now = opts.now ?? Date.now();
    const pg = isPostgres(q);

    let exhausted = j(q)
      .selectFrom('jobs')
      .select('id')
      .where('kind', 'in', kinds)
      .where('state', '=', 'running')
      .where('lease_until', '<=', now)
      .whereRef('attempts', '>=', 'max_attempts');
    if (pg) exhausted = exhausted.forUpdate().skipLocked();
    await j(q)
      .updateTable('jobs')
      .set({ state: 'dead', lease_owner: null, lease_until: null, last_error: 'lease expired on the last attempt', updated_at: iso(now) })
      .where('id', 'in', exhausted)
      .execute();

    let due = j(q)
      .selectFrom('jobs')
      .select('id')
      .where('kind', 'in', kinds)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', now)]),
          eb.and([eb('state', '=', 'running'), eb('lease_until', '<=', now)]),
        ]),
      )
      .whereRef('attempts', '<', 'max_attempts')
      .orderBy('run_after')
      .orderBy('id')
      .limit(limit);
    // Rows another worker is claiming right now are skipped, not waited for; they are its jobs.
    if (pg) due = due.forUpdate().skipLocked();
    const rows = await j(q)
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        lease_owner: workerId,
        lease_until: now + leaseMs,
        fence: eb('fence', '+', 1),
        attempts: eb('attempts', '+', 1),
        updated_at: iso(now),
      }))
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toJob).sort((a, b) => a.runAfter - b.runAfter || (a.id < b.id ? -1 : 1));
  },

  /** Extends the lease of a job this worker still holds; `E_CONFLICT` if it lost it. */
  async heartbeat(q: Queryable, id: string, fence: number, leaseMs: number, opts: TimeOptions = {}): Promise<void> {
    checkPositive('leaseMs', leaseMs);
    const now = opts.now ?? Date.now();
    const r = await j(q)
      .updateTable('jobs')
      .set({ lease_until: now + leaseMs, updated_at: iso(now) })
      .where('id', '=', id).where('fence', '=', fence).where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw stale(id, fence);
  },

  /** Marks the job done with its result; `E_CONFLICT` (and nothing changed) if the fence is stale. */
  async complete(q: Queryable, id: string, fence: number, result: unknown, opts: TimeOptions = {}): Promise<void> {
    const now = opts.now ?? Date.now();
    const r = await j(q)
      .updateTable('jobs')
      .set({ state: 'done', result: canonicalize(result ?? null), lease_owner: null, lease_until: null, last_error: null, updated_at: iso(now) })
      .where('id', '=', id).where('fence', '=', fence).where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw stale(id, fence);
  },

  /**
   * Records a failed attempt: back to `queued` after `retryAfterMs`, `dead` (dead-lettered) once the
   * attempts are spent, or `failed` when `opts.permanent`. Returns the new state; `E_CONFLICT` (and nothing
   * changed) if the fence is stale.
   */
  async fail(q: Queryable, id: string, fence: number, error: string, retryAfterMs: number, opts: FailOptions = {}): Promise<'queued' | 'dead' | 'failed'> {
    if (!Number.isSafeInteger(retryAfterMs) || retryAfterMs < 0) {
      throw new StrongroomError('E_VALIDATION', 'retryAfterMs must be a non-negative integer', { details: { parameter: 'retryAfterMs' } });
    }
    const now = opts.now ?? Date.now();
    const r = await j(q)
      .updateTable('jobs')
      .set((eb) => ({
        state: opts.permanent
          ? 'failed'
          : eb.case().when('attempts', '>=', eb.ref('max_attempts')).then('dead').else('queued').end().$castTo<JobState>(),
        run_after: now + retryAfterMs,
        lease_owner: null,
        lease_until: null,
        last_error: error.slice(0, 2000),
        updated_at: iso(now),
      }))
      .where('id', '=', id).where('fence', '=', fence).where('state', '=', 'running')
      .returning('state')
      .executeTakeFirst();
    if (!r) throw stale(id, fence);
    return r.state as 'queued' | 'dead' | 'failed';
  },

  /**
   * Guards the caller's transaction with the fence: call it first in the transaction that does the job's
   * business writes. It row-locks the job (PostgreSQL) or takes the write lock (SQLite) until commit, so no
   * claim can hand the job to another worker in between; a stale fence throws `E_CONFLICT`, rolling the
   * transaction back. Called after the writes, it still rolls them back when the fence is stale.
   */
  async withFence(trx: Transaction<StoreSchema>, id: string, fence: number): Promise<void> {
    // An UPDATE rather than SELECT ... FOR UPDATE: it locks on both dialects (and on SQLite makes this
    // transaction a writer at once, so it never has to upgrade a stale read snapshot later).
    const r = await j(trx)
      .updateTable('jobs')
      .set({ fence })
      .where('id', '=', id).where('fence', '=', fence).where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw stale(id, fence);
  },
};
