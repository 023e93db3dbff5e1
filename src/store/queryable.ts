import type { Kysely, Transaction } from 'kysely';
import type { StoreSchema } from './schema.ts';

/** Repositories take either the database or a transaction, so callers decide the transaction boundary. */
export type Queryable = Kysely<StoreSchema> | Transaction<StoreSchema>;

/** True for a unique/primary-key violation on either dialect. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
