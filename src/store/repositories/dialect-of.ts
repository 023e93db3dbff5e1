import { PostgresAdapter, type Transaction } from 'kysely';
import type { Queryable } from '../queryable.ts';
import type { StoreSchema } from '../schema.ts';

/**
 * True when `q` talks to PostgreSQL. Row locks (`FOR UPDATE`, `SKIP LOCKED`) exist only there; SQLite has one
 * writer, so the same statements without them are already serialised.
 */
export function isPostgres(q: Queryable): boolean {
  return q.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Runs `fn` in the caller's transaction when `q` is one, else in a new one: a repository call that must be
 * atomic stays atomic either way, and joins the caller's business writes when asked to.
 */
export function inTransaction<T>(q: Queryable, fn: (trx: Transaction<StoreSchema>) => Promise<T>): Promise<T> {
  return q.isTransaction ? fn(q as Transaction<StoreSchema>) : q.transaction().execute(fn);
}
