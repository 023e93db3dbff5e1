import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type DatabaseConfig, type Dialect } from '../../src/store/database.ts';

/** PostgreSQL server used by tests; each test database is created fresh and dropped afterwards. */
export const PG_ADMIN_URL =
  process.env.STRONGROOM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const DIALECTS: Dialect[] = (process.env.STRONGROOM_TEST_DIALECTS ?? 'sqlite,postgres').split(
  ',',
) as Dialect[];

export interface TestDatabase {
  config: DatabaseConfig;
  database: Database;
  /** For SQLite: the directory holding the database file (for scans of what is on disk). */
  dir?: string;
  dispose(): Promise<void>;
}

/** A fresh, migrated database of the given dialect, private to the caller. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-test-'));
    const config: DatabaseConfig = { dialect: 'sqlite', path: join(dir, 'strongroom.db') };
    const database = await openDatabase(config);
    return {
      config,
      database,
      dir,
      async dispose() {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `sr_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const config: DatabaseConfig = { dialect: 'postgres', url: url.toString(), poolSize: 5 };
  const database = await openDatabase(config);
  return {
    config,
    database,
    async dispose() {
      await database.close();
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
