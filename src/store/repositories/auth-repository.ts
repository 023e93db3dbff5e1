/** Replay protection, idempotency records and read sessions. */
import { sql, type QueryCreator } from 'kysely';
import { preparedQuery } from '../prepared-query.ts';
import type { Queryable } from '../queryable.ts';
import type { IdempotencyTable, SessionsTable, StoreSchema } from '../schema.ts';
import { isPostgres } from './dialect-of.ts';

export type IdempotencyRow = IdempotencyTable;
export type SessionRow = SessionsTable;

// The write path's statements, compiled once (see prepared-query.ts).
type NonceArgs = { tenantId: string; keyId: string; nonce: string; createdUnix: number };
/** Inserts (key, nonce) only if the key is active in the tenant; a used nonce inserts nothing. */
function spendNonce(q: QueryCreator<StoreSchema>, p: NonceArgs) {
  return q
    .insertInto('nonces')
    .columns(['key_id', 'nonce', 'created_unix'])
    .expression(
      q
        .selectFrom('user_keys')
        .select([
          sql<string>`${p.keyId}`.as('key_id'),
          sql<string>`${p.nonce}`.as('nonce'),
          sql<number>`cast(${p.createdUnix} as bigint)`.as('created_unix'),
        ])
        .where('id', '=', p.keyId)
        .where('tenant_id', '=', p.tenantId)
        .where('status', '=', 'active'),
    )
    .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing());
}
const useNonceIfKeyActiveQuery = preparedQuery((q, p: NonceArgs) => spendNonce(q, p));
/**
 * PostgreSQL only (a data-modifying CTE; SQLite has none): the nonce spent and the idempotency record looked
 * up in one round trip. The lookup reads the snapshot the statement started with, as a separate statement
 * after the insert would (the insert touches another table).
 */
const useNonceAndGetIdempotencyQuery = preparedQuery((q, p: NonceArgs & { userId: string; key: string }) =>
  q
    .with('spent', (w) => spendNonce(w, p).returning(sql<number>`1`.as('one')))
    .selectFrom(sql<{ one: number }>`(select 1 as one)`.as('o'))
    .leftJoin('idempotency as i', (join) =>
      join.on('i.tenant_id', '=', p.tenantId).on('i.user_id', '=', p.userId).on('i.idem_key', '=', p.key),
    )
    .select((eb) => [
      eb.selectFrom('spent').select(eb.fn.countAll<number>().as('n')).as('spent'),
      'i.tenant_id',
      'i.user_id',
      'i.idem_key',
      'i.request_hash',
      'i.status_code',
      'i.response_body',
      'i.created_at',
    ]),
);
const IDEMPOTENCY_COLUMNS = [
  'tenant_id',
  'user_id',
  'idem_key',
  'request_hash',
  'status_code',
  'response_body',
  'created_at',
] as const satisfies ReadonlyArray<keyof IdempotencyRow>;
const getIdempotencyQuery = preparedQuery((q, p: { tenantId: string; userId: string; key: string }) =>
  q
    .selectFrom('idempotency')
    // Named columns, not *: a prepared statement must not change shape when a migration adds a column.
    .select(IDEMPOTENCY_COLUMNS)
    .where('tenant_id', '=', p.tenantId)
    .where('user_id', '=', p.userId)
    .where('idem_key', '=', p.key),
);
const insertIdempotencyQuery = preparedQuery((q, row: IdempotencyRow) =>
  q.insertInto('idempotency').values({
    tenant_id: row.tenant_id,
    user_id: row.user_id,
    idem_key: row.idem_key,
    request_hash: row.request_hash,
    status_code: row.status_code,
    response_body: row.response_body,
    created_at: row.created_at,
  }),
);

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
    const r = await useNonceIfKeyActiveQuery.execute(q, { tenantId, keyId, nonce, createdUnix });
    return Number(r.numAffectedRows ?? 0n) === 1;
  },
  /** Nonces older than the acceptance window can never be presented again; drop them. */
  async pruneNonces(q: Queryable, olderThanUnix: number): Promise<number> {
    const r = await q.deleteFrom('nonces').where('created_unix', '<', olderThanUnix).executeTakeFirst();
    return Number(r.numDeletedRows);
  },

  async getIdempotency(
    q: Queryable,
    tenantId: string,
    userId: string,
    key: string,
  ): Promise<IdempotencyRow | undefined> {
    const r = await getIdempotencyQuery.execute(q, { tenantId, userId, key });
    return r.rows[0];
  },
  /**
   * `useNonceIfKeyActive`, then `getIdempotency`, in one round trip on PostgreSQL (two statements on SQLite,
   * where a statement costs microseconds). `spent` is false when the nonce was used or the key is not
   * active; the record is looked up either way.
   */
  async useNonceAndGetIdempotency(
    q: Queryable,
    args: NonceArgs & { userId: string; key: string },
  ): Promise<{ spent: boolean; prior: IdempotencyRow | undefined }> {
    if (!isPostgres(q)) {
      const spent = await authRepository.useNonceIfKeyActive(
        q,
        args.tenantId,
        args.keyId,
        args.nonce,
        args.createdUnix,
      );
      return { spent, prior: await authRepository.getIdempotency(q, args.tenantId, args.userId, args.key) };
    }
    const row = (await useNonceAndGetIdempotencyQuery.execute(q, args)).rows[0];
    if (!row) throw new Error('unreachable: the folded nonce query returns one row');
    const { spent, ...prior } = row;
    return {
      spent: Number(spent) === 1,
      prior: prior.idem_key === null ? undefined : (prior as IdempotencyRow),
    };
  },
  async insertIdempotency(q: Queryable, row: IdempotencyRow): Promise<void> {
    await insertIdempotencyQuery.execute(q, row);
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
