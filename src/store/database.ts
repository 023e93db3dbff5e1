import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrateToLatest } from './migrations/index.ts';
import type { StoreSchema } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseConfig =
  { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string; poolSize?: number };

export interface Database {
  readonly dialect: Dialect;
  readonly db: Kysely<StoreSchema>;
  close(): Promise<void>;
}

/**
 * Opens the store and applies pending migrations. SQLite runs in WAL mode with synchronous FULL (a commit is
 * durable when it returns); PostgreSQL through a `pg` pool.
 */
export async function openDatabase(
  config: DatabaseConfig,
  options: { migrate?: boolean } = {},
): Promise<Database> {
  const db =
    config.dialect === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, config.poolSize);
  if (options.migrate !== false) await migrateToLatest(db as Kysely<any>, config.dialect);
  return { dialect: config.dialect, db, close: () => db.destroy() };
}

function openSqlite(path: string): Kysely<StoreSchema> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  return new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements can be reused, which halves the cost of the
 * small queries on the write path. Bounded so ad-hoc SQL cannot grow it without limit.
 */
function withStatementCache(raw: BetterSqlite3.Database, max = 500): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === 'prepare') {
        return (text: string) => {
          let st = cache.get(text);
          if (!st) {
            st = target.prepare(text);
            if (cache.size >= max) cache.delete(cache.keys().next().value as string);
            cache.set(text, st);
          }
          return st;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function openPostgres(url: string, poolSize = 10): Kysely<StoreSchema> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // int8 columns (seq, unix times) fit in a double for any realistic value; parse them as numbers.
    types: {
      getTypeParser: (oid: number, format?: any) =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format),
    } as any,
  });
  // An idle client whose connection the server closed (restart, failover, admin termination) is dropped
  // and replaced by the pool; without a listener the error would crash the process.
  pool.on('error', () => undefined);
  return new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
}
