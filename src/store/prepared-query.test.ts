import { unlinkSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../../test/support/databases.ts';
import { authRepository, directoryRepository } from './index.ts';
import { preparedInsert, preparedQuery, preparedStatementName, everyColumn } from './prepared-query.ts';

const at = '2026-01-01T00:00:00.000Z';

for (const dialect of DIALECTS) {
  describe(`prepared queries (${dialect})`, () => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await createTestDatabase(dialect);
      const db = t.database.db;
      for (const id of ['ten_a', 'ten_b'])
        await directoryRepository.insertTenant(db, { id, name: id, created_at: at });
      await directoryRepository.insertUser(db, {
        id: 'usr_1',
        tenant_id: 'ten_a',
        name: 'alice',
        kind: 'person',
        status: 'active',
        created_at: at,
      });
      for (const [id, status] of [
        ['k_on', 'active'],
        ['k_off', 'revoked'],
      ] as const) {
        await directoryRepository.insertKey(db, {
          id,
          tenant_id: 'ten_a',
          user_id: 'usr_1',
          alg: 'ed25519',
          public_key: 'AAAA',
          status,
          created_at: at,
          revoked_at: null,
        });
      }
    });
    afterAll(async () => t?.dispose());

    it('answers what the built query answers, binding every use of an argument and keeping constants', async () => {
      const db = t.database.db;
      const q = preparedQuery((qq, p: { a: string; b: string }) =>
        qq
          .selectFrom('tenants')
          .select(['id', 'name'])
          .where((eb) => eb.or([eb('id', '=', p.a), eb('id', '=', p.b), eb('name', '=', p.a)]))
          .where('created_at', '=', at)
          .orderBy('id'),
      );
      for (const args of [
        { a: 'ten_a', b: 'ten_b' },
        { a: 'ten_b', b: 'nope' },
        { a: 'nope', b: 'nope' },
      ]) {
        const built = await db
          .selectFrom('tenants')
          .select(['id', 'name'])
          .where((eb) => eb.or([eb('id', '=', args.a), eb('id', '=', args.b), eb('name', '=', args.a)]))
          .where('created_at', '=', at)
          .orderBy('id')
          .execute();
        expect((await q.execute(db, args)).rows).toEqual(built);
      }
      // The same compiled form serves transactions of the same database.
      await db.transaction().execute(async (trx) => {
        expect((await q.execute(trx, { a: 'ten_a', b: 'x' })).rows).toEqual([{ id: 'ten_a', name: 'ten_a' }]);
      });
    });

    it('refuses an argument that the query does not bind as a parameter', async () => {
      const q = preparedQuery((qq, p: { table: string }) =>
        qq.selectFrom('tenants').select('id').where(sql.raw(p.table), '=', 'x'),
      );
      await expect(q.execute(t.database.db, { table: 'id' })).rejects.toThrow(/not a bound parameter/);
    });

    it('inserts rows in chunks, in column order, and names only its own PostgreSQL statements', async () => {
      const db = t.database.db;
      const insert = preparedInsert(
        (qq, rows: Array<{ id: string; name: string; created_at: string }>) =>
          qq.insertInto('tenants').values(rows),
        everyColumn<{ id: string; name: string; created_at: string }>()(['id', 'name', 'created_at']),
        2,
      );
      const rows = Array.from({ length: 5 }, (_, i) => ({ id: `ten_c${i}`, name: `n${i}`, created_at: at }));
      await insert.execute(db, rows);
      const stored = await db
        .selectFrom('tenants')
        .select(['id', 'name', 'created_at'])
        .where('id', 'like', 'ten_c%')
        .orderBy('id')
        .execute();
      expect(stored).toEqual(rows);
      const text = db.insertInto('tenants').values(rows.slice(0, 2)).compile().sql;
      expect(preparedStatementName(text) !== undefined).toBe(dialect === 'postgres');
      expect(preparedStatementName('select 1')).toBeUndefined();
      // `select *` changes shape with the table, so it is never a named statement.
      const all = preparedQuery((qq, p: { id: string }) =>
        qq.selectFrom('tenants').selectAll().where('id', '=', p.id),
      );
      expect((await all.execute(db, { id: 'ten_c0' })).rows).toHaveLength(1);
      expect(
        preparedStatementName(db.selectFrom('tenants').selectAll().where('id', '=', 'x').compile().sql),
      ).toBeUndefined();
    });

    it('spends a nonce once, only for an active key of the tenant, and reads the idempotency record with it', async () => {
      const db = t.database.db;
      const args = {
        tenantId: 'ten_a',
        keyId: 'k_on',
        nonce: 'n-0001',
        createdUnix: 1,
        userId: 'usr_1',
        key: 'idem-1',
      };
      expect(await authRepository.useNonceAndGetIdempotency(db, args)).toEqual({
        spent: true,
        prior: undefined,
      });
      expect(await authRepository.useNonceAndGetIdempotency(db, args)).toEqual({
        spent: false,
        prior: undefined,
      });
      expect(
        (await authRepository.useNonceAndGetIdempotency(db, { ...args, keyId: 'k_off', nonce: 'n-0002' }))
          .spent,
      ).toBe(false);
      expect(
        (await authRepository.useNonceAndGetIdempotency(db, { ...args, tenantId: 'ten_b', nonce: 'n-0003' }))
          .spent,
      ).toBe(false);
      const record = {
        tenant_id: 'ten_a',
        user_id: 'usr_1',
        idem_key: 'idem-1',
        request_hash: 'h',
        status_code: 201,
        response_body: '{"ok":true}',
        created_at: at,
      };
      await authRepository.insertIdempotency(db, record);
      expect(await authRepository.useNonceAndGetIdempotency(db, { ...args, nonce: 'n-0004' })).toEqual({
        spent: true,
        prior: record,
      });
      // Another tenant's record under the same key is not found.
      expect(
        (await authRepository.useNonceAndGetIdempotency(db, { ...args, nonce: 'n-0005', userId: 'usr_2' }))
          .prior,
      ).toBeUndefined();
      // The nonces spent above (and only those) are stored, and a failed spend inserted nothing.
      const nonces = await db.selectFrom('nonces').select(['key_id', 'nonce']).orderBy('nonce').execute();
      expect(nonces).toEqual([
        { key_id: 'k_on', nonce: 'n-0001' },
        { key_id: 'k_on', nonce: 'n-0004' },
        { key_id: 'k_on', nonce: 'n-0005' },
      ]);
    });

    it('commits durably: a commit is seen by no other query before commitDurably resolves', async () => {
      const db = t.database.db;
      const order: string[] = [];
      let seen: unknown;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const committing = t.database
        .commitDurably(async (conn) => {
          await conn.transaction().execute(async (trx) => {
            await directoryRepository.insertTenant(trx, { id: 'ten_d', name: 'd', created_at: at });
          });
          release();
          // Give a concurrent reader every chance to run before the durable commit finishes.
          await new Promise((r) => setTimeout(r, 20));
          order.push('committed');
        })
        .then(() => order.push('resolved'));
      await gate;
      const reading = db
        .selectFrom('tenants')
        .select('id')
        .where('id', '=', 'ten_d')
        .executeTakeFirst()
        .then((r) => {
          seen = r;
          order.push('read');
        });
      await Promise.all([committing, reading]);
      expect(seen).toEqual({ id: 'ten_d' });
      if (dialect === 'sqlite') expect(order.indexOf('committed')).toBeLessThan(order.indexOf('read'));
    });

    if (dialect === 'sqlite') {
      it('refuses every later durable commit once the WAL cannot be synced', async () => {
        const s = await createTestDatabase('sqlite');
        try {
          if (s.config.dialect !== 'sqlite') throw new Error('unreachable');
          // SQLite keeps writing to its open WAL; the file name no longer leads to it, so the sync cannot run.
          unlinkSync(`${s.config.path}-wal`);
          const commit = () =>
            s.database.commitDurably((conn) =>
              conn.transaction().execute(async (trx) => {
                await directoryRepository.insertTenant(trx, { id: 'ten_x', name: 'x', created_at: at });
              }),
            );
          await expect(commit()).rejects.toThrow(/could not be synced/);
          await expect(commit()).rejects.toThrow(/could not be synced/);
        } finally {
          await s.dispose();
        }
      });
    }
  });
}
