/**
 * Broadcasts a signed EIP-1559 transaction, idempotently, and tracks it by (sender, nonce), never by hash
 * alone: a sender's nonce is consumed exactly once on chain, so "is our nonce consumed, and by our hash?"
 * is the question that decides whether a withdrawal happened.
 *
 * - A transaction the node already knows is not re-sent.
 * - "already known" / "nonce too low" / "replacement underpriced" answers are checked against the node:
 *   if our hash is there, it is a success; if the nonce was consumed by another transaction, the error says
 *   `conflict`. Re-sending the same bytes can never spend the nonce twice.
 */
import { Transaction } from 'ethers';
import { StrongroomError } from '../../domain/errors.ts';
import { chainRpcError, assertAnsweredId } from '../rpc-call.ts';
import { toChecksumAddress, type EvmAddress } from './address.ts';
import type { EvmReceipt, EvmRpc } from './rpc.ts';

export interface BroadcastEvmResult {
  readonly hash: string;
  readonly from: EvmAddress;
  readonly nonce: number;
  /** 'mined' when the node already has it in a block. */
  readonly state: 'pending' | 'mined';
  /** True when the node already had it and nothing was sent. */
  readonly alreadyKnown: boolean;
}

/** The identity of a signed transaction, read from its bytes. */
export function decodeSignedEvmTx(rawTx: string): {
  hash: string;
  from: EvmAddress;
  nonce: number;
  chainId: bigint;
} {
  let tx: Transaction;
  try {
    tx = Transaction.from(rawTx);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'rawTx is not a serialised transaction', {
      details: { parameter: 'rawTx' },
      cause,
    });
  }
  if (!tx.signature || !tx.from || !tx.hash) {
    throw new StrongroomError('E_VALIDATION', 'rawTx is not signed', { details: { parameter: 'rawTx' } });
  }
  return {
    hash: tx.hash.toLowerCase(),
    from: toChecksumAddress(tx.from),
    nonce: tx.nonce,
    chainId: tx.chainId,
  };
}

export async function broadcastEvm(rpc: EvmRpc, rawTx: string): Promise<BroadcastEvmResult> {
  const id = decodeSignedEvmTx(rawTx);
  if (id.chainId !== rpc.chainId) {
    throw chainRpcError({
      method: 'eth_sendRawTransaction',
      reason: 'chain-id-mismatch',
      message: `transaction is signed for chain id ${id.chainId}, the client serves ${rpc.chainId}`,
      retriable: false,
      details: { hash: id.hash },
    });
  }
  const base = { hash: id.hash, from: id.from, nonce: id.nonce };
  const known = await rpc.getTransactionByHash(id.hash);
  if (known)
    return { ...base, state: known.blockNumber === undefined ? 'pending' : 'mined', alreadyKnown: true };

  try {
    const answered = await rpc.sendRawTransaction(rawTx);
    assertAnsweredId('eth_sendRawTransaction', answered, id.hash, 'hash');
    return { ...base, state: 'pending', alreadyKnown: false };
  } catch (e) {
    if (!(e instanceof StrongroomError) || e.details.reason !== 'rpc-error') throw e;
    // Whatever the wording, the node's state decides: is our transaction there?
    const after = await rpc.getTransactionByHash(id.hash);
    if (after)
      return { ...base, state: after.blockNumber === undefined ? 'pending' : 'mined', alreadyKnown: true };
    const consumed = (await rpc.getTransactionCount(id.from, 'latest')) > id.nonce;
    if (consumed || /nonce too low|replacement|underpriced|already known/i.test(e.message)) {
      throw chainRpcError({
        method: 'eth_sendRawTransaction',
        reason: 'conflict',
        message: consumed
          ? `nonce ${id.nonce} of ${id.from} is already consumed by another transaction`
          : `another transaction with nonce ${id.nonce} of ${id.from} is pending`,
        retriable: !consumed,
        details: { ...base, nonceConsumed: consumed },
        cause: e,
      });
    }
    throw chainRpcError({
      method: 'eth_sendRawTransaction',
      reason: 'rpc-error',
      message: `node rejected the transaction (${e.message.replace(/^[a-z_]+: /, '')})`,
      retriable: false,
      details: base,
      ...(typeof e.details.rpcCode === 'number' ? { rpcCode: e.details.rpcCode } : {}),
      cause: e,
    });
  }
}

export type EvmTxTracking =
  | { readonly state: 'confirmed' | 'mined'; readonly receipt: EvmReceipt; readonly confirmations: number }
  | { readonly state: 'pending' }
  /** The nonce is consumed on chain, but not by this hash: a conflicting transaction won. */
  | { readonly state: 'replaced' }
  /** The node knows neither the hash nor a use of the nonce: re-broadcast the same bytes. */
  | { readonly state: 'dropped' };

/**
 * Where a broadcast stands, decided by (sender, nonce): our receipt with `minConfirmations` → confirmed
 * (fewer → mined); nonce consumed without our receipt → replaced; otherwise pending or dropped.
 */
export async function trackEvmTransaction(
  rpc: EvmRpc,
  tx: { readonly hash: string; readonly from: string; readonly nonce: number },
  minConfirmations = 1,
): Promise<EvmTxTracking> {
  const receipt = await rpc.getTransactionReceipt(tx.hash);
  if (receipt) {
    const tip = await rpc.getBlockNumber();
    const confirmations = tip >= receipt.blockNumber ? tip - receipt.blockNumber + 1 : 0;
    return { state: confirmations >= minConfirmations ? 'confirmed' : 'mined', receipt, confirmations };
  }
  const consumed = (await rpc.getTransactionCount(tx.from, 'latest')) > tx.nonce;
  if (consumed) {
    // The receipt may have appeared between the two calls; ask once more before calling it replaced.
    const late = await rpc.getTransactionReceipt(tx.hash);
    if (late) return trackEvmTransaction(rpc, tx, minConfirmations);
    return { state: 'replaced' };
  }
  return (await rpc.getTransactionByHash(tx.hash)) ? { state: 'pending' } : { state: 'dropped' };
}
