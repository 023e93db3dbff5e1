/** Replay protection, idempotency records and read sessions. */
import { sql } from 'kysely';
import type { Queryable } from '../queryable.ts';
import type { IdempotencyTable, SessionsTable } from '../schema.ts';

export type IdempotencyRow = IdempotencyTable;
export type SessionRow = SessionsTable;

export const authRepository = {
  /**
   * Records a (key, nonce) pair; false when it was used before. The primary key makes this hold across every
   * API instance sharing the database.
   */
  async useNonce(q: Queryable, keyId: string, nonce: string, createdUnix: number): Promise<boolean> {
    const r = await q
      .insertInto('nonces')
      .values({ key_id: keyId, nonce, created_unix: createdUnix })
      .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
  /**
   * Spends the nonce only if the key is still active in the tenant: one statement on the write path instead
   * of a key lookup and an insert. False when the nonce was used or the key is not active (callers tell
   * which apart only on that rare path).
   */
  async useNonceIfKeyActive(
    q: Queryable,
    tenantId: string,
    keyId: string,
    nonce: string,
    createdUnix: number,
  ): Promise<boolean> {
    const r = await q
      .insertInto('nonces')
      .columns(['key_id', 'nonce', 'created_unix'])
      .expression(
        q
          .selectFrom('user_keys')
          .select([
            sql<string>`${keyId}`.as('key_id'),
            sql<string>`${nonce}`.as('nonce'),
            sql<number>`cast(${createdUnix} as bigint)`.as('created_unix'),
          ])
          .where('id', '=', keyId)
          .where('tenant_id', '=', tenantId)
          .where('status', '=', 'active'),
      )
      .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
  /** Nonces older than the acceptance window can never be presented again; drop them. */
  async pruneNonces(q: Queryable, olderThanUnix: number): Promise<number> {
    const r = await q.deleteFrom('nonces').where('created_unix', '<', olderThanUnix).executeTakeFirst();
    return Number(r.numDeletedRows);
  },

  getIdempotency(
    q: Queryable,
    tenantId: string,
    userId: string,
    key: string,
  ): Promise<IdempotencyRow | undefined> {
    return q
      .selectFrom('idempotency')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('idem_key', '=', key)
      .executeTakeFirst();
  },
  async insertIdempotency(q: Queryable, row: IdempotencyRow): Promise<void> {
    await q.insertInto('idempotency').values(row).execute();
  },

  async insertChallenge(q: Queryable, challenge: string, keyId: string, expiresUnix: number): Promise<void> {
    await q
      .insertInto('session_challenges')
      .values({ challenge, key_id: keyId, expires_unix: expiresUnix })
      .execute();
  },
  /** One-time: deletes the challenge and says whether it existed for this key and had not expired. */
  async consumeChallenge(q: Queryable, challenge: string, keyId: string, nowUnix: number): Promise<boolean> {
    const r = await q
      .deleteFrom('session_challenges')
      .where('challenge', '=', challenge)
      .where('key_id', '=', keyId)
      .where('expires_unix', '>=', nowUnix)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  },
  async insertSession(q: Queryable, row: SessionRow): Promise<void> {
    await q.insertInto('sessions').values(row).execute();
  },
  getSession(q: Queryable, tokenHash: string): Promise<SessionRow | undefined> {
    return q.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  },
};
