/**
 * One nonce sequence per (chain, sender address), with a single writer: PostgreSQL row-locks the address's
 * counter for the assigning transaction; SQLite has one writer. A request gets its nonce once and keeps it
 * (re-broadcasts and replacements reuse it), so an Ethereum withdrawal is tracked by (sender, nonce).
 *
 * Addresses are stored lower-case, so EIP-55 spellings of one address share one sequence.
 */
import type { Kysely } from 'kysely';
import { StrongroomError } from '../../domain/errors.ts';
import { isUniqueViolation, type Queryable } from '../queryable.ts';
import { inTransaction, isPostgres } from './dialect-of.ts';

export interface EvmNoncesTable {
  chain_id: number;
  address: string;
  next_nonce: number;
}
export interface EvmNonceAssignmentsTable {
  chain_id: number;
  address: string;
  nonce: number;
  request_id: string;
  created_at: string;
}

export interface NonceAssignment {
  chainId: number;
  address: string;
  nonce: number;
  requestId: string;
  /** False when the request already had this nonce. */
  assigned: boolean;
}

export interface NonceGapReport {
  /** The next nonce this manager would assign. */
  nextNonce: number;
  /** The chain's nonce at the latest block, as given. */
  chainLatestNonce: number;
  /**
   * Nonces in [chainLatestNonce, nextNonce) not yet mined, lowest first: the lowest blocks every later one.
   * `requestId` null: no request here holds it (the chain was ahead when assigning: something else used it).
   */
  missing: Array<{ nonce: number; requestId: string | null }>;
}

type NonceSchema = { evm_nonces: EvmNoncesTable; evm_nonce_assignments: EvmNonceAssignmentsTable };
// This module's own tables; the shared StoreSchema does not list them.
const n = (q: Queryable) => q as unknown as Kysely<NonceSchema>;

const MAX_REPORTED = 1000;
/** A released nonce keeps its row, its request id prefixed with this, until a later request takes it. */
const RELEASED = 'released:';
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

function check(chainId: number, address: string, nonceName: string, nonce: number): string {
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new StrongroomError('E_VALIDATION', 'chainId must be a positive integer', { details: { parameter: 'chainId' } });
  if (!ADDRESS_RE.test(address)) throw new StrongroomError('E_ADDRESS_INVALID', 'address must be 0x and 40 hex digits', { details: { parameter: 'address' } });
  if (!Number.isSafeInteger(nonce) || nonce < 0) throw new StrongroomError('E_VALIDATION', `${nonceName} must be a non-negative integer`, { details: { parameter: nonceName } });
  return address.toLowerCase();
}

export const evmNonceRepository = {
  /**
   * The request's nonce: the one it already has, else the next of the address, never below the chain's
   * pending nonce (`chainPendingNonce`, from `eth_getTransactionCount(address, 'pending')`). A request id
   * already holding a nonce for another chain or address is `E_CONFLICT`.
   */
  async assignNonce(q: Queryable, chainId: number, address: string, requestId: string, chainPendingNonce: number, at: string): Promise<NonceAssignment> {
    const addr = check(chainId, address, 'chainPendingNonce', chainPendingNonce);
    if (!requestId) throw new StrongroomError('E_VALIDATION', 'requestId is required', { details: { parameter: 'requestId' } });
    return inTransaction(q, async (trx) => {
      // A write first: on SQLite it makes this transaction the one writer before it reads anything.
      await n(trx).insertInto('evm_nonces').values({ chain_id: chainId, address: addr, next_nonce: 0 })
        .onConflict((oc) => oc.columns(['chain_id', 'address']).doNothing()).execute();
      let counter = n(trx).selectFrom('evm_nonces').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', addr);
      // The single writer per address: others wait here until this transaction ends.
      if (isPostgres(trx)) counter = counter.forUpdate();
      const next = Number((await counter.executeTakeFirstOrThrow()).next_nonce);

      const existing = await n(trx).selectFrom('evm_nonce_assignments').selectAll().where('request_id', '=', requestId).executeTakeFirst();
      if (existing) {
        if (Number(existing.chain_id) !== chainId || existing.address !== addr) {
          throw new StrongroomError('E_CONFLICT', 'this request already holds a nonce of another chain or address', { details: { requestId } });
        }
        return { chainId, address: addr, nonce: Number(existing.nonce), requestId, assigned: false };
      }
      // A nonce released by a withdrawal that failed before broadcast is a hole every later transaction of
      // the address waits behind: the next request takes the lowest one (at or above the chain's pending nonce).
      const hole = await n(trx).selectFrom('evm_nonce_assignments').select(['nonce', 'request_id'])
        .where('chain_id', '=', chainId).where('address', '=', addr)
        .where('request_id', 'like', `${RELEASED}%`).where('nonce', '>=', chainPendingNonce)
        .orderBy('nonce').limit(1).executeTakeFirst();
      if (hole) {
        await n(trx).updateTable('evm_nonce_assignments').set({ request_id: requestId, created_at: at })
          .where('chain_id', '=', chainId).where('address', '=', addr).where('nonce', '=', Number(hole.nonce)).execute();
        return { chainId, address: addr, nonce: Number(hole.nonce), requestId, assigned: true };
      }
      const nonce = Math.max(next, chainPendingNonce);
      try {
        await n(trx).insertInto('evm_nonce_assignments').values({ chain_id: chainId, address: addr, nonce, request_id: requestId, created_at: at }).execute();
      } catch (e) {
        // Only a concurrent assignment of the same request to another address gets here (same address waits above).
        if (isUniqueViolation(e)) throw new StrongroomError('E_CONFLICT', 'this request is being given a nonce elsewhere', { details: { requestId }, cause: e });
        throw e;
      }
      await n(trx).updateTable('evm_nonces').set({ next_nonce: nonce + 1 }).where('chain_id', '=', chainId).where('address', '=', addr).execute();
      return { chainId, address: addr, nonce, requestId, assigned: true };
    });
  },

  /**
   * Gives back the nonce of a request that failed before its transaction was broadcast, so the next request
   * of the address takes it (no permanent gap). Returns the released nonce, if there was one.
   */
  async release(q: Queryable, requestId: string): Promise<number | undefined> {
    const row = await n(q).updateTable('evm_nonce_assignments').set({ request_id: `${RELEASED}${requestId}` })
      .where('request_id', '=', requestId).returning('nonce').executeTakeFirst();
    return row ? Number(row.nonce) : undefined;
  },

  /** The request's nonce, if it has one. */
  async nonceOf(q: Queryable, requestId: string): Promise<{ chainId: number; address: string; nonce: number } | undefined> {
    const r = await n(q).selectFrom('evm_nonce_assignments').selectAll().where('request_id', '=', requestId).executeTakeFirst();
    return r && { chainId: Number(r.chain_id), address: r.address, nonce: Number(r.nonce) };
  },

  /**
   * Gap detection: the nonces below the next one that the chain has not mined (`chainLatestNonce`, from
   * `eth_getTransactionCount(address, 'latest')`). A non-empty list whose lowest entry stays put means a
   * transaction was dropped or never sent, and every later one waits on it.
   */
  async gapCheck(q: Queryable, chainId: number, address: string, chainLatestNonce: number): Promise<NonceGapReport> {
    const addr = check(chainId, address, 'chainLatestNonce', chainLatestNonce);
    const counter = await n(q).selectFrom('evm_nonces').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', addr).executeTakeFirst();
    const nextNonce = counter ? Number(counter.next_nonce) : 0;
    const rows = await n(q).selectFrom('evm_nonce_assignments').select(['nonce', 'request_id'])
      .where('chain_id', '=', chainId).where('address', '=', addr)
      .where('nonce', '>=', chainLatestNonce).where('nonce', '<', nextNonce)
      .orderBy('nonce').execute();
    const byNonce = new Map(rows.map((r) => [Number(r.nonce), r.request_id]));
    const missing: NonceGapReport['missing'] = [];
    // Bounded: a chain far ahead of us (nonces used elsewhere) must not make a huge report.
    for (let k = chainLatestNonce; k < Math.min(nextNonce, chainLatestNonce + MAX_REPORTED); k++) missing.push({ nonce: k, requestId: byNonce.get(k) ?? null });
    return { nextNonce, chainLatestNonce, missing };
  },
};
