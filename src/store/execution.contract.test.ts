/**
 * Conformance of the exactly-once machinery on both dialects: leased jobs with fencing tokens, UTXO locks
 * and EVM nonces. Concurrency runs through separate database handles (separate connections, as separate
 * processes would have); the crash case kills a real child process with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.ts';
import { openDatabase, type Database } from './database.ts';
import { outboxRepository } from './repositories/outbox-repository.ts';
import { jobsRepository, type Job } from './repositories/jobs-repository.ts';
import { utxoRepository, type Outpoint, type WalletRef } from './repositories/utxo-repository.ts';
import { evmNonceRepository } from './repositories/evm-nonce-repository.ts';
import { isStrongroomError } from '../domain/errors.ts';

const AT = '2026-01-01T00:00:00.000Z';
const T0 = Date.UTC(2026, 0, 1);
let seq = 0;
const unique = (p: string) => `${p}_${++seq}_${Math.random().toString(36).slice(2, 8)}`;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    if (isStrongroomError(e)) return e.code;
    throw e;
  }
  return undefined;
}

async function outboxFor(db: Database['db'], topic: string): Promise<unknown[]> {
  const rows = await db.selectFrom('outbox').select('payload').where('topic', '=', topic).execute();
  return rows.map((r) => JSON.parse(r.payload));
}

for (const dialect of DIALECTS) {
  describe(`execution store: ${dialect}`, () => {
    let t: TestDatabase;
    /**
     * Where concurrent actors come from. PostgreSQL: separate pools (separate connections, as separate API
     * nodes would have). SQLite: the one handle, shared — one process has one writer connection; a second
     * better-sqlite3 connection in the same thread would block the thread while it waits for the first.
     * (Another process on the same file is the crash test's child.)
     */
    let handles: Database[] = [];
    let extra: Database[] = [];
    beforeAll(async () => {
      t = await createTestDatabase(dialect);
      if (t.config.dialect === 'postgres') {
        const config = { ...t.config, poolSize: 2 };
        extra = await Promise.all(Array.from({ length: 8 }, () => openDatabase(config, { migrate: false })));
        handles = extra;
      } else {
        handles = Array.from({ length: 8 }, () => t.database);
      }
    });
    afterAll(async () => {
      // pg's pool.end() resolves before its sockets close; dispose's forced DROP DATABASE would then kill
      // them mid-close (unhandled 57P01). Close first and let the sockets finish. (Same race in store.test.ts.)
      await Promise.all([...extra, ...(t ? [t.database] : [])].map((h) => h.close()));
      await new Promise((r) => setTimeout(r, 200));
      await t?.dispose();
    });

    describe('jobs', () => {
      it('enqueues once per (kind, key), even concurrently; another payload for the key is refused', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const results = await Promise.all(
          handles.map((h) => jobsRepository.enqueue(h.db, { tenantId: 'ten_a', kind, key: 'req_1', payload: { a: 1, b: 2 } })),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
        const again = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'req_1', payload: { b: 2, a: 1 } });
        expect(again.created).toBe(false);
        expect(again.job).toMatchObject({ state: 'queued', attempts: 0, fence: 0, payload: { a: 1, b: 2 } });
        expect(await codeOf(jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'req_1', payload: { a: 2 } }))).toBe('E_IDEMPOTENCY_CONFLICT');
        expect(await codeOf(jobsRepository.enqueue(db, { tenantId: 'ten_b', kind, key: 'req_1', payload: { a: 1, b: 2 } }))).toBe('E_IDEMPOTENCY_CONFLICT');
        expect(await jobsRepository.get(db, again.job.id)).toEqual(again.job);
        // Another kind with the same key is another job.
        expect((await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind: unique('k'), key: 'req_1', payload: {} })).created).toBe(true);
      });

      it('claims with a new fencing token; a held lease is not claimable; an expired one is, with a higher fence', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'r', payload: {} }, { now: T0 });
        expect(await jobsRepository.claim(db, 'w1', [kind], 1000, 5, { now: T0 - 1 })).toEqual([]); // not due yet
        const [a] = await jobsRepository.claim(db, 'w1', [kind], 1000, 5, { now: T0 });
        expect(a).toMatchObject({ id: job.id, state: 'running', fence: 1, attempts: 1, leaseOwner: 'w1', leaseUntil: T0 + 1000 });
        expect(await jobsRepository.claim(db, 'w2', [kind], 1000, 5, { now: T0 + 999 })).toEqual([]);
        await jobsRepository.heartbeat(db, job.id, 1, 1000, { now: T0 + 900 });
        expect(await jobsRepository.claim(db, 'w2', [kind], 1000, 5, { now: T0 + 1500 })).toEqual([]);
        const [b] = await jobsRepository.claim(db, 'w2', [kind], 1000, 5, { now: T0 + 1900 });
        expect(b).toMatchObject({ id: job.id, fence: 2, attempts: 2, leaseOwner: 'w2' });
        await jobsRepository.complete(db, job.id, 2, { txid: 'ab' }, { now: T0 + 2000 });
        expect(await jobsRepository.get(db, job.id)).toMatchObject({ state: 'done', result: { txid: 'ab' }, leaseOwner: null });
        expect(await jobsRepository.claim(db, 'w3', [kind], 1000, 5, { now: T0 + 10_000_000 })).toEqual([]);
      });

      it('refuses every write-back with a stale fence and rolls back the stale worker’s fenced business write', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const topic = unique('topic');
        const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'r', payload: {} }, { now: T0 });
        const [a] = await jobsRepository.claim(db, 'slow', [kind], 1000, 1, { now: T0 });
        const [b] = await jobsRepository.claim(db, 'fast', [kind], 1000, 1, { now: T0 + 1001 });
        expect([a?.fence, b?.fence]).toEqual([1, 2]);
        const before = await jobsRepository.get(db, job.id);

        expect(await codeOf(jobsRepository.complete(db, job.id, 1, 'late'))).toBe('E_CONFLICT');
        expect(await codeOf(jobsRepository.heartbeat(db, job.id, 1, 1000))).toBe('E_CONFLICT');
        expect(await codeOf(jobsRepository.fail(db, job.id, 1, 'late', 0))).toBe('E_CONFLICT');
        // The write first, then the fence check: the check fails and takes the write with it.
        expect(await codeOf(db.transaction().execute(async (trx) => {
          await outboxRepository.insert(trx, 'ten_a', topic, { by: 'slow' }, AT);
          await jobsRepository.withFence(trx, job.id, 1);
        }))).toBe('E_CONFLICT');
        // The check first (the intended use).
        expect(await codeOf(db.transaction().execute(async (trx) => {
          await jobsRepository.withFence(trx, job.id, 1);
          await outboxRepository.insert(trx, 'ten_a', topic, { by: 'slow' }, AT);
        }))).toBe('E_CONFLICT');
        expect(await outboxFor(db, topic)).toEqual([]);
        expect(await jobsRepository.get(db, job.id)).toEqual(before);

        await db.transaction().execute(async (trx) => {
          await jobsRepository.withFence(trx, job.id, 2);
          await outboxRepository.insert(trx, 'ten_a', topic, { by: 'fast' }, AT);
          await jobsRepository.complete(trx, job.id, 2, null);
        });
        expect(await outboxFor(db, topic)).toEqual([{ by: 'fast' }]);
        expect((await jobsRepository.get(db, job.id))?.state).toBe('done');
        expect(await codeOf(jobsRepository.complete(db, job.id, 2, null))).toBe('E_CONFLICT'); // done is final
      });

      it('retries after the delay, dead-letters after max attempts, fails permanently on request', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'r', payload: {}, maxAttempts: 3 }, { now: T0 });
        let now = T0;
        for (const expected of ['queued', 'queued', 'dead'] as const) {
          const [c] = await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now });
          expect(c?.id).toBe(job.id);
          expect(await jobsRepository.fail(db, job.id, c!.fence, `boom ${c!.attempts}`, 500, { now })).toBe(expected);
          expect(await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now: now + 499 })).toEqual([]);
          now += 500;
        }
        expect(await jobsRepository.get(db, job.id)).toMatchObject({ state: 'dead', attempts: 3, fence: 3, lastError: 'boom 3', leaseOwner: null });
        expect(await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now: now + 10_000_000 })).toEqual([]);

        const p = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'p', payload: {} }, { now: T0 });
        const [c] = await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now: T0 });
        expect(await jobsRepository.fail(db, p.job.id, c!.fence, 'conflicting tx confirmed', 0, { permanent: true, now: T0 })).toBe('failed');
        expect(await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now: T0 + 10_000_000 })).toEqual([]);
      });

      it('requeues the dead job of a withdrawal still on its way, after it stayed dead long enough; not a finished one', async () => {
        const db = t.database.db;
        const kind = 'withdrawal.execute';
        await sql`insert into tenants (id, name, created_at) values ('ten_rv', 'revive', ${AT})`.execute(db);
        for (const [id, status] of [['req_rv_signing', 'signing'], ['req_rv_done', 'confirmed']] as const) {
          await sql`insert into requests (id, tenant_id, type, status, initiator_user_id, key_id, payload, digest, idempotency_key, evidence, created_at, expires_at)
            values (${id}, 'ten_rv', 'transfer', ${status}, 'u', 'k', '{}', 'd', ${id}, '{}', ${AT}, ${AT})`.execute(db);
          const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_rv', kind, key: id, payload: {}, maxAttempts: 1 }, { now: T0 });
          const [c] = await jobsRepository.claim(db, 'w', [kind], 1000, 1, { now: T0 });
          expect(c?.id).toBe(job.id);
          expect(await jobsRepository.fail(db, job.id, c!.fence, 'E_VAULT_SEALED: sealed', 0, { now: T0 })).toBe('dead');
        }
        const { executionsRepository } = await import('./repositories/executions-repository.ts');
        expect(await executionsRepository.reviveStalled(db, kind, 60_000, T0 + 59_000)).toBe(0);
        expect(await executionsRepository.reviveStalled(db, kind, 60_000, T0 + 61_000)).toBe(1);
        expect(await jobsRepository.getByKey(db, kind, 'req_rv_signing')).toMatchObject({ state: 'queued', attempts: 0 });
        expect(await jobsRepository.getByKey(db, kind, 'req_rv_done')).toMatchObject({ state: 'dead' });
      });

      it('dead-letters a job whose worker died on its last attempt instead of running it again', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'r', payload: {}, maxAttempts: 2 }, { now: T0 });
        await jobsRepository.claim(db, 'w1', [kind], 1000, 1, { now: T0 });
        expect((await jobsRepository.claim(db, 'w2', [kind], 1000, 1, { now: T0 + 1000 }))[0]?.fence).toBe(2);
        expect(await jobsRepository.claim(db, 'w3', [kind], 1000, 1, { now: T0 + 2000 })).toEqual([]);
        expect(await jobsRepository.get(db, job.id)).toMatchObject({ state: 'dead', attempts: 2, leaseOwner: null });
      });

      for (const workers of [2, 8]) {
        it(`${workers} concurrent workers never hold the same job at once; each job completes exactly once`, async () => {
          const db = t.database.db;
          const kind = unique('k');
          const topic = unique('topic');
          const N = 60;
          for (let i = 0; i < N; i++) await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: `r${i}`, payload: { i } });
          const claims: Array<{ id: string; fence: number; worker: number }> = [];
          const completed: string[] = [];
          await Promise.all(
            handles.slice(0, workers).map(async (h, w) => {
              for (let idle = 0; idle < 3; ) {
                const got = await jobsRepository.claim(h.db, `w${w}`, [kind], 60_000, 3);
                if (got.length === 0) {
                  idle++;
                  await new Promise((r) => setTimeout(r, 5));
                  continue;
                }
                idle = 0;
                for (const job of got) {
                  claims.push({ id: job.id, fence: job.fence, worker: w });
                  await h.db.transaction().execute(async (trx) => {
                    await jobsRepository.withFence(trx, job.id, job.fence);
                    await outboxRepository.insert(trx, 'ten_a', topic, { job: job.id }, AT);
                    await jobsRepository.complete(trx, job.id, job.fence, { worker: w });
                  });
                  completed.push(job.id);
                }
              }
            }),
          );
          expect(claims).toHaveLength(N);
          expect(new Set(claims.map((c) => c.id)).size).toBe(N);
          expect(claims.every((c) => c.fence === 1)).toBe(true);
          expect(new Set(completed).size).toBe(N);
          const written = (await outboxFor(db, topic)) as Array<{ job: string }>;
          expect(written).toHaveLength(N);
          expect(new Set(written.map((x) => x.job)).size).toBe(N);
          const states = await db.selectFrom('jobs' as never).select(['state' as never]).where('kind' as never, '=', kind as never).execute();
          expect(states.every((s: any) => s.state === 'done')).toBe(true);
        });
      }

      it('reclaims, with a higher fence, a job whose worker process was killed with SIGKILL', async () => {
        const db = t.database.db;
        const kind = unique('k');
        const { job } = await jobsRepository.enqueue(db, { tenantId: 'ten_a', kind, key: 'r', payload: {} });
        const leaseMs = 60_000;
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'test/support/claim-and-hang.entry.ts', JSON.stringify(t.config), kind, String(leaseMs), 'doomed'],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout! }).once('line', resolve);
          child.once('exit', () => reject(new Error('child exited before claiming')));
        });
        const claimed = JSON.parse(line) as Job;
        expect(claimed).toMatchObject({ id: job.id, fence: 1, leaseOwner: 'doomed' });
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');

        // The dead worker's lease still stands until it expires ...
        expect(await jobsRepository.claim(db, 'heir', [kind], 1000, 1)).toEqual([]);
        // ... then the job is claimed again with a higher fence, and the dead worker's fence is refused.
        const [again] = await jobsRepository.claim(db, 'heir', [kind], 1000, 1, { now: claimed.leaseUntil! });
        expect(again).toMatchObject({ id: job.id, fence: 2, attempts: 2, leaseOwner: 'heir' });
        expect(await codeOf(jobsRepository.complete(db, job.id, 1, null))).toBe('E_CONFLICT');
        await jobsRepository.complete(db, job.id, 2, null);
        expect((await jobsRepository.get(db, job.id))?.state).toBe('done');
      });

      it('validates its inputs', async () => {
        const db = t.database.db;
        expect(await codeOf(jobsRepository.claim(db, 'w', ['x'], 0, 1))).toBe('E_VALIDATION');
        expect(await codeOf(jobsRepository.claim(db, '', ['x'], 10, 1))).toBe('E_VALIDATION');
        expect(await codeOf(jobsRepository.enqueue(db, { tenantId: 't', kind: 'x', key: '', payload: {} }))).toBe('E_VALIDATION');
        expect(await codeOf(jobsRepository.enqueue(db, { tenantId: 't', kind: 'x', key: 'k', payload: {}, maxAttempts: 0 }))).toBe('E_VALIDATION');
        expect(await jobsRepository.claim(db, 'w', [], 10, 1)).toEqual([]);
      });
    });

    describe('utxos', () => {
      const txid = (n: number) => n.toString(16).padStart(64, '0');
      const coin = (n: number, vout = 0) => ({ txid: txid(n), vout, value: BigInt(1000 * n), script: '0014' + '00'.repeat(20), address: 'bcrt1qexample', height: 100 + n });

      it('locks all or nothing, idempotently per request, releases and tracks spends', async () => {
        const db = t.database.db;
        const wallet: WalletRef = { tenantId: 'ten_a', walletId: unique('wal') };
        expect(await utxoRepository.upsertCoins(db, wallet, [coin(1), coin(2), coin(3), coin(3, 1)], AT)).toBe(4);
        expect(await utxoRepository.upsertCoins(db, wallet, [{ ...coin(1), height: 200 }], AT)).toBe(0);
        const avail = await utxoRepository.available(db, wallet);
        expect(avail.map((c) => [c.txid, c.vout, c.value, c.height])).toEqual([
          [txid(1), 0, 1000n, 200], [txid(2), 0, 2000n, 102], [txid(3), 0, 3000n, 103], [txid(3), 1, 3000n, 103],
        ]);

        const locked = await utxoRepository.lockCoins(db, wallet, 'req_a', [coin(2), coin(1)], AT);
        expect(locked.map((c) => [c.txid, c.state, c.lockedBy])).toEqual([[txid(1), 'locked', 'req_a'], [txid(2), 'locked', 'req_a']]);
        // Retrying the same lock is fine; another request wanting one of them gets nothing at all.
        await utxoRepository.lockCoins(db, wallet, 'req_a', [coin(1), coin(2)], AT);
        const err = await utxoRepository.lockCoins(db, wallet, 'req_b', [coin(3), coin(2)], AT).catch((e) => e);
        expect(err.code).toBe('E_UTXO_UNAVAILABLE');
        expect(err.details.unavailable).toEqual([`${txid(2)}:0`]);
        expect((await utxoRepository.available(db, wallet)).map((c) => c.txid)).toEqual([txid(3), txid(3)]);
        expect(await codeOf(utxoRepository.lockCoins(db, wallet, 'req_b', [coin(3), coin(99)], AT))).toBe('E_UTXO_UNAVAILABLE');
        expect(await codeOf(utxoRepository.lockCoins(db, { ...wallet, walletId: 'other' }, 'req_b', [coin(3)], AT))).toBe('E_UTXO_UNAVAILABLE');
        expect(await utxoRepository.lockedBy(db, 'req_b')).toEqual([]);

        // Spent by our transaction, then by its replacement (same inputs, new txid): the last one seen wins.
        expect(await utxoRepository.markSpent(db, wallet, [coin(1), coin(2)], 'aa'.repeat(32), AT)).toBe(2);
        expect(await utxoRepository.markSpent(db, wallet, [coin(1), coin(2)], 'bb'.repeat(32), AT)).toBe(2);
        expect((await utxoRepository.lockedBy(db, 'req_a')).map((c) => [c.state, c.spentBy])).toEqual([['spent', 'bb'.repeat(32)], ['spent', 'bb'.repeat(32)]]);
        expect(await utxoRepository.release(db, 'req_a', AT)).toBe(0); // spent coins are not released
        expect(await codeOf(utxoRepository.lockCoins(db, wallet, 'req_c', [coin(1)], AT))).toBe('E_UTXO_UNAVAILABLE');
        // A reorg drops the spend: the coins return to the request that holds them.
        expect(await utxoRepository.unmarkSpent(db, wallet, 'bb'.repeat(32), AT)).toBe(2);
        expect((await utxoRepository.lockedBy(db, 'req_a')).map((c) => c.state)).toEqual(['locked', 'locked']);
        expect(await utxoRepository.release(db, 'req_a', AT)).toBe(2);
        expect(await utxoRepository.available(db, wallet)).toHaveLength(4);

        expect(await codeOf(utxoRepository.lockCoins(db, wallet, 'req_d', [], AT))).toBe('E_VALIDATION');
        expect(await codeOf(utxoRepository.lockCoins(db, wallet, 'req_d', [coin(1), coin(1)], AT))).toBe('E_VALIDATION');
        expect(await codeOf(utxoRepository.lockCoins(db, wallet, 'req_d', [{ txid: 'xyz', vout: 0 }], AT))).toBe('E_VALIDATION');
        expect(await codeOf(utxoRepository.upsertCoins(db, wallet, [{ ...coin(5), value: -1n }], AT))).toBe('E_AMOUNT_INVALID');
        expect(await utxoRepository.available(db, wallet)).toHaveLength(4);
      });

      it('never locks a coin for two requests under concurrent lockCoins (property)', async () => {
        const COINS = 16;
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.uniqueArray(fc.nat(COINS - 1), { minLength: 1, maxLength: 5 }), { minLength: 8, maxLength: 8 }),
            async (wants) => {
              const wallet: WalletRef = { tenantId: 'ten_a', walletId: unique('wal') };
              await utxoRepository.upsertCoins(t.database.db, wallet, Array.from({ length: COINS }, (_, i) => coin(i + 1)), AT);
              const outcomes = await Promise.all(
                wants.map((w, r) => {
                  const outpoints: Outpoint[] = w.map((i) => coin(i + 1));
                  return utxoRepository.lockCoins(handles[r]!.db, wallet, `req_${r}`, outpoints, AT).then(() => true, (e) => {
                    if (!isStrongroomError(e, 'E_UTXO_UNAVAILABLE')) throw e;
                    return false;
                  });
                }),
              );
              const taken = new Map<number, number>();
              for (const [r, ok] of outcomes.entries()) {
                if (!ok) continue;
                for (const i of wants[r]!) {
                  expect(taken.has(i)).toBe(false);
                  taken.set(i, r);
                }
              }
              expect(outcomes.some(Boolean)).toBe(true);
              const rows = await t.database.db.selectFrom('utxos' as never).selectAll().where('wallet_id' as never, '=', wallet.walletId as never).execute() as any[];
              for (const row of rows) {
                const i = parseInt(row.txid, 16) - 1;
                expect(row.locked_by).toBe(taken.has(i) ? `req_${taken.get(i)}` : null);
                expect(row.state).toBe(taken.has(i) ? 'locked' : 'available');
              }
            },
          ),
          { numRuns: 12 },
        );
      });
    });

    describe('evm nonces', () => {
      const addr = (n: number) => '0x' + n.toString(16).padStart(40, 'a');

      it('assigns the next nonce, the same again for a repeated request, never below the chain’s pending nonce', async () => {
        const db = t.database.db;
        const a = addr(1);
        expect(await evmNonceRepository.assignNonce(db, 1, a, 'req_n0', 0, AT)).toMatchObject({ nonce: 0, assigned: true });
        expect(await evmNonceRepository.assignNonce(db, 1, a, 'req_n1', 0, AT)).toMatchObject({ nonce: 1, assigned: true });
        expect(await evmNonceRepository.assignNonce(db, 1, a.toUpperCase().replace('0X', '0x'), 'req_n0', 5, AT)).toMatchObject({ nonce: 0, assigned: false });
        expect(await evmNonceRepository.assignNonce(db, 1, a, 'req_n2', 5, AT)).toMatchObject({ nonce: 5 });
        expect(await evmNonceRepository.assignNonce(db, 1, a, 'req_n3', 0, AT)).toMatchObject({ nonce: 6 });
        expect(await evmNonceRepository.assignNonce(db, 137, a, 'req_m0', 0, AT)).toMatchObject({ nonce: 0 });
        expect(await codeOf(evmNonceRepository.assignNonce(db, 1, addr(2), 'req_n0', 0, AT))).toBe('E_CONFLICT');
        expect(await codeOf(evmNonceRepository.assignNonce(db, 1, '0x1234', 'req_x', 0, AT))).toBe('E_ADDRESS_INVALID');
        expect(await codeOf(evmNonceRepository.assignNonce(db, 0, a, 'req_x', 0, AT))).toBe('E_VALIDATION');
        expect(await codeOf(evmNonceRepository.assignNonce(db, 1, a, 'req_x', -1, AT))).toBe('E_VALIDATION');
        expect(await evmNonceRepository.nonceOf(db, 'req_x')).toBeUndefined();
        expect(await evmNonceRepository.nonceOf(db, 'req_n2')).toEqual({ chainId: 1, address: a, nonce: 5 });

        // Nonce 0 mined; 1 dropped; 2..4 used by someone else; 5 and 6 waiting behind 1.
        expect(await evmNonceRepository.gapCheck(db, 1, a, 1)).toEqual({
          nextNonce: 7,
          chainLatestNonce: 1,
          missing: [
            { nonce: 1, requestId: 'req_n1' }, { nonce: 2, requestId: null }, { nonce: 3, requestId: null },
            { nonce: 4, requestId: null }, { nonce: 5, requestId: 'req_n2' }, { nonce: 6, requestId: 'req_n3' },
          ],
        });
        expect((await evmNonceRepository.gapCheck(db, 1, a, 7)).missing).toEqual([]);
        expect(await evmNonceRepository.gapCheck(db, 1, addr(3), 0)).toEqual({ nextNonce: 0, chainLatestNonce: 0, missing: [] });
      });

      it('a nonce released before broadcast is the next one assigned (the hole is filled, not skipped)', async () => {
        const db = t.database.db;
        const a = addr(4);
        for (let k = 0; k < 4; k++) expect((await evmNonceRepository.assignNonce(db, 1, a, `req_h${k}`, 0, AT)).nonce).toBe(k);
        expect(await evmNonceRepository.release(db, 'req_h1')).toBe(1);
        expect(await evmNonceRepository.release(db, 'req_h1')).toBeUndefined();
        // The chain has mined nonce 0; its pending nonce is 1 (the hole): the next request takes 1, then 4.
        expect((await evmNonceRepository.assignNonce(db, 1, a, 'req_h4', 1, AT)).nonce).toBe(1);
        expect((await evmNonceRepository.assignNonce(db, 1, a, 'req_h5', 1, AT)).nonce).toBe(4);
        expect((await evmNonceRepository.gapCheck(db, 1, a, 1)).missing.map((m) => m.requestId)).toEqual(['req_h4', 'req_h2', 'req_h3', 'req_h5']);
        // Released again (that request failed too) and reported as such until taken.
        await evmNonceRepository.release(db, 'req_h4');
        expect((await evmNonceRepository.gapCheck(db, 1, a, 1)).missing[0]).toEqual({ nonce: 1, requestId: 'released:req_h4' });
      });

      it('is gapless and idempotent per request under concurrent assignment', async () => {
        const a = addr(9);
        const N = 40;
        // Every request asks twice, from different connections at once.
        const calls = Array.from({ length: 2 * N }, (_, k) => ({ req: `req_c${k % N}`, h: handles[k % handles.length]! }));
        const results = await Promise.all(calls.map((c) => evmNonceRepository.assignNonce(c.h.db, 10, a, c.req, 0, AT)));
        const byReq = new Map<string, Set<number>>();
        for (const r of results) byReq.set(r.requestId, (byReq.get(r.requestId) ?? new Set()).add(r.nonce));
        expect([...byReq.values()].every((s) => s.size === 1)).toBe(true);
        expect([...byReq.values()].map((s) => [...s][0]!).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
        expect(results.filter((r) => r.assigned)).toHaveLength(N);
        expect((await evmNonceRepository.gapCheck(t.database.db, 10, a, N)).nextNonce).toBe(N);
      });
    });
  });
}
