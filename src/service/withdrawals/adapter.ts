/**
 * What the withdrawal executor needs from a chain, in the order it needs it: facts read from the node
 * before the transaction (`facts`), the unsigned payload built inside the transaction that stores it
 * (`build`: coin locks or nonce assignment commit together with it), an idempotent `broadcast` of the signed
 * bytes, and `track`, which decides by what the withdrawal spends (outpoints, or sender and nonce), never by
 * txid alone.
 */
import type { Trx } from '../audited-writer.ts';
import type { Execution } from '../../store/repositories/executions-repository.ts';
import type { WalletInfo } from '../../vault/vault.ts';

export interface WithdrawalOrder {
  tenantId: string;
  requestId: string;
  wallet: WalletInfo;
  asset: string;
  /** Base units. */
  amount: bigint;
  destination: string;
  /** Highest total fee accepted, native base units. */
  feeCap: bigint;
  at: string;
}

export interface BuiltWithdrawal {
  unsignedPayload: string;
  tracking: Execution['tracking'];
  /** Fee the payload pays (Bitcoin) or at most (EVM). */
  fee: bigint;
}

export type TrackResult =
  | { state: 'pending'; confirmations: number }
  | { state: 'confirmed'; blockHeight: number; fee: bigint }
  /** A conflicting transaction confirmed (or, on EVM, the transaction reverted): the withdrawal failed. */
  | { state: 'failed'; reason: string }
  /** The node forgot it: send the same bytes again. */
  | { state: 'dropped' };

export interface ChainAdapter<F> {
  facts(order: WithdrawalOrder): Promise<F>;
  build(trx: Trx, order: WithdrawalOrder, facts: F): Promise<BuiltWithdrawal>;
  /** Sends the signed bytes; resolves once the node holds them (or already did). */
  broadcast(execution: Execution): Promise<void>;
  track(execution: Execution): Promise<TrackResult>;
  /**
   * A replacement of the execution's payload that pays more (Bitcoin: same inputs, BIP125; EVM: same nonce,
   * fees up ≥ 10%), within `feeCap`; `E_FEE_TOO_HIGH` above it.
   */
  bump(execution: Execution, options: { feeRate?: number }): Promise<{ unsignedPayload: string; fee: bigint }>;
  close(): void;
}
