/**
 * The addresses of each wallet, derived outside the vault from its account xpubs (public data only). One row
 * per (wallet, kind, change, index); an address belongs to at most one wallet of a tenant.
 */
import type { Kysely } from 'kysely';
import type { Queryable } from '../queryable.ts';

export type AddressKind = 'p2wpkh' | 'p2tr' | 'evm';

export interface WalletAddressesTable {
  tenant_id: string;
  wallet_id: string;
  chain: 'bitcoin' | 'ethereum';
  kind: AddressKind;
  change: number;
  idx: number;
  address: string;
  path: string;
  public_key: string;
  script: string;
  created_at: string;
}

export interface WalletAddress {
  tenantId: string;
  walletId: string;
  chain: 'bitcoin' | 'ethereum';
  kind: AddressKind;
  change: 0 | 1;
  index: number;
  address: string;
  /** Absolute path from the wallet's master, e.g. m/84'/1'/0'/0/3. */
  path: string;
  /** Compressed public key, hex. */
  publicKey: string;
  /** scriptPubKey hex (Bitcoin); '' for EVM. */
  script: string;
  createdAt: string;
}

type Schema = { wallet_addresses: WalletAddressesTable };
const w = (q: Queryable) => q as unknown as Kysely<Schema>;

function toAddress(r: WalletAddressesTable): WalletAddress {
  return {
    tenantId: r.tenant_id, walletId: r.wallet_id, chain: r.chain, kind: r.kind, change: Number(r.change) as 0 | 1, index: Number(r.idx),
    address: r.address, path: r.path, publicKey: r.public_key, script: r.script, createdAt: r.created_at,
  };
}

export const walletAddressesRepository = {
  /** Inserts unless the slot exists; returns the stored row either way. */
  async ensure(q: Queryable, a: WalletAddress): Promise<WalletAddress> {
    await w(q)
      .insertInto('wallet_addresses')
      .values({
        tenant_id: a.tenantId, wallet_id: a.walletId, chain: a.chain, kind: a.kind, change: a.change, idx: a.index, address: a.address,
        path: a.path, public_key: a.publicKey, script: a.script, created_at: a.createdAt,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'wallet_id', 'kind', 'change', 'idx']).doNothing())
      .execute();
    const row = await w(q)
      .selectFrom('wallet_addresses').selectAll()
      .where('tenant_id', '=', a.tenantId).where('wallet_id', '=', a.walletId).where('kind', '=', a.kind)
      .where('change', '=', a.change).where('idx', '=', a.index)
      .executeTakeFirstOrThrow();
    return toAddress(row);
  },

  async get(q: Queryable, tenantId: string, chain: string, address: string): Promise<WalletAddress | undefined> {
    const row = await w(q)
      .selectFrom('wallet_addresses').selectAll()
      .where('tenant_id', '=', tenantId).where('chain', '=', chain as 'bitcoin').where('address', '=', address)
      .executeTakeFirst();
    return row && toAddress(row);
  },

  async list(q: Queryable, tenantId: string, opts: { walletId?: string; chain?: string } = {}): Promise<WalletAddress[]> {
    let s = w(q).selectFrom('wallet_addresses').selectAll().where('tenant_id', '=', tenantId);
    if (opts.walletId) s = s.where('wallet_id', '=', opts.walletId);
    if (opts.chain) s = s.where('chain', '=', opts.chain as 'bitcoin');
    const rows = await s.orderBy('wallet_id').orderBy('kind').orderBy('change').orderBy('idx').execute();
    return rows.map(toAddress);
  },

  /** Every tenant's addresses on one chain (the scanner's watch list). */
  async allOnChain(q: Queryable, chain: string): Promise<WalletAddress[]> {
    const rows = await w(q).selectFrom('wallet_addresses').selectAll().where('chain', '=', chain as 'bitcoin').execute();
    return rows.map(toAddress);
  },

  /** The next unused index of (wallet, kind, change). */
  async nextIndex(q: Queryable, tenantId: string, walletId: string, kind: AddressKind, change: 0 | 1): Promise<number> {
    const r = await w(q)
      .selectFrom('wallet_addresses')
      .select((eb) => eb.fn.max('idx').as('m'))
      .where('tenant_id', '=', tenantId).where('wallet_id', '=', walletId).where('kind', '=', kind).where('change', '=', change)
      .executeTakeFirst();
    return r?.m === null || r?.m === undefined ? 0 : Number(r.m) + 1;
  },
};
