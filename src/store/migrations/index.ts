import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import * as m0001 from './0001-foundation.ts';
import * as m0002 from './0002-vault.ts';
import * as m0003 from './0003-governance.ts';
import * as m0004 from './0004-execution.ts';
import * as m0005 from './0005-withdrawals.ts';
import * as m0006 from './0006-deposits.ts';

export interface MigrationContext {
  dialect: Dialect;
}
export interface Migration {
  name: string;
  up(db: Kysely<any>, ctx: MigrationContext): Promise<void>;
}

/**
 * The one ordered set of migrations both dialects run. Append only: a released migration never changes.
 * Later parts add theirs here (e.g. 0002-vault).
 */
export const migrations: Migration[] = [
  { name: '0001-foundation', up: m0001.up },
  { name: '0002-vault', up: m0002.up },
  { name: '0003-governance', up: m0003.up },
  { name: '0004-execution', up: m0004.up },
  { name: '0005-withdrawals', up: m0005.up },
  { name: '0006-deposits', up: m0006.up },
];

/** Applies pending migrations in order, each in its own transaction, recording them in schema_migrations. */
export async function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();
  const applied: string[] = [];
  for (const m of migrations) {
    const done = await db.transaction().execute(async (trx) => {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(7350001)`.execute(trx);
      const row = await trx.selectFrom('schema_migrations').select('name').where('name', '=', m.name).executeTakeFirst();
      if (row) return false;
      await m.up(trx, { dialect });
      await trx
        .insertInto('schema_migrations')
        .values({ name: m.name, applied_at: new Date().toISOString() })
        .execute();
      return true;
    });
    if (done) applied.push(m.name);
  }
  return applied;
}
