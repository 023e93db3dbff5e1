/**
 * The one conformance suite every store dialect passes (as OpenBao runs one suite against every backend).
 * `store.test.ts` runs it on SQLite and on PostgreSQL.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import type { Database } from './database.ts';
import {
  auditRepository,
  authRepository,
  directoryRepository,
  outboxRepository,
  requestsRepository,
  systemRepository,
} from './index.ts';

export interface StoreHandle {
  database: Database;
  dispose(): Promise<void>;
}

export function storeContract(name: string, open: () => Promise<StoreHandle>): void {
  describe(`store conformance: ${name}`, () => {
    let h: StoreHandle;
    const at = '2026-01-01T00:00:00.000Z';
    beforeAll(async () => {
      h = await open();
      const db = h.database.db;
      for (const t of ['ten_a', 'ten_b'])
        await directoryRepository.insertTenant(db, { id: t, name: t, created_at: at });
    });
    afterAll(async () => h?.dispose());

    it('stores users, keys and groups per tenant', async () => {
      const db = h.database.db;
      await directoryRepository.insertUser(db, {
        id: 'usr_1',
        tenant_id: 'ten_a',
        name: 'alice',
        kind: 'person',
        status: 'active',
        created_at: at,
      });
      await directoryRepository.insertKey(db, {
        id: 'k_1',
        tenant_id: 'ten_a',
        user_id: 'usr_1',
        alg: 'ed25519',
        public_key: 'AAAA',
        status: 'active',
        created_at: at,
        revoked_at: null,
      });
      await directoryRepository.insertGroup(db, {
        id: 'grp_1',
        tenant_id: 'ten_a',
        name: 'admins',
        created_at: at,
      });
      expect(await directoryRepository.addMember(db, 'ten_a', 'grp_1', 'usr_1', at)).toBe(true);
      expect(await directoryRepository.addMember(db, 'ten_a', 'grp_1', 'usr_1', at)).toBe(false);
      expect(await directoryRepository.groupNamesOfUser(db, 'ten_a', 'usr_1')).toEqual(['admins']);
      expect(await directoryRepository.getUser(db, 'ten_b', 'usr_1')).toBeUndefined();
      expect((await directoryRepository.getUserByName(db, 'ten_a', 'alice'))?.id).toBe('usr_1');
      expect(await directoryRepository.revokeKey(db, 'ten_b', 'k_1', at)).toBe(false);
      expect(await directoryRepository.revokeKey(db, 'ten_a', 'k_1', at)).toBe(true);
      expect(await directoryRepository.revokeKey(db, 'ten_a', 'k_1', at)).toBe(false);
      expect((await directoryRepository.getKey(db, 'k_1'))?.status).toBe('revoked');
      expect(await directoryRepository.removeMember(db, 'ten_a', 'grp_1', 'usr_1')).toBe(true);
      expect(await directoryRepository.listMembers(db, 'ten_a', 'grp_1')).toEqual([]);
    });

    it('refuses a duplicate user name within a tenant but not across tenants', async () => {
      const db = h.database.db;
      const row = {
        id: 'usr_2',
        tenant_id: 'ten_a',
        name: 'alice',
        kind: 'person' as const,
        status: 'active' as const,
        created_at: at,
      };
      await expect(directoryRepository.insertUser(db, row)).rejects.toThrow();
      await directoryRepository.insertUser(db, { ...row, tenant_id: 'ten_b' });
    });

    it('uses each nonce once per key, and prunes old ones', async () => {
      const db = h.database.db;
      expect(await authRepository.useNonce(db, 'k_x', 'n1', 100)).toBe(true);
      expect(await authRepository.useNonce(db, 'k_x', 'n1', 101)).toBe(false);
      expect(await authRepository.useNonce(db, 'k_y', 'n1', 101)).toBe(true);
      expect(await authRepository.pruneNonces(db, 101)).toBe(1);
    });

    it('uses each nonce once under concurrent inserts', async () => {
      const db = h.database.db;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => authRepository.useNonce(db, 'k_race', 'same', 1)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('keeps idempotency records and one-time challenges', async () => {
      const db = h.database.db;
      await authRepository.insertIdempotency(db, {
        tenant_id: 'ten_a',
        user_id: 'usr_1',
        idem_key: 'i1',
        request_hash: 'h',
        status_code: 201,
        response_body: '{}',
        created_at: at,
      });
      expect((await authRepository.getIdempotency(db, 'ten_a', 'usr_1', 'i1'))?.status_code).toBe(201);
      expect(await authRepository.getIdempotency(db, 'ten_b', 'usr_1', 'i1')).toBeUndefined();
      await authRepository.insertChallenge(db, 'c1', 'k_1', 200);
      expect(await authRepository.consumeChallenge(db, 'c1', 'k_2', 100)).toBe(false);
      expect(await authRepository.consumeChallenge(db, 'c1', 'k_1', 201)).toBe(false);
      expect(await authRepository.consumeChallenge(db, 'c1', 'k_1', 100)).toBe(true);
      expect(await authRepository.consumeChallenge(db, 'c1', 'k_1', 100)).toBe(false);
    });

    it('stores requests and lists them newest first', async () => {
      const db = h.database.db;
      for (const id of ['req_1', 'req_2', 'req_3']) {
        await requestsRepository.insert(db, {
          id,
          tenant_id: 'ten_a',
          type: 'transfer',
          status: 'submitted',
          initiator_user_id: 'usr_1',
          key_id: 'k_1',
          payload: '{}',
          digest: 'sha256:00',
          idempotency_key: id,
          evidence: '{}',
          created_at: at,
          expires_at: null,
        });
      }
      expect((await requestsRepository.list(db, 'ten_a', { limit: 2 })).map((r) => r.id)).toEqual([
        'req_3',
        'req_2',
      ]);
      expect(
        (await requestsRepository.list(db, 'ten_a', { limit: 5, before: 'req_2' })).map((r) => r.id),
      ).toEqual(['req_1']);
      expect(await requestsRepository.get(db, 'ten_b', 'req_1')).toBeUndefined();
    });

    it('appends audit entries, pages through them in order, keeps the head and checkpoints', async () => {
      const db = h.database.db;
      const rows = Array.from({ length: 1203 }, (_, i) => ({
        tenant_id: 'ten_a',
        seq: i + 1,
        at,
        actor: 'k_1',
        action: 'x',
        request_digest: null,
        payload_digest: null,
        prev_hash: `p${i}`,
        hash: `h${i + 1}`,
      }));
      await db.transaction().execute(async (trx) => {
        await auditRepository.insertEntries(trx, rows);
        await auditRepository.setHead(trx, 'ten_a', 1203, 'h1203');
      });
      expect(await auditRepository.count(db, 'ten_a')).toBe(1203);
      const seen: number[] = [];
      for await (const r of auditRepository.iterate(db, 'ten_a', { pageSize: 500 })) seen.push(r.seq);
      expect(seen).toEqual(rows.map((r) => r.seq));
      expect(await auditRepository.lockHead(db, h.database.dialect, 'ten_a')).toEqual({
        seq: 1203,
        hash: 'h1203',
      });
      await expect(auditRepository.insertEntries(db, [rows[0]!])).rejects.toThrow();
      await auditRepository.insertCheckpoint(db, {
        tenant_id: 'ten_a',
        seq: 1203,
        head_hash: 'h1203',
        at,
        key_id: 'a',
        signature: 's',
      });
      expect((await auditRepository.listCheckpoints(db, 'ten_a')).map((c) => Number(c.seq))).toEqual([1203]);
    });

    it('serialises concurrent head updates (no lost update)', async () => {
      const db = h.database.db;
      await auditRepository.setHead(db, 'ten_b', 0, 'h0');
      const bump = () =>
        db.transaction().execute(async (trx) => {
          const head = await auditRepository.lockHead(trx, h.database.dialect, 'ten_b');
          await new Promise((r) => setTimeout(r, 5));
          await auditRepository.setHead(trx, 'ten_b', head!.seq + 1, `h${head!.seq + 1}`);
        });
      await Promise.all(Array.from({ length: 5 }, bump));
      expect((await auditRepository.lockHead(db, h.database.dialect, 'ten_b'))?.seq).toBe(5);
    });

    it('rolls back every write of a failed transaction', async () => {
      const db = h.database.db;
      await expect(
        db.transaction().execute(async (trx) => {
          await outboxRepository.insert(trx, 'ten_a', 't', { a: 1 }, at);
          await systemRepository.insertOnce(trx, 'k', 'v');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await outboxRepository.pending(db, 10)).toEqual([]);
      expect(await systemRepository.get(db, 'k')).toBeUndefined();
      expect(await systemRepository.insertOnce(db, 'k', 'v')).toBe(true);
      expect(await systemRepository.insertOnce(db, 'k', 'w')).toBe(false);
      expect(await systemRepository.get(db, 'k')).toBe('v');
    });
  });
}
