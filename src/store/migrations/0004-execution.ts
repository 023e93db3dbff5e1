import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Exactly-once execution: leased jobs with fencing tokens, the wallet's coins with their locks, and one EVM
 * nonce sequence per (chain, address). Times compared on the claim path (`run_after`, `lease_until`) are unix
 * milliseconds; amounts are decimal strings of base units.
 */
export async function up(db: Kysely<any>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    // What makes the job unique within its kind (e.g. the request id): at most one job per request and kind.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('run_after', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    // Incremented on every claim: a write-back carrying an older value comes from a worker that lost its lease.
    .addColumn('fence', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('result', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('jobs_kind_key', ['kind', 'key'])
    .execute();
  await db.schema.createIndex('jobs_claim').on('jobs').columns(['state', 'run_after']).execute();
  await db.schema.createIndex('jobs_lease').on('jobs').columns(['state', 'lease_until']).execute();

  await db.schema
    .createTable('utxos')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('wallet_id', 'text', (c) => c.notNull())
    .addColumn('txid', 'text', (c) => c.notNull())
    .addColumn('vout', 'integer', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('script', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    // Block height of the funding transaction; null while unconfirmed.
    .addColumn('height', 'integer')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('locked_by', 'text')
    .addColumn('spent_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('utxos_pk', ['tenant_id', 'wallet_id', 'txid', 'vout'])
    .execute();
  await db.schema.createIndex('utxos_wallet_state').on('utxos').columns(['tenant_id', 'wallet_id', 'state']).execute();
  await db.schema.createIndex('utxos_locked_by').on('utxos').column('locked_by').execute();

  await db.schema
    .createTable('evm_nonces')
    .addColumn('chain_id', 'bigint', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('next_nonce', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('evm_nonces_pk', ['chain_id', 'address'])
    .execute();
  await db.schema
    .createTable('evm_nonce_assignments')
    .addColumn('chain_id', 'bigint', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('nonce', 'bigint', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('evm_nonce_assignments_pk', ['chain_id', 'address', 'nonce'])
    .execute();
}
