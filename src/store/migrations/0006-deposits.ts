import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Deposits found on chain and the scanners' progress. A deposit row is one on-chain event paying one of a
 * wallet's addresses (a Bitcoin output, a native ETH transfer, an ERC-20 Transfer log): `pending` while it
 * has fewer confirmations than the chain requires, `credited` after, `reorged` when a credited event left the
 * chain (a pending one that leaves is deleted). Bitcoin change outputs of our own withdrawals are rows too
 * (`kind` 'change'), so their coins follow the same confirm/reorg path; they are never counted as deposits.
 *
 * `chain_scans` holds each chain's serialised scan state (src/chains/chain-scan.ts): remembered block hashes
 * and unsettled events, so scanning resumes after a restart and still recognises a reorg.
 */
export async function up(db: Kysely<any>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('deposits')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('wallet_id', 'text', (c) => c.notNull())
    // 'bitcoin' | 'ethereum'
    .addColumn('chain', 'text', (c) => c.notNull())
    // Asset symbol of the registry (BTC, ETH, an ERC-20 token's symbol).
    .addColumn('asset', 'text', (c) => c.notNull())
    // 'deposit' | 'change'
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('txid', 'text', (c) => c.notNull())
    // Bitcoin: the output index (vout). ERC-20: the log index in its block. Native ETH: -1.
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    // Base units, decimal string.
    .addColumn('amount', 'text', (c) => c.notNull())
    .addColumn('block_height', 'integer', (c) => c.notNull())
    .addColumn('block_hash', 'text', (c) => c.notNull())
    // Confirmations seen at the last state change.
    .addColumn('confirmations', 'integer', (c) => c.notNull())
    // pending | credited | reorged
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('detected_at', 'text', (c) => c.notNull())
    .addColumn('credited_at', 'text')
    .addColumn('reorged_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('deposits_event', ['tenant_id', 'chain', 'txid', 'position'])
    .execute();
  await db.schema.createIndex('deposits_wallet').on('deposits').columns(['tenant_id', 'wallet_id', 'state']).execute();
  await db.schema.createIndex('deposits_chain_state').on('deposits').columns(['chain', 'state']).execute();

  await db.schema
    .createTable('chain_scans')
    // 'bitcoin' | 'ethereum'
    .addColumn('chain', 'text', (c) => c.primaryKey())
    // Bitcoin network name or EVM chain id: a state is never resumed against another network.
    .addColumn('network', 'text', (c) => c.notNull())
    // JSON of the ScanState (bigints as {"$bigint":"…"}).
    .addColumn('state', 'text', (c) => c.notNull())
    // Height of the last scanned block.
    .addColumn('tip', 'integer', (c) => c.notNull())
    // Bumped on every save: a scanner that saves over a newer state loses (optimistic concurrency).
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}
