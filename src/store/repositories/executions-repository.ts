/**
 * Withdrawal executions (migration 0005): one row per approved request from the moment its unsigned payload
 * is built. Request status changes from `approved` on are conditional (`transition`): a writer that finds the
 * request in another state changes nothing, so two workers can never both move it.
 */
import type { Kysely } from 'kysely';
import type { Queryable } from '../queryable.ts';

export type ExecutionState = 'signing' | 'signed' | 'broadcast' | 'confirmed' | 'failed';

export interface ExecutionsTable {
  request_id: string;
  tenant_id: string;
  wallet_id: string;
  chain: 'bitcoin' | 'ethereum';
  asset: string;
  amount: string;
  destination: string;
  state: ExecutionState;
  unsigned_payload: string;
  fee_cap: string;
  fee: string | null;
  tracking: string;
  signed_tx: string | null;
  txid: string | null;
  block_height: number | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** A transaction this withdrawal broadcast earlier and replaced by a fee bump (it may still be the one that confirms). */
export interface ReplacedTx {
  txid: string;
  signedTx: string;
  fee: string;
}
export type BitcoinTracking = { outpoints: string[]; replaced?: ReplacedTx[] };
export type EvmTracking = { sender: string; nonce: number; chainId: string; replaced?: ReplacedTx[] };

export interface Execution {
  requestId: string;
  tenantId: string;
  walletId: string;
  chain: 'bitcoin' | 'ethereum';
  asset: string;
  amount: string;
  destination: string;
  state: ExecutionState;
  unsignedPayload: string;
  feeCap: string;
  fee: string | null;
  tracking: BitcoinTracking | EvmTracking;
  signedTx: string | null;
  txid: string | null;
  blockHeight: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

type Schema = { executions: ExecutionsTable; requests: { id: string; tenant_id: string; status: string } };
const x = (q: Queryable) => q as unknown as Kysely<Schema>;

function toExecution(r: ExecutionsTable): Execution {
  return {
    requestId: r.request_id, tenantId: r.tenant_id, walletId: r.wallet_id, chain: r.chain, asset: r.asset, amount: r.amount,
    destination: r.destination, state: r.state, unsignedPayload: r.unsigned_payload, feeCap: r.fee_cap, fee: r.fee,
    tracking: JSON.parse(r.tracking) as Execution['tracking'], signedTx: r.signed_tx, txid: r.txid,
    blockHeight: r.block_height === null ? null : Number(r.block_height), error: r.error, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export const executionsRepository = {
  async insert(q: Queryable, e: Omit<Execution, 'signedTx' | 'txid' | 'blockHeight' | 'error' | 'updatedAt'>): Promise<void> {
    await x(q).insertInto('executions').values({
      request_id: e.requestId, tenant_id: e.tenantId, wallet_id: e.walletId, chain: e.chain, asset: e.asset, amount: e.amount,
      destination: e.destination, state: e.state, unsigned_payload: e.unsignedPayload, fee_cap: e.feeCap, fee: e.fee,
      tracking: JSON.stringify(e.tracking), signed_tx: null, txid: null, block_height: null, error: null,
      created_at: e.createdAt, updated_at: e.createdAt,
    }).execute();
  },

  async get(q: Queryable, requestId: string): Promise<Execution | undefined> {
    const r = await x(q).selectFrom('executions').selectAll().where('request_id', '=', requestId).executeTakeFirst();
    return r && toExecution(r);
  },

  /** Executions in one of `states`, oldest first (every tenant). */
  async inStates(q: Queryable, states: ExecutionState[], limit = 500): Promise<Execution[]> {
    const rows = await x(q).selectFrom('executions').selectAll().where('state', 'in', states).orderBy('created_at').limit(limit).execute();
    return rows.map(toExecution);
  },

  async update(
    q: Queryable,
    requestId: string,
    set: Partial<Pick<ExecutionsTable, 'state' | 'signed_tx' | 'txid' | 'fee' | 'block_height' | 'error' | 'unsigned_payload' | 'tracking'>>,
    at: string,
  ): Promise<void> {
    await x(q).updateTable('executions').set({ ...set, updated_at: at }).where('request_id', '=', requestId).execute();
  },

  /**
   * Updates the execution only if it still carries `txid` (nothing replaced or settled it meanwhile); false,
   * and nothing changed, otherwise. Guards fee bumps and tracking results computed from an earlier read.
   */
  async updateIfTxid(
    q: Queryable,
    requestId: string,
    txid: string,
    set: Partial<Pick<ExecutionsTable, 'state' | 'signed_tx' | 'txid' | 'fee' | 'block_height' | 'error' | 'unsigned_payload' | 'tracking'>>,
    at: string,
  ): Promise<boolean> {
    const r = await x(q).updateTable('executions').set({ ...set, updated_at: at }).where('request_id', '=', requestId).where('txid', '=', txid).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Moves the request from `from` to `to`; false (and nothing changed) when it is not in `from`. */
  async transition(q: Queryable, tenant: string, requestId: string, from: string, to: string): Promise<boolean> {
    const r = await x(q).updateTable('requests').set({ status: to })
      .where('tenant_id', '=', tenant).where('id', '=', requestId).where('status', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /**
   * Requeues the dead-lettered jobs of requests still on their way (approved, signing, signed): their
   * failures were transient (a sealed vault, a node down for long), since a permanent one fails the request.
   * Only jobs dead for at least `idleMs`, so a long outage costs a retry every `idleMs`, not a busy loop.
   */
  async reviveStalled(q: Queryable, kind: string, idleMs: number, now = Date.now()): Promise<number> {
    const j = q as unknown as Kysely<Schema & { jobs: { kind: string; key: string; state: string; attempts: number; run_after: number; updated_at: string } }>;
    const r = await j
      .updateTable('jobs')
      .set({ state: 'queued', attempts: 0, run_after: now, updated_at: new Date(now).toISOString() })
      .where('kind', '=', kind)
      .where('state', '=', 'dead')
      .where('updated_at', '<', new Date(now - idleMs).toISOString())
      .where('key', 'in', j.selectFrom('requests').select('id').where('status', 'in', ['approved', 'signing', 'signed']))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },

  /** Approved requests (every tenant) that have no execution job yet, oldest first. */
  async approvedWithoutJob(q: Queryable, kind: string, limit = 500): Promise<Array<{ id: string; tenant_id: string }>> {
    return (q as unknown as Kysely<Schema & { jobs: { kind: string; key: string } }>)
      .selectFrom('requests')
      .select(['requests.id', 'requests.tenant_id'])
      .where('requests.status', '=', 'approved')
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('jobs').select('jobs.key').where('jobs.kind', '=', kind).whereRef('jobs.key', '=', 'requests.id'))),
      )
      .orderBy('requests.id')
      .limit(limit)
      .execute();
  },
};
