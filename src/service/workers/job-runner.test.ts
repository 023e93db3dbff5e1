import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../../test/support/databases.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { outboxRepository } from '../../store/repositories/outbox-repository.ts';
import { jobsRepository, type Job } from '../../store/repositories/jobs-repository.ts';
import { PermanentJobError, runWorker, type JobContext } from './job-runner.ts';

const AT = '2026-01-01T00:00:00.000Z';
let n = 0;
const unique = (p: string) => `${p}_${++n}_${Math.random().toString(36).slice(2, 8)}`;

/** Promise.withResolvers, which Node 20 lacks. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves once every job of the kind has left queued/running. */
async function settled(t: TestDatabase, kind: string): Promise<Job[]> {
  for (;;) {
    const rows = await t.database.db.selectFrom('jobs' as never).select(['id' as never]).where('kind' as never, '=', kind as never).execute();
    const jobs = await Promise.all(rows.map((r: any) => jobsRepository.get(t.database.db, r.id)));
    if (jobs.every((j) => j && j.state !== 'queued' && j.state !== 'running')) return jobs as Job[];
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const dialect of DIALECTS) {
  describe(`job runner: ${dialect}`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await createTestDatabase(dialect);
    });
    afterAll(async () => {
      // pg's pool.end() resolves before its sockets close; dispose's forced DROP DATABASE would then kill
      // them mid-close (unhandled 57P01). Close first and let the sockets finish. (Same race in store.test.ts.)
      await t?.database.close();
      await new Promise((r) => setTimeout(r, 200));
      await t?.dispose();
    });

    it('two workers run every job exactly once, with fenced business writes and the result stored', async () => {
      const kind = unique('k');
      const topic = unique('topic');
      for (let i = 0; i < 30; i++) await jobsRepository.enqueue(t.database.db, { tenantId: 'ten_a', kind, key: `r${i}`, payload: { i } });
      const stop = new AbortController();
      const runs: string[] = [];
      const handler = async ({ job, fenced }: JobContext) => {
        runs.push(job.id);
        await fenced((trx) => outboxRepository.insert(trx, 'ten_a', topic, { job: job.id }, AT));
        return { doubled: (job.payload as { i: number }).i * 2 };
      };
      const workers = ['w1', 'w2'].map((workerId) =>
        runWorker({ database: t.database, workerId, kinds: [kind], handler, leaseMs: 30_000, pollMs: 5, signal: stop.signal, concurrency: 3 }),
      );
      const jobs = await settled(t, kind);
      stop.abort();
      await Promise.all(workers);
      expect(jobs).toHaveLength(30);
      expect(jobs.every((j) => j.state === 'done' && j.fence === 1 && j.attempts === 1)).toBe(true);
      expect(jobs.map((j) => j.result).sort((a: any, b: any) => a.doubled - b.doubled)).toEqual(Array.from({ length: 30 }, (_, i) => ({ doubled: 2 * i })));
      expect(new Set(runs).size).toBe(30);
      expect(runs).toHaveLength(30);
      const written = await t.database.db.selectFrom('outbox').select('payload').where('topic', '=', topic).execute();
      expect(written).toHaveLength(30);
    });

    it('retries a failing handler, then dead-letters it; a permanent error fails at once', async () => {
      const kind = unique('k');
      const flaky = await jobsRepository.enqueue(t.database.db, { tenantId: 'ten_a', kind, key: 'flaky', payload: {}, maxAttempts: 3 });
      const doomed = await jobsRepository.enqueue(t.database.db, { tenantId: 'ten_a', kind, key: 'doomed', payload: {}, maxAttempts: 3 });
      const stop = new AbortController();
      const worker = runWorker({
        database: t.database, workerId: 'w', kinds: [kind], leaseMs: 30_000, pollMs: 5, signal: stop.signal, retryAfterMs: () => 0,
        handler: async ({ job }) => {
          if (job.key === 'doomed') throw new PermanentJobError('conflicting transaction confirmed');
          throw new StrongroomError('E_CHAIN_RPC', 'node timed out');
        },
      });
      await settled(t, kind);
      stop.abort();
      await worker;
      expect(await jobsRepository.get(t.database.db, flaky.job.id)).toMatchObject({ state: 'dead', attempts: 3, lastError: 'E_CHAIN_RPC: node timed out' });
      expect(await jobsRepository.get(t.database.db, doomed.job.id)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'PermanentJobError: conflicting transaction confirmed' });
    });

    it('aborts a handler whose lease was taken over; its fenced write is refused and the new owner keeps the job', async () => {
      const kind = unique('k');
      const topic = unique('topic');
      const { job } = await jobsRepository.enqueue(t.database.db, { tenantId: 'ten_a', kind, key: 'r', payload: {} });
      const stop = new AbortController();
      const started = deferred<void>();
      const outcome = deferred<unknown>();
      const errors: unknown[] = [];
      const worker = runWorker({
        database: t.database, workerId: 'slow', kinds: [kind], leaseMs: 300, pollMs: 5, signal: stop.signal, onError: (e) => errors.push(e),
        handler: async ({ signal, fenced }) => {
          started.resolve();
          // Wait until a heartbeat finds the lease lost, then try the business write anyway.
          await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
          const r = await fenced((trx) => outboxRepository.insert(trx, 'ten_a', topic, { by: 'slow' }, AT)).then(() => 'written', (e) => e);
          outcome.resolve(r);
          throw r;
        },
      });
      await started.promise;
      // Another worker takes the job over as if the lease had expired (its clock says so).
      const [taken] = await jobsRepository.claim(t.database.db, 'heir', [kind], 60_000, 1, { now: Date.now() + 301 });
      expect(taken?.fence).toBe(2);
      const r = await outcome.promise;
      stop.abort();
      await worker;
      expect((r as StrongroomError).code).toBe('E_CONFLICT');
      expect(await t.database.db.selectFrom('outbox').select('payload').where('topic', '=', topic).execute()).toEqual([]);
      expect(await jobsRepository.get(t.database.db, job.id)).toMatchObject({ state: 'running', fence: 2, leaseOwner: 'heir', attempts: 2 });
      expect(errors.some((e) => e instanceof StrongroomError && e.code === 'E_CONFLICT')).toBe(true);
    });
  });
}
