import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { migrateToLatest } from './migrations/index.ts';
import { preparedStatementName } from './prepared-query.ts';
import type { StoreSchema } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseConfig =
  { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string; poolSize?: number };

export interface Database {
  readonly dialect: Dialect;
  readonly db: Kysely<StoreSchema>;
  /**
   * Runs `commit`, which commits on the connection it is given, so that its commits are durable before this
   * resolves and before any other query can see them. On SQLite the WAL is synced off the event loop (see
   * `openSqlite`); elsewhere this simply runs `commit` on `db`. The audited writer's batches go through here.
   */
  commitDurably<T>(commit: (conn: Kysely<StoreSchema>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens the store and applies pending migrations. SQLite runs in WAL mode with synchronous FULL (a commit is
 * durable when it returns; `commitDurably` gives the audited writer the same guarantee without blocking the
 * event loop on the fsync); PostgreSQL through a `pg` pool.
 */
export async function openDatabase(
  config: DatabaseConfig,
  options: { migrate?: boolean } = {},
): Promise<Database> {
  if (config.dialect === 'postgres') {
    const db = openPostgres(config.url, config.poolSize);
    if (options.migrate !== false) await migrateToLatest(db as Kysely<any>, config.dialect);
    return { dialect: 'postgres', db, commitDurably: (commit) => commit(db), close: () => db.destroy() };
  }
  const { db, commitDurably, closeWal } = openSqlite(config.path);
  if (options.migrate !== false) await migrateToLatest(db as Kysely<any>, config.dialect);
  return {
    dialect: 'sqlite',
    db,
    commitDurably,
    async close() {
      await db.destroy();
      await closeWal();
    },
  };
}

/**
 * SQLite in WAL mode, synchronous FULL: every commit fsyncs the WAL before it returns. better-sqlite3 is
 * synchronous, so that fsync (milliseconds on some disks) would stall the event loop once per batch of the
 * audited writer, the hottest writer there is. `commitDurably` keeps the guarantee and frees the loop: it
 * holds the one connection, commits with synchronous NORMAL (the WAL is written, not yet synced), then
 * fsyncs the WAL file in libuv's thread pool and only then releases the connection and resolves. So a
 * change is acknowledged only once durable, exactly as with FULL, and no query of this process can read it
 * before (the connection is held; SQLite recovery after a crash keeps a prefix of the synced commits). If the
 * fsync fails, the state of the file is unknown: every later `commitDurably` fails too (fail closed, as
 * PostgreSQL does on an fsync error) until the process restarts.
 */
function openSqlite(path: string): {
  db: Kysely<StoreSchema>;
  commitDurably: Database['commitDurably'];
  closeWal(): Promise<void>;
} {
  const inMemory = path === ':memory:' || path === '';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  const db = new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  let wal: Promise<FileHandle> | undefined;
  let syncFailure: unknown;
  const unsynced = CompiledQuery.raw('pragma synchronous = NORMAL');
  const synced = CompiledQuery.raw('pragma synchronous = FULL');
  async function commitDurably<T>(commit: (conn: Kysely<StoreSchema>) => Promise<T>): Promise<T> {
    if (inMemory) return commit(db);
    if (syncFailure !== undefined) throw syncFailure;
    return db.connection().execute(async (conn) => {
      await conn.executeQuery(unsynced);
      let out: T;
      try {
        out = await commit(conn);
      } finally {
        await conn.executeQuery(synced);
      }
      // The WAL exists once the database has been written in WAL mode, and keeps its inode while it is open.
      try {
        wal ??= open(`${path}-wal`, 'r');
        await (await wal).sync();
      } catch (cause) {
        syncFailure ??= new Error('the SQLite WAL could not be synced; writes are refused until restart', {
          cause,
        });
        throw syncFailure;
      }
      return out;
    });
  }
  async function closeWal(): Promise<void> {
    const h = wal;
    wal = undefined;
    await (await h?.catch(() => undefined))?.close();
  }
  return { db, commitDurably, closeWal };
}

/**
 * Kysely prepares every query anew; better-sqlite3 statements can be reused, which halves the cost of the
 * small queries on the write path. Bounded so ad-hoc SQL cannot grow it without limit. A plain object with
 * the two methods Kysely calls (not a Proxy over the connection: that bound a function on every access).
 * Queries compiled once (see prepared-query.ts) pass the same string each time, whose hash V8 keeps, so
 * the lookup does not rehash the SQL text.
 */
function withStatementCache(raw: BetterSqlite3.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(text: string): BetterSqlite3.Statement {
      const st = cache.get(text);
      // A statement still being iterated (a streamed select) cannot run again until it finishes.
      if (st !== undefined && !st.busy) return st;
      const fresh = raw.prepare(text);
      if (st === undefined) {
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(text, fresh);
      }
      return fresh;
    },
    close(): void {
      raw.close();
    },
  };
}

/**
 * A `pg` client that runs the store's hot statements (those built by prepared-query.ts) as named prepared
 * statements: PostgreSQL parses and plans each once per connection instead of on every call, which takes
 * about a third off the database's CPU per audited write. Every other query is sent as before (unnamed).
 * Only statements with explicit column lists are named, so a migration that adds a column cannot invalidate
 * them. (Behind a transaction-pooling PgBouncer older than 1.21, named statements need
 * `max_prepared_statements`.)
 */
class PreparingClient extends pg.Client {
  override query(config: unknown, values?: unknown, callback?: unknown): any {
    if (typeof config === 'string' && Array.isArray(values) && callback === undefined) {
      const name = preparedStatementName(config);
      if (name !== undefined) return super.query({ name, text: config, values });
    }
    return (super.query as (...a: unknown[]) => unknown)(config, values, callback);
  }
}

function openPostgres(url: string, poolSize = 10): Kysely<StoreSchema> {
  const pool = new pg.Pool({
    Client: PreparingClient,
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
