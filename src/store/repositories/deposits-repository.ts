/**
 * Deposits found by the chain scanners, the scanners' saved state, and the reads balances need over the
 * coin and execution tables. Amounts are bigint base units, stored as decimal text.
 *
 * State changes are guarded by the state they expect (`where state = 'pending'` …) and report whether they
 * changed a row, so a repeated or concurrent scan changes nothing twice.
 */
import type { Kysely } from 'kysely';
import type { Queryable } from '../queryable.ts';
import type { UtxosTable, UtxoState, WalletRef, Outpoint } from './utxo-repository.ts';

export type DepositState = 'pending' | 'credited' | 'reorged';
/** 'change': an output of our own withdrawal paying the same wallet; never counted as a deposit. */
export type DepositKind = 'deposit' | 'change';
export type ScannedChain = 'bitcoin' | 'ethereum';

export interface DepositsTable {
  id: string;
  tenant_id: string;
  wallet_id: string;
  chain: ScannedChain;
  asset: string;
  kind: DepositKind;
  txid: string;
  position: number;
  address: string;
  amount: string;
  block_height: number;
  block_hash: string;
  confirmations: number;
  state: DepositState;
  detected_at: string;
  credited_at: string | null;
  reorged_at: string | null;
  updated_at: string;
}

export interface ChainScansTable {
  chain: ScannedChain;
  network: string;
  state: string;
  tip: number;
  version: number;
  updated_at: string;
}

/** The columns of `executions` (0005) that balances read. */
interface ExecutionsTable {
  request_id: string;
  txid: string | null;
  tenant_id: string;
  wallet_id: string;
  chain: string;
  asset: string;
  amount: string;
  state: string;
  fee_cap: string;
  fee: string | null;
}

export interface Deposit {
  id: string;
  tenantId: string;
  walletId: string;
  chain: ScannedChain;
  asset: string;
  kind: DepositKind;
  txid: string;
  /** vout (Bitcoin), log index (ERC-20), -1 (native ETH). */
  position: number;
  address: string;
  amount: bigint;
  blockHeight: number;
  blockHash: string;
  confirmations: number;
  state: DepositState;
  detectedAt: string;
  creditedAt: string | null;
  reorgedAt: string | null;
  updatedAt: string;
}

/** Where a deposit sits on chain (changes when a reorg moves it to another block). */
export interface DepositPlacement {
  blockHeight: number;
  blockHash: string;
  confirmations: number;
}

export interface SavedScan {
  chain: ScannedChain;
  network: string;
  /** Serialised scan state (see the deposits service). */
  state: string;
  tip: number;
  version: number;
  updatedAt: string;
}

export interface ExecutionAmounts {
  asset: string;
  state: string;
  amount: bigint;
  feeCap: bigint;
  fee: bigint | null;
}

type Schema = {
  deposits: DepositsTable;
  chain_scans: ChainScansTable;
  utxos: UtxosTable;
  executions: ExecutionsTable;
  wallet_addresses: { chain: string };
};
// This module's own tables (and read-only views of utxos and executions); the shared StoreSchema does not list them.
const d = (q: Queryable) => q as unknown as Kysely<Schema>;

function toDeposit(r: DepositsTable): Deposit {
  return {
    id: r.id, tenantId: r.tenant_id, walletId: r.wallet_id, chain: r.chain, asset: r.asset, kind: r.kind, txid: r.txid,
    position: Number(r.position), address: r.address, amount: BigInt(r.amount), blockHeight: Number(r.block_height),
    blockHash: r.block_hash, confirmations: Number(r.confirmations), state: r.state, detectedAt: r.detected_at,
    creditedAt: r.credited_at, reorgedAt: r.reorged_at, updatedAt: r.updated_at,
  };
}

export const depositsRepository = {
  /** Inserts a newly found deposit; false (and nothing changes) if its event is already recorded. */
  async insert(q: Queryable, x: Deposit): Promise<boolean> {
    const r = await d(q)
      .insertInto('deposits')
      .values({
        id: x.id, tenant_id: x.tenantId, wallet_id: x.walletId, chain: x.chain, asset: x.asset, kind: x.kind, txid: x.txid,
        position: x.position, address: x.address, amount: x.amount.toString(), block_height: x.blockHeight,
        block_hash: x.blockHash, confirmations: x.confirmations, state: x.state, detected_at: x.detectedAt,
        credited_at: x.creditedAt, reorged_at: x.reorgedAt, updated_at: x.updatedAt,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'chain', 'txid', 'position']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },

  async get(q: Queryable, tenantId: string, id: string): Promise<Deposit | undefined> {
    const r = await d(q).selectFrom('deposits').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r && toDeposit(r);
  },

  /** The tenant's row for one on-chain event. */
  async byEvent(q: Queryable, tenantId: string, chain: ScannedChain, txid: string, position: number): Promise<Deposit | undefined> {
    const r = await d(q).selectFrom('deposits').selectAll()
      .where('tenant_id', '=', tenantId).where('chain', '=', chain).where('txid', '=', txid).where('position', '=', position)
      .executeTakeFirst();
    return r && toDeposit(r);
  },

  /** Every tenant's rows for an event in one block (what a reorg removed). */
  async inBlock(q: Queryable, chain: ScannedChain, txid: string, position: number, blockHash: string): Promise<Deposit[]> {
    const rows = await d(q).selectFrom('deposits').selectAll()
      .where('chain', '=', chain).where('txid', '=', txid).where('position', '=', position).where('block_hash', '=', blockHash)
      .execute();
    return rows.map(toDeposit);
  },

  /** Rows waiting for confirmations on a chain, all tenants. */
  async pendingOnChain(q: Queryable, chain: ScannedChain): Promise<Deposit[]> {
    const rows = await d(q).selectFrom('deposits').selectAll().where('chain', '=', chain).where('state', '=', 'pending')
      .orderBy('block_height').orderBy('id').execute();
    return rows.map(toDeposit);
  },

  /** A wallet's deposits (or one tenant's), newest first; change outputs only when asked. */
  async list(
    q: Queryable,
    tenantId: string,
    opts: { walletId?: string; state?: DepositState; includeChange?: boolean; limit?: number; before?: string } = {},
  ): Promise<Deposit[]> {
    let s = d(q).selectFrom('deposits').selectAll().where('tenant_id', '=', tenantId);
    if (opts.walletId !== undefined) s = s.where('wallet_id', '=', opts.walletId);
    if (opts.state !== undefined) s = s.where('state', '=', opts.state);
    if (!opts.includeChange) s = s.where('kind', '=', 'deposit');
    if (opts.before !== undefined) s = s.where('id', '<', opts.before);
    const rows = await s.orderBy('id', 'desc').limit(opts.limit ?? 100).execute();
    return rows.map(toDeposit);
  },

  /** Amount and state of each of a wallet's rows, for balances (summed as bigints by the caller). */
  async amountsOfWallet(q: Queryable, tenantId: string, walletId: string): Promise<Array<Pick<Deposit, 'asset' | 'kind' | 'state' | 'amount'>>> {
    const rows = await d(q).selectFrom('deposits').select(['asset', 'kind', 'state', 'amount'])
      .where('tenant_id', '=', tenantId).where('wallet_id', '=', walletId).where('state', 'in', ['pending', 'credited'])
      .execute();
    return rows.map((r) => ({ asset: r.asset, kind: r.kind, state: r.state, amount: BigInt(r.amount) }));
  },

  /** pending → credited. False when the row is not pending (already credited, or gone). */
  async markCredited(q: Queryable, id: string, p: DepositPlacement, at: string): Promise<boolean> {
    const r = await d(q).updateTable('deposits')
      .set({ state: 'credited', block_height: p.blockHeight, block_hash: p.blockHash, confirmations: p.confirmations, credited_at: at, updated_at: at })
      .where('id', '=', id).where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** credited → reorged (its block left the chain). False when the row is not credited in `blockHash`. */
  async markReorged(q: Queryable, id: string, blockHash: string, at: string): Promise<boolean> {
    const r = await d(q).updateTable('deposits')
      .set({ state: 'reorged', reorged_at: at, updated_at: at })
      .where('id', '=', id).where('state', '=', 'credited').where('block_hash', '=', blockHash)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Drops a pending row whose block left the chain. False when it is not pending in `blockHash`. */
  async deletePending(q: Queryable, id: string, blockHash: string): Promise<boolean> {
    const r = await d(q).deleteFrom('deposits')
      .where('id', '=', id).where('state', '=', 'pending').where('block_hash', '=', blockHash)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  },

  /**
   * The event was found again in another block: a reorged row comes back (pending or credited), a live row
   * follows its event to the new block. Guarded by the row's current state and block.
   */
  async relocate(
    q: Queryable,
    id: string,
    from: { state: DepositState; blockHash: string },
    to: DepositPlacement & { state: DepositState },
    at: string,
  ): Promise<boolean> {
    const r = await d(q).updateTable('deposits')
      .set({
        state: to.state, block_height: to.blockHeight, block_hash: to.blockHash, confirmations: to.confirmations, updated_at: at,
        ...(to.state === 'credited' && from.state !== 'credited' ? { credited_at: at } : {}),
      })
      .where('id', '=', id).where('state', '=', from.state).where('block_hash', '=', from.blockHash)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
};

export const chainScanRepository = {
  /** How many addresses the chain's scanner watches (they are only ever added): a change means "reload". */
  async watchedAddresses(q: Queryable, chain: ScannedChain): Promise<number> {
    const r = await d(q).selectFrom('wallet_addresses').select((eb) => eb.fn.countAll().as('n')).where('chain', '=', chain).executeTakeFirst();
    return Number(r?.n ?? 0);
  },

  async get(q: Queryable, chain: ScannedChain): Promise<SavedScan | undefined> {
    const r = await d(q).selectFrom('chain_scans').selectAll().where('chain', '=', chain).executeTakeFirst();
    return r && { chain: r.chain, network: r.network, state: r.state, tip: Number(r.tip), version: Number(r.version), updatedAt: r.updated_at };
  },

  /**
   * Saves a scan state over `expectedVersion` (0: none saved yet). False when another scanner saved in
   * between: its state wins and this one is discarded.
   */
  async save(
    q: Queryable,
    s: { chain: ScannedChain; network: string; state: string; tip: number },
    expectedVersion: number,
    at: string,
  ): Promise<boolean> {
    if (expectedVersion === 0) {
      const r = await d(q).insertInto('chain_scans')
        .values({ chain: s.chain, network: s.network, state: s.state, tip: s.tip, version: 1, updated_at: at })
        .onConflict((oc) => oc.column('chain').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    }
    const r = await d(q).updateTable('chain_scans')
      .set({ network: s.network, state: s.state, tip: s.tip, version: expectedVersion + 1, updated_at: at })
      .where('chain', '=', s.chain).where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
};

/** Reads and the reorg write the scanners need over the `utxos` table (0004), beside utxoRepository. */
export const depositCoinsRepository = {
  /**
   * Every tenant's coins whose spends the Bitcoin scanner watches: those not spent, and those marked spent
   * since `spentSince` (a withdrawal's tracker may mark its inputs spent before the scanner reads the block).
   */
  async watched(q: Queryable, spentSince: string): Promise<Array<WalletRef & Outpoint>> {
    const rows = await d(q).selectFrom('utxos').select(['tenant_id', 'wallet_id', 'txid', 'vout'])
      .where((eb) => eb.or([eb('state', 'in', ['available', 'locked']), eb.and([eb('state', '=', 'spent'), eb('updated_at', '>=', spentSince)])]))
      .execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, walletId: r.wallet_id, txid: r.txid, vout: Number(r.vout) }));
  },

  /** Owners of the outpoints among every tenant's coins (any state). */
  async owners(q: Queryable, outpoints: Outpoint[]): Promise<Array<WalletRef & Outpoint>> {
    const out: Array<WalletRef & Outpoint> = [];
    // Bounded OR lists: large blocks spend many of our coins at once.
    for (let i = 0; i < outpoints.length; i += 200) {
      const chunk = outpoints.slice(i, i + 200);
      const rows = await d(q).selectFrom('utxos').select(['tenant_id', 'wallet_id', 'txid', 'vout'])
        .where((eb) => eb.or(chunk.map((o) => eb.and([eb('txid', '=', o.txid), eb('vout', '=', o.vout)]))))
        .execute();
      out.push(...rows.map((r) => ({ tenantId: r.tenant_id, walletId: r.wallet_id, txid: r.txid, vout: Number(r.vout) })));
    }
    return out;
  },

  /** The wallet's coins among `outpoints` that are not already marked spent by `spendingTxid`. */
  async notSpentBy(q: Queryable, wallet: WalletRef, outpoints: Outpoint[], spendingTxid: string): Promise<Outpoint[]> {
    if (outpoints.length === 0) return [];
    const rows = await d(q).selectFrom('utxos').select(['txid', 'vout', 'state', 'spent_by'])
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where((eb) => eb.or(outpoints.map((o) => eb.and([eb('txid', '=', o.txid), eb('vout', '=', o.vout)]))))
      .execute();
    return rows.filter((r) => !(r.state === 'spent' && r.spent_by === spendingTxid)).map((r) => ({ txid: r.txid, vout: Number(r.vout) }));
  },

  /** A wallet's coins (every state), for balances. */
  async ofWallet(q: Queryable, wallet: WalletRef): Promise<Array<{ value: bigint; state: UtxoState; height: number | null }>> {
    const rows = await d(q).selectFrom('utxos').select(['value', 'state', 'height'])
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId).execute();
    return rows.map((r) => ({ value: BigInt(r.value), state: r.state, height: r.height === null ? null : Number(r.height) }));
  },

  /**
   * The block holding the coin's funding transaction left the chain. An available coin is removed; a coin a
   * withdrawal holds (locked, or spent by it) stays for that withdrawal to settle, marked unconfirmed.
   * Returns 'removed', 'unconfirmed' or 'absent'.
   */
  async forget(q: Queryable, wallet: WalletRef, o: Outpoint, at: string): Promise<'removed' | 'unconfirmed' | 'absent'> {
    const del = await d(q).deleteFrom('utxos')
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where('txid', '=', o.txid).where('vout', '=', o.vout).where('state', '=', 'available')
      .executeTakeFirst();
    if (Number(del.numDeletedRows) === 1) return 'removed';
    const upd = await d(q).updateTable('utxos').set({ height: null, updated_at: at })
      .where('tenant_id', '=', wallet.tenantId).where('wallet_id', '=', wallet.walletId)
      .where('txid', '=', o.txid).where('vout', '=', o.vout)
      .executeTakeFirst();
    return Number(upd.numUpdatedRows) === 1 ? 'unconfirmed' : 'absent';
  },
};

/** Withdrawal amounts of a wallet on one chain (the `executions` table, 0005), for account-model balances. */
export const executionAmountsRepository = {
  async ofWallet(q: Queryable, tenantId: string, walletId: string, chain: string): Promise<ExecutionAmounts[]> {
    const rows = await d(q).selectFrom('executions').select(['asset', 'state', 'amount', 'fee_cap', 'fee'])
      .where('tenant_id', '=', tenantId).where('wallet_id', '=', walletId).where('chain', '=', chain)
      .execute();
    return rows.map((r) => ({
      asset: r.asset, state: r.state, amount: BigInt(r.amount), feeCap: BigInt(r.fee_cap), fee: r.fee === null ? null : BigInt(r.fee),
    }));
  },

  /** Which of `txids` are our own withdrawals on `chain`, and from which wallet. */
  async withdrawalTxids(q: Queryable, chain: string, txids: string[]): Promise<Array<WalletRef & { txid: string }>> {
    const out: Array<WalletRef & { txid: string }> = [];
    for (let i = 0; i < txids.length; i += 500) {
      const rows = await d(q).selectFrom('executions').select(['tenant_id', 'wallet_id', 'txid'])
        .where('chain', '=', chain).where('txid', 'in', txids.slice(i, i + 500)).execute();
      out.push(...rows.map((r) => ({ tenantId: r.tenant_id, walletId: r.wallet_id, txid: r.txid! })));
    }
    return out;
  },
};
