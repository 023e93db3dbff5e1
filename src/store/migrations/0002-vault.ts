import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * The vault's untrusted storage: wallet seed cryptograms with their public keys, vault-internal key
 * cryptograms (the audit key), rewrap progress, and the software seal's blobs (its record and master keys
 * encrypted under the unseal key). Cryptograms are binary (bytea / blob); every row carries
 * the master key version it is encrypted under, so a resumed rewrap skips the rows already done.
 */
export async function up(db: Kysely<any>, ctx: MigrationContext): Promise<void> {
  const bytes = ctx.dialect === 'postgres' ? 'bytea' : 'blob';
  await db.schema
    .createTable('vault_wallets')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('wallet_id', 'text', (c) => c.notNull())
    .addColumn('tier', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('cryptogram', bytes, (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('network', 'text', (c) => c.notNull())
    .addColumn('xpubs', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_wallets_pk', ['tenant_id', 'wallet_id'])
    .execute();
  await db.schema
    .createTable('vault_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('key_version', 'integer', (c) => c.notNull())
    .addColumn('cryptogram', bytes, (c) => c.notNull())
    .addColumn('public_key', bytes, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_keys_pk', ['tenant_id', 'purpose'])
    .execute();
  await db.schema
    .createTable('vault_rewrap_jobs')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('from_version', 'integer', (c) => c.notNull())
    .addColumn('to_version', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('cursor', 'text')
    .addColumn('done', 'bigint', (c) => c.notNull())
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('digest_before', 'text', (c) => c.notNull())
    .addColumn('digest_running', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema
    .createTable('vault_seal_blobs')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('bytes', bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_seal_blobs_pk', ['tenant_id', 'name'])
    .execute();
}
