/**
 * A wallet's Bitcoin coins and their locks. A withdrawal locks the coins its transaction spends, all or
 * nothing, under its request id; a coin locked by one request is never selected by another, whatever runs
 * concurrently. A lock lasts until the request releases it (it will not be sent) or the coin is seen spent.
 *
 * Values are bigint base units (satoshis), stored as decimal text.
 */
import type { Kysely } from 'kysely';
import { StrongroomError } from '../../domain/errors.ts';
import type { Queryable } from '../queryable.ts';
import { inTransaction, isPostgres } from './dialect-of.ts';

export type UtxoState = 'available' | 'locked' | 'spent';

export interface UtxosTable {
  tenant_id: string;
  wallet_id: string;
  txid: string;
  vout: number;
  value: string;
  script: string;
  address: string;
  height: number | null;
  state: UtxoState;
  locked_by: string | null;
  spent_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface WalletRef {
  tenantId: string;
  walletId: string;
}
export interface Outpoint {
  txid: string;
  vout: number;
}
export interface NewCoin extends Outpoint {
  value: bigint;
  /** scriptPubKey, hex. */
  script: string;
  address: string;
  /** Height of the block holding the funding transaction; null while unconfirmed. */
  height: number | null;
}
export interface Coin extends NewCoin {
  state: UtxoState;
  /** Request holding (or that held, once spent) the lock. */
  lockedBy: string | null;
  /** Txid of the transaction seen spending it. */
  spentBy: string | null;
}

type UtxoSchema = { utxos: UtxosTable };
// This module's own table; the shared StoreSchema does not list it.
const u = (q: Queryable) => q as unknown as Kysely<UtxoSchema>;

const TXID_RE = /^[0-9a-f]{64}$/;

function toCoin(r: UtxosTable): Coin {
  return {
    txid: r.txid,
    vout: Number(r.vout),
    value: BigInt(r.value),
    script: r.script,
    address: r.address,
    height: r.height === null ? null : Number(r.height),
    state: r.state,
    lockedBy: r.locked_by,
    spentBy: r.spent_by,
  };
}

function checkOutpoints(outpoints: Outpoint[]): void {
  if (outpoints.length === 0) throw new StrongroomError('E_VALIDATION', 'no outpoints given', { details: { parameter: 'outpoints' } });
  const seen = new Set<string>();
  for (const o of outpoints) {
    if (!TXID_RE.test(o.txid) || !Number.isInteger(o.vout) || o.vout < 0 || o.vout > 0xffffffff) {
      throw new StrongroomError('E_VALIDATION', 'invalid outpoint (txid: 64 lower-case hex, vout: uint32)', { details: { parameter: 'outpoints' } });
    }
    const k = `${o.txid}:${o.vout}`;
    if (seen.has(k)) throw new StrongroomError('E_VALIDATION', `outpoint ${k} given twice`, { details: { parameter: 'outpoints' } });
    seen.add(k);
  }
}

/** Rows of the wallet among the outpoints. */
function ofWallet(q: Queryable, wallet: WalletRef, outpoints: Outpoint[]) {
  return u(q)
    .selectFrom('utxos')
    .where('tenant_id', '=', wallet.tenantId)
    .where('wallet_id', '=', wallet.walletId)
    .where((eb) => eb.or(outpoints.map((o) => eb.and([eb('txid', '=', o.txid), eb('vout', '=', o.vout)]))));
}

export const utxoRepository = {
  /**
   * Records coins seen on chain for the wallet; a coin already known only has its height updated (it was
   * confirmed, or moved by a reorg). Returns how many were new.
   */
  async upsertCoins(q: Queryable, wallet: WalletRef, coins: NewCoin[], at: string): Promise<number> {
    let added = 0;
    for (const c of coins) {
      checkOutpoints([c]);
      if (typeof c.value !== 'bigint' || c.value < 0n) {
        throw new StrongroomError('E_AMOUNT_INVALID', 'coin value must be a non-negative bigint', { details: { parameter: 'value' } });
      }
      const r = await u(q)
        .insertInto('utxos')
        .values({
          tenant_id: wallet.tenantId, wallet_id: wallet.walletId, txid: c.txid, vout: c.vout, value: c.value.toString(),
          script: c.script, address: c.address, height: c.height, state: 'available', locked_by: null, spent_by: null,
          created_at: at, updated_at: at,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'wallet_id', 'txid', 'vout']).doNothing())
        .executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 1) added++;
      else {
        await u(q).updateTable('utxos').set({ height: c.height, updated_at: at })
          .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
          .where('txid', '=', c.txid).where('vout', '=', c.vout).execute();
      }
    }
    return added;
  },

  /** The wallet's unlocked, unspent coins (confirmed or not: the caller applies its confirmation rule). */
  async available(q: Queryable, wallet: WalletRef): Promise<Coin[]> {
    const rows = await u(q).selectFrom('utxos').selectAll()
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId).where('state', '=', 'available')
      .orderBy('txid').orderBy('vout').execute();
    return rows.map(toCoin);
  },

  /** Coins locked (or spent) under the request: the inputs its transaction, and any replacement, spends. */
  /** True when some coin of the wallet is locked by a withdrawal in flight (its change will come back). */
  async hasLocked(q: Queryable, wallet: WalletRef): Promise<boolean> {
    const r = await u(q).selectFrom('utxos').select('txid').where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where('state', '=', 'locked').limit(1).executeTakeFirst();
    return r !== undefined;
  },

  async lockedBy(q: Queryable, requestId: string): Promise<Coin[]> {
    const rows = await u(q).selectFrom('utxos').selectAll().where('locked_by', '=', requestId).orderBy('txid').orderBy('vout').execute();
    return rows.map(toCoin);
  },

  /**
   * Locks all the outpoints of the wallet for the request, or none: if any is unknown, spent or locked by
   * another request, `E_UTXO_UNAVAILABLE` (details.unavailable lists them) and nothing changes. Coins the
   * request already holds count as locked, so a retried call succeeds.
   */
  async lockCoins(q: Queryable, wallet: WalletRef, requestId: string, outpoints: Outpoint[], at: string): Promise<Coin[]> {
    checkOutpoints(outpoints);
    if (!requestId) throw new StrongroomError('E_VALIDATION', 'requestId is required', { details: { parameter: 'requestId' } });
    return inTransaction(q, async (trx) => {
      if (isPostgres(trx)) {
        // Lock the rows in one order, so two requests wanting overlapping coins wait instead of deadlocking.
        await ofWallet(trx, wallet, outpoints).select(['txid', 'vout']).orderBy('txid').orderBy('vout').forUpdate().execute();
      }
      // On SQLite this write comes first, making the transaction the one writer before it reads anything.
      await u(trx).updateTable('utxos').set({ state: 'locked', locked_by: requestId, updated_at: at })
        .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId).where('state', '=', 'available')
        .where((eb) => eb.or(outpoints.map((o) => eb.and([eb('txid', '=', o.txid), eb('vout', '=', o.vout)]))))
        .execute();
      const rows = await ofWallet(trx, wallet, outpoints).selectAll().execute();
      const held = new Set(rows.filter((r) => r.state === 'locked' && r.locked_by === requestId).map((r) => `${r.txid}:${Number(r.vout)}`));
      const unavailable = outpoints.filter((o) => !held.has(`${o.txid}:${o.vout}`));
      if (unavailable.length > 0) {
        throw new StrongroomError('E_UTXO_UNAVAILABLE', 'some coins are unknown, spent or locked by another request', {
          details: { unavailable: unavailable.map((o) => `${o.txid}:${o.vout}`) },
          hints: ['select coins again from the available ones'],
        });
      }
      return rows.map(toCoin).sort((a, b) => (a.txid < b.txid ? -1 : a.txid > b.txid ? 1 : a.vout - b.vout));
    });
  },

  /** Unlocks the request's unspent coins (it will not be sent). Returns how many were released. */
  async release(q: Queryable, requestId: string, at: string): Promise<number> {
    const r = await u(q).updateTable('utxos').set({ state: 'available', locked_by: null, updated_at: at })
      .where('locked_by', '=', requestId).where('state', '=', 'locked').executeTakeFirst();
    return Number(r.numUpdatedRows);
  },

  /**
   * Marks the wallet's outpoints spent by `spendingTxid`, whatever their state: our transaction, its
   * replacement, or a conflicting one. The last txid seen wins (a replacement supersedes). Returns how many
   * rows changed; outpoints the wallet does not hold are ignored.
   */
  async markSpent(q: Queryable, wallet: WalletRef, outpoints: Outpoint[], spendingTxid: string, at: string): Promise<number> {
    checkOutpoints(outpoints);
    if (!TXID_RE.test(spendingTxid)) throw new StrongroomError('E_VALIDATION', 'invalid spending txid', { details: { parameter: 'spendingTxid' } });
    const r = await u(q).updateTable('utxos').set({ state: 'spent', spent_by: spendingTxid, updated_at: at })
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where((eb) => eb.or(outpoints.map((o) => eb.and([eb('txid', '=', o.txid), eb('vout', '=', o.vout)]))))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },

  /**
   * Reorg: coins whose spend by `spendingTxid` left the chain go back to locked (if a request holds them,
   * so it can re-broadcast the same bytes) or available. Returns how many changed.
   */
  async unmarkSpent(q: Queryable, wallet: WalletRef, spendingTxid: string, at: string): Promise<number> {
    const r = await u(q).updateTable('utxos')
      .set((eb) => ({
        state: eb.case().when('locked_by', 'is', null).then('available').else('locked').end().$castTo<UtxoState>(),
        spent_by: null,
        updated_at: at,
      }))
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where('state', '=', 'spent').where('spent_by', '=', spendingTxid)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },
};
