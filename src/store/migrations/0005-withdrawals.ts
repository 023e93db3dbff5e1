import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Addresses of each wallet (derived outside the vault from its account xpubs) and the execution record of
 * each approved withdrawal: the unsigned payload stored before signing, what tracks it on chain (spent
 * outpoints for Bitcoin, sender and nonce for EVM chains, never the txid alone) and the signed bytes, so a
 * re-broadcast sends the same transaction.
 */
export async function up(db: Kysely<any>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('wallet_addresses')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('wallet_id', 'text', (c) => c.notNull())
    // 'bitcoin' | 'ethereum'
    .addColumn('chain', 'text', (c) => c.notNull())
    // 'p2wpkh' | 'p2tr' | 'evm'
    .addColumn('kind', 'text', (c) => c.notNull())
    // 0 receive, 1 change (internal)
    .addColumn('change', 'integer', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    // Absolute derivation path from the wallet's master, e.g. m/84'/1'/0'/1/3.
    .addColumn('path', 'text', (c) => c.notNull())
    // Compressed public key, hex.
    .addColumn('public_key', 'text', (c) => c.notNull())
    // scriptPubKey hex (Bitcoin) or '' (EVM).
    .addColumn('script', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('wallet_addresses_pk', ['tenant_id', 'chain', 'address'])
    .addUniqueConstraint('wallet_addresses_slot', ['tenant_id', 'wallet_id', 'kind', 'change', 'idx'])
    .execute();

  await db.schema
    .createTable('executions')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('wallet_id', 'text', (c) => c.notNull())
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('asset', 'text', (c) => c.notNull())
    .addColumn('amount', 'text', (c) => c.notNull())
    .addColumn('destination', 'text', (c) => c.notNull())
    // signing | signed | broadcast | confirmed | failed (mirrors the request's status from signing on)
    .addColumn('state', 'text', (c) => c.notNull())
    // PSBT (base64) or 0x02-prefixed unsigned EIP-1559 serialisation.
    .addColumn('unsigned_payload', 'text', (c) => c.notNull())
    // Highest fee the builder allowed (native base units) and the fee the payload pays (Bitcoin) or paid (EVM receipt).
    .addColumn('fee_cap', 'text', (c) => c.notNull())
    .addColumn('fee', 'text')
    // JSON: {"outpoints":["txid:vout",…]} or {"sender":"0x…","nonce":n,"chainId":"…"}
    .addColumn('tracking', 'text', (c) => c.notNull())
    .addColumn('signed_tx', 'text')
    .addColumn('txid', 'text')
    .addColumn('block_height', 'integer')
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('executions_state').on('executions').columns(['tenant_id', 'state']).execute();
  await db.schema.createIndex('executions_wallet').on('executions').columns(['tenant_id', 'wallet_id', 'asset']).execute();
}
