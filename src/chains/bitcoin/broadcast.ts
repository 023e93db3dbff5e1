/**
 * Broadcasts a signed Bitcoin transaction and proves the node took it: the node's own answer to
 * `sendrawtransaction` is not evidence (bcoin answers the txid even when it rejects), so acceptance is read
 * back from `getmempoolentry` or from the transaction's block.
 *
 * Idempotent by construction: the txid is computed here from the bytes, a transaction the node already has
 * is not re-sent, and re-sending the same bytes can only ever produce the same transaction. When the node
 * will not take it, the inputs are checked: if one is already spent by something else the error says
 * `conflict` (the withdrawal's outpoints are gone; only a confirmed conflict fails a withdrawal, which the
 * caller decides), otherwise `not-accepted` (retriable with the same bytes).
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { StrongroomError } from '../../domain/errors.ts';
import { chainRpcError, sleep, assertAnsweredId } from '../rpc-call.ts';
import { parseRawTx, type ParsedTx } from './raw-block.ts';
import type { BitcoinRpc } from './rpc.ts';

export type BitcoinTxStatus =
  | { readonly state: 'mempool' }
  | { readonly state: 'block'; readonly confirmations: number; readonly blockHash: string | undefined }
  | { readonly state: 'unknown' };

export interface BroadcastBitcoinOptions {
  /** How long to wait for the node to show the transaction (default 5 s). */
  readonly acceptanceTimeoutMs?: number;
  readonly pollMs?: number;
}

export interface BroadcastBitcoinResult {
  readonly txid: string;
  readonly accepted: 'mempool' | 'block';
  /** True when the node already had it and nothing was sent. */
  readonly alreadyKnown: boolean;
}

/** Where the node has `txid`: its mempool, a block, or nowhere. */
export async function bitcoinTxStatus(rpc: BitcoinRpc, txid: string): Promise<BitcoinTxStatus> {
  if (await rpc.getMempoolEntry(txid)) return { state: 'mempool' };
  const tx = await rpc.getRawTransaction(txid);
  if (tx && tx.confirmations > 0)
    return { state: 'block', confirmations: tx.confirmations, blockHash: tx.blockhash };
  // bcoin answers getrawtransaction for mempool transactions too (0 confirmations).
  if (tx) return { state: 'mempool' };
  return { state: 'unknown' };
}

export async function broadcastBitcoin(
  rpc: BitcoinRpc,
  rawTx: Uint8Array | string,
  options: BroadcastBitcoinOptions = {},
): Promise<BroadcastBitcoinResult> {
  const bytes = typeof rawTx === 'string' ? hexBytes(rawTx) : rawTx;
  let tx: ParsedTx;
  try {
    tx = parseRawTx(bytes);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'rawTx is not a serialised transaction', {
      details: { parameter: 'rawTx' },
      cause,
    });
  }
  const hex = Buffer.from(bytes).toString('hex');
  const known = await bitcoinTxStatus(rpc, tx.txid);
  if (known.state !== 'unknown') return { txid: tx.txid, accepted: known.state, alreadyKnown: true };

  try {
    const answered = await rpc.sendRawTransaction(hex);
    assertAnsweredId('sendrawtransaction', answered, tx.txid, 'txid');
  } catch (e) {
    if (!(e instanceof StrongroomError) || e.details.reason !== 'rpc-error') throw e;
    // -27: "already in block chain" (Core). Any other refusal: maybe it is there anyway, maybe a conflict.
    const status = await bitcoinTxStatus(rpc, tx.txid);
    if (status.state !== 'unknown') return { txid: tx.txid, accepted: status.state, alreadyKnown: true };
    if (e.details.rpcCode === -27) return { txid: tx.txid, accepted: 'block', alreadyKnown: true };
    await throwIfConflict(rpc, tx, e);
    throw chainRpcError({
      method: 'sendrawtransaction',
      reason: 'rpc-error',
      message: `node rejected the transaction (${e.message.replace(/^[a-z_]+: /, '')})`,
      retriable: false,
      details: { txid: tx.txid },
      ...(typeof e.details.rpcCode === 'number' ? { rpcCode: e.details.rpcCode } : {}),
      cause: e,
    });
  }

  const deadline = Date.now() + (options.acceptanceTimeoutMs ?? 5_000);
  for (;;) {
    const status = await bitcoinTxStatus(rpc, tx.txid);
    if (status.state !== 'unknown') return { txid: tx.txid, accepted: status.state, alreadyKnown: false };
    if (Date.now() >= deadline) break;
    await sleep(options.pollMs ?? 100);
  }
  await throwIfConflict(rpc, tx);
  throw chainRpcError({
    method: 'sendrawtransaction',
    reason: 'not-accepted',
    message: 'the node answered but the transaction is neither in its mempool nor in a block',
    // Same bytes, same transaction: re-sending later cannot create a second one.
    retriable: true,
    details: { txid: tx.txid },
  });
}

/** Throws `conflict` when an input of `tx` is no longer unspent (spent by another transaction, or unknown). */
async function throwIfConflict(rpc: BitcoinRpc, tx: ParsedTx, cause?: unknown): Promise<void> {
  const gone: string[] = [];
  for (const i of tx.inputs) {
    if (!(await rpc.getTxOut(i.txid, i.vout, true))) gone.push(`${i.txid}:${i.vout}`);
  }
  if (gone.length > 0) {
    throw chainRpcError({
      method: 'sendrawtransaction',
      reason: 'conflict',
      message: `${gone.length} input(s) are already spent or unknown`,
      retriable: false,
      details: { txid: tx.txid, spentInputs: gone },
      cause,
    });
  }
}

function hexBytes(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) {
    throw new StrongroomError('E_VALIDATION', 'rawTx must be hex', { details: { parameter: 'rawTx' } });
  }
  return hexToBytes(hex.toLowerCase());
}
