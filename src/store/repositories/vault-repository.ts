/**
 * `VaultStorage` over Kysely, on SQLite and PostgreSQL. The vault keeps its cryptograms here, outside
 * itself: this code sees only ciphertext and public keys.
 *
 * The vault tables are not in the lead's `StoreSchema` (src/store/schema.ts); they are typed here and the
 * database handle is narrowed to them, so nothing else in the store depends on the vault. The store may
 * not import src/vault (CONVENTIONS.md), so the record types below mirror `VaultStorage` and
 * `SealStorage` structurally; the vault's tests check that this object satisfies both.
 */
import type { Kysely } from 'kysely';
import { CompiledQuery, sql } from 'kysely';
import type { Digest } from '../../domain/canonical.ts';
import { StrongroomError } from '../../domain/errors.ts';
import type { Database } from '../database.ts';
import { isUniqueViolation } from '../queryable.ts';

export type WalletTier = 'hot' | 'warm' | 'cold';
export interface WalletXpubs {
  bip84: string;
  bip86: string;
  bip44eth: string;
}
export interface WalletRecord {
  tenant: string;
  walletId: string;
  tier: WalletTier;
  label: string;
  keyVersion: number;
  cryptogram: Uint8Array;
  fingerprint: string;
  network: string;
  xpubs: WalletXpubs;
  createdAt: string;
}
export interface VaultKeyRecord {
  tenant: string;
  purpose: 'audit';
  keyId: string;
  keyVersion: number;
  cryptogram: Uint8Array;
  publicKey: Uint8Array;
  createdAt: string;
}
export interface RewrapJob {
  tenant: string;
  fromVersion: number;
  toVersion: number;
  state: 'running' | 'done';
  cursor: string | null;
  done: number;
  total: number;
  digestBefore: Digest;
  digestRunning: string;
  startedAt: string;
  finishedAt: string | null;
}

interface VaultWalletsTable {
  tenant_id: string;
  wallet_id: string;
  tier: string;
  label: string;
  key_version: number;
  cryptogram: Uint8Array;
  fingerprint: string;
  network: string;
  xpubs: string;
  created_at: string;
}
interface VaultKeysTable {
  tenant_id: string;
  purpose: string;
  key_id: string;
  key_version: number;
  cryptogram: Uint8Array;
  public_key: Uint8Array;
  created_at: string;
}
interface VaultRewrapJobsTable {
  tenant_id: string;
  from_version: number;
  to_version: number;
  state: string;
  cursor: string | null;
  done: number;
  total: number;
  digest_before: string;
  digest_running: string;
  started_at: string;
  finished_at: string | null;
}
interface VaultSealBlobsTable {
  tenant_id: string;
  name: string;
  bytes: Uint8Array;
}
export interface VaultSchema {
  vault_seal_blobs: VaultSealBlobsTable;
  vault_wallets: VaultWalletsTable;
  vault_keys: VaultKeysTable;
  vault_rewrap_jobs: VaultRewrapJobsTable;
}

/** Both drivers return Buffers; hand out plain Uint8Array views (no Buffer-specific toString/toJSON). */
function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** SQLite binds Buffers, not bare Uint8Arrays; pg accepts both. A view, not a copy. */
function bind(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function toWallet(r: VaultWalletsTable): WalletRecord {
  return {
    tenant: r.tenant_id,
    walletId: r.wallet_id,
    tier: r.tier as WalletTier,
    label: r.label,
    keyVersion: Number(r.key_version),
    cryptogram: bytes(r.cryptogram),
    fingerprint: r.fingerprint,
    network: r.network,
    xpubs: JSON.parse(r.xpubs) as WalletXpubs,
    createdAt: r.created_at,
  };
}

function toJob(r: VaultRewrapJobsTable): RewrapJob {
  return {
    tenant: r.tenant_id,
    fromVersion: Number(r.from_version),
    toVersion: Number(r.to_version),
    state: r.state as RewrapJob['state'],
    cursor: r.cursor,
    done: Number(r.done),
    total: Number(r.total),
    digestBefore: r.digest_before as Digest,
    digestRunning: r.digest_running,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

function jobRow(job: RewrapJob): VaultRewrapJobsTable {
  return {
    tenant_id: job.tenant,
    from_version: job.fromVersion,
    to_version: job.toVersion,
    state: job.state,
    cursor: job.cursor,
    done: job.done,
    total: job.total,
    digest_before: job.digestBefore,
    digest_running: job.digestRunning,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  };
}

/** The software seal's blobs (`SealStorage`) in the store's database, beside the cryptograms. */
export function sealBlobRepository(database: Database) {
  const db = database.db as unknown as Kysely<VaultSchema>;
  return {
    async get(tenant: string, name: string): Promise<Uint8Array | undefined> {
      const r = await db
        .selectFrom('vault_seal_blobs')
        .select('bytes')
        .where('tenant_id', '=', tenant)
        .where('name', '=', name)
        .executeTakeFirst();
      return r && Uint8Array.from(r.bytes);
    },
    async put(tenant: string, name: string, value: Uint8Array): Promise<void> {
      await db
        .insertInto('vault_seal_blobs')
        .values({ tenant_id: tenant, name, bytes: bind(value) })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ bytes: bind(value) }))
        .execute();
    },
    async delete(tenant: string, name: string): Promise<void> {
      await db
        .deleteFrom('vault_seal_blobs')
        .where('tenant_id', '=', tenant)
        .where('name', '=', name)
        .execute();
    },
  };
}

/** Rows per rewrap UPDATE statement (3 parameters each, well under both databases' limits). */
const UPDATE_CHUNK = 2000;

const rewrapUpdateTexts = new Map<string, string>();

/**
 * `UPDATE ... FROM (VALUES (walletId, fromVersion, cryptogram), ...)` for `rows` rows: parameters are the
 * new key version, then three per row, then the tenant. VALUES columns are named column1.. on both SQLite
 * and PostgreSQL; the casts give PostgreSQL their types. A row already moved (another key version) is
 * left alone.
 */
function rewrapUpdateSql(dialect: Database['dialect'], rows: number): string {
  const key = `${dialect}:${rows}`;
  let text = rewrapUpdateTexts.get(key);
  if (text === undefined) {
    const pg = dialect === 'postgres';
    let n = 1;
    const p = () => (pg ? `$${n++}` : '?');
    const version = p();
    const tuples: string[] = [];
    for (let i = 0; i < rows; i++)
      tuples.push(pg ? `(${p()}, cast(${p()} as integer), cast(${p()} as bytea))` : `(?, ?, ?)`);
    text =
      `update vault_wallets set cryptogram = v.column3, key_version = ${version} ` +
      `from (values ${tuples.join(', ')}) as v ` +
      `where vault_wallets.tenant_id = ${p()} and vault_wallets.wallet_id = v.column1 and vault_wallets.key_version = v.column2`;
    if (rewrapUpdateTexts.size >= 16)
      rewrapUpdateTexts.delete(rewrapUpdateTexts.keys().next().value as string);
    rewrapUpdateTexts.set(key, text);
  }
  return text;
}

/** Most rows in one group-commit INSERT (10 parameters each; SQLite allows 32,766 per statement). */
const INSERT_BATCH = 500;

interface PendingInsert {
  row: VaultWalletsTable;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for wallet inserts: the inserts that arrive while the previous batch commits go into ONE
 * multi-row INSERT (one transaction, one fsync under SQLite's synchronous FULL) instead of one each. Each
 * caller's promise settles only after its row's transaction committed, so a resolved insert is as durable
 * as before. `ON CONFLICT DO NOTHING ... RETURNING` tells which rows went in: a row whose id is taken (in
 * the table or earlier in the same batch) fails alone with `E_CONFLICT`, as a single insert would.
 */
function groupCommitInserts(db: Kysely<VaultSchema>) {
  let pending: PendingInsert[] = [];
  let running = false;

  const conflict = (row: VaultWalletsTable) =>
    new StrongroomError('E_CONFLICT', 'a wallet with this id already exists', {
      details: { walletId: row.wallet_id },
    });

  async function insertBatch(batch: PendingInsert[]): Promise<void> {
    const keyOf = (r: { tenant_id: string; wallet_id: string }) => `${r.tenant_id}\u0000${r.wallet_id}`;
    const unique = new Map<string, PendingInsert>();
    for (const p of batch) {
      const key = keyOf(p.row);
      if (unique.has(key)) p.reject(conflict(p.row));
      else unique.set(key, p);
    }
    let inserted: Set<string>;
    try {
      const rows = await db
        .insertInto('vault_wallets')
        .values([...unique.values()].map((p) => p.row))
        .onConflict((oc) => oc.doNothing())
        .returning(['tenant_id', 'wallet_id'])
        .execute();
      inserted = new Set(rows.map(keyOf));
    } catch (e) {
      for (const p of unique.values()) p.reject(isUniqueViolation(e) ? conflict(p.row) : e);
      return;
    }
    for (const [key, p] of unique) {
      if (inserted.has(key)) p.resolve();
      else p.reject(conflict(p.row));
    }
  }

  async function drain(): Promise<void> {
    running = true;
    try {
      // Let the inserts issued in this turn of the event loop join the first batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (pending.length > 0) {
        const batch = pending.slice(0, INSERT_BATCH);
        pending = pending.slice(batch.length);
        await insertBatch(batch);
      }
    } finally {
      running = false;
    }
  }

  return (row: VaultWalletsTable): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      pending.push({ row, resolve, reject });
      if (!running) void drain();
    });
}

/** The vault's storage in the store's database. */
export function vaultRepository(database: Database) {
  const db = database.db as unknown as Kysely<VaultSchema>;
  const insertRow = groupCommitInserts(db);
  return {
    async insertWallet(w: WalletRecord): Promise<void> {
      await insertRow({
        tenant_id: w.tenant,
        wallet_id: w.walletId,
        tier: w.tier,
        label: w.label,
        key_version: w.keyVersion,
        cryptogram: bind(w.cryptogram),
        fingerprint: w.fingerprint,
        network: w.network,
        xpubs: JSON.stringify(w.xpubs),
        created_at: w.createdAt,
      });
    },

    async getWallet(tenant: string, walletId: string): Promise<WalletRecord | undefined> {
      const r = await db
        .selectFrom('vault_wallets')
        .selectAll()
        .where('tenant_id', '=', tenant)
        .where('wallet_id', '=', walletId)
        .executeTakeFirst();
      return r && toWallet(r);
    },

    async countWallets(tenant: string): Promise<number> {
      const r = await db
        .selectFrom('vault_wallets')
        .select(sql<number>`count(*)`.as('n'))
        .where('tenant_id', '=', tenant)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },

    async listWallets(
      tenant: string,
      { after, limit }: { after: string | null; limit: number },
    ): Promise<WalletRecord[]> {
      let q = db.selectFrom('vault_wallets').selectAll().where('tenant_id', '=', tenant);
      if (after !== null) q = q.where('wallet_id', '>', after);
      const rows = await q.orderBy('wallet_id').limit(limit).execute();
      return rows.map(toWallet);
    },

    /** The columns a rewrap needs (src/vault/rewrap.ts `RewrapRowReader`), in walletId order. */
    async listRewrapRows(
      tenant: string,
      { after, limit }: { after: string | null; limit: number },
    ): Promise<Array<{ walletId: string; keyVersion: number; cryptogram: Uint8Array; fingerprint: string }>> {
      let q = db
        .selectFrom('vault_wallets')
        .select(['wallet_id', 'key_version', 'cryptogram', 'fingerprint'])
        .where('tenant_id', '=', tenant);
      if (after !== null) q = q.where('wallet_id', '>', after);
      const rows = await q.orderBy('wallet_id').limit(limit).execute();
      return rows.map((r) => ({
        walletId: r.wallet_id,
        keyVersion: Number(r.key_version),
        cryptogram: bytes(r.cryptogram),
        fingerprint: r.fingerprint,
      }));
    },

    async listFingerprints(
      tenant: string,
      { after, limit }: { after: string | null; limit: number },
    ): Promise<Array<{ walletId: string; fingerprint: string }>> {
      let q = db
        .selectFrom('vault_wallets')
        .select(['wallet_id', 'fingerprint'])
        .where('tenant_id', '=', tenant);
      if (after !== null) q = q.where('wallet_id', '>', after);
      const rows = await q.orderBy('wallet_id').limit(limit).execute();
      return rows.map((r) => ({ walletId: r.wallet_id, fingerprint: r.fingerprint }));
    },

    async putKey(k: VaultKeyRecord): Promise<void> {
      const values = {
        tenant_id: k.tenant,
        purpose: k.purpose,
        key_id: k.keyId,
        key_version: k.keyVersion,
        cryptogram: bind(k.cryptogram),
        public_key: bind(k.publicKey),
        created_at: k.createdAt,
      };
      await db
        .insertInto('vault_keys')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['tenant_id', 'purpose']).doUpdateSet({
            key_id: values.key_id,
            key_version: values.key_version,
            cryptogram: values.cryptogram,
            public_key: values.public_key,
          }),
        )
        .execute();
    },

    async getKey(tenant: string, purpose: 'audit'): Promise<VaultKeyRecord | undefined> {
      const r = await db
        .selectFrom('vault_keys')
        .selectAll()
        .where('tenant_id', '=', tenant)
        .where('purpose', '=', purpose)
        .executeTakeFirst();
      if (!r) return undefined;
      const rec: VaultKeyRecord = {
        tenant: r.tenant_id,
        purpose: r.purpose as 'audit',
        keyId: r.key_id,
        keyVersion: Number(r.key_version),
        cryptogram: bytes(r.cryptogram),
        publicKey: bytes(r.public_key),
        createdAt: r.created_at,
      };
      return rec;
    },

    async getRewrapJob(tenant: string): Promise<RewrapJob | undefined> {
      const r = await db
        .selectFrom('vault_rewrap_jobs')
        .selectAll()
        .where('tenant_id', '=', tenant)
        .executeTakeFirst();
      return r && toJob(r);
    },

    async putRewrapJob(job: RewrapJob): Promise<void> {
      const row = jobRow(job);
      const { tenant_id: _t, ...rest } = row;
      await db
        .insertInto('vault_rewrap_jobs')
        .values(row)
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet(rest))
        .execute();
    },

    async commitRewrapBatch(
      job: RewrapJob,
      updates: Array<{ walletId: string; fromVersion: number; cryptogram: Uint8Array }>,
    ): Promise<void> {
      const { tenant_id: _t, ...progress } = jobRow(job);
      await db.transaction().execute(async (trx) => {
        // One multi-row UPDATE per chunk instead of one statement per row, its SQL text built once per
        // chunk size (a million-row rewrap runs hundreds of them: building them with Kysely cost more
        // than running them).
        for (let at = 0; at < updates.length; at += UPDATE_CHUNK) {
          const chunk = updates.slice(at, at + UPDATE_CHUNK);
          const parameters: unknown[] = [job.toVersion];
          for (const u of chunk) parameters.push(u.walletId, u.fromVersion, bind(u.cryptogram));
          parameters.push(job.tenant);
          await trx.executeQuery(
            CompiledQuery.raw(rewrapUpdateSql(database.dialect, chunk.length), parameters),
          );
        }
        await trx
          .updateTable('vault_rewrap_jobs')
          .set(progress)
          .where('tenant_id', '=', job.tenant)
          .execute();
      });
    },
  };
}
