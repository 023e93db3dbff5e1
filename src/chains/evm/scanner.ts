/**
 * EVM deposit scanner (untrusted side). Native ETH: transactions in each block whose `to` is a watched
 * address, with a value, that succeeded (a reverted transaction moves no value). ETH arriving through
 * internal calls (a contract forwarding value) is invisible without traces and is not credited here.
 * ERC-20: `Transfer(from, to, value)` logs of watched token contracts whose `to` is watched, fetched per
 * block hash so logs and block always belong together. Reorgs are handled by block hash (../chain-scan.ts).
 *
 * `extractEvmEvents` is pure; `scanEvm` is the thin driver over an `EvmRpc`.
 */
import {
  confirmationsAt,
  initialScanState,
  scannedTip,
  syncChain,
  type ChainSource,
  type ScanState,
  type SyncOptions,
  type ScanResult,
} from '../chain-scan.ts';
import { chainRpcError } from '../rpc-call.ts';
import { parseEvmAddress, toChecksumAddress, type EvmAddress } from './address.ts';
import { ERC20_TRANSFER_TOPIC } from './erc20/artifact.ts';
import type { EvmBlock, EvmLog, EvmRpc } from './rpc.ts';

export interface EvmNativeCredit {
  readonly kind: 'native';
  readonly hash: string;
  readonly from: EvmAddress;
  readonly to: EvmAddress;
  readonly value: bigint;
  readonly height: number;
  readonly blockHash: string;
}

export interface EvmTokenCredit {
  readonly kind: 'token';
  readonly token: EvmAddress;
  readonly hash: string;
  readonly logIndex: number;
  readonly from: EvmAddress;
  readonly to: EvmAddress;
  readonly value: bigint;
  readonly height: number;
  readonly blockHash: string;
}

export type EvmCredit = EvmNativeCredit | EvmTokenCredit;
export type EvmScanState = ScanState<EvmCredit>;

export interface EvmWatch {
  readonly addresses: readonly string[];
  /** ERC-20 contracts whose transfers count; tokens outside this list (spam, look-alikes) are ignored. */
  readonly tokens: readonly string[];
}

/** A block as the scanner needs it: transactions, their success, and the Transfer logs to watched addresses. */
export interface EvmScanBlock {
  readonly height: number;
  readonly hash: string;
  readonly parentHash: string;
  readonly block: EvmBlock;
  readonly logs: readonly EvmLog[];
  /** Receipt status of the transactions paying watched addresses, by hash. */
  readonly succeeded: ReadonlyMap<string, boolean>;
}

export function initialEvmScanState(startHeight: number, maxDepth = 128): EvmScanState {
  return initialScanState<EvmCredit>(startHeight, maxDepth);
}

export function extractEvmEvents(b: EvmScanBlock, watch: EvmWatch): EvmCredit[] {
  const watched = new Set(watch.addresses.map((a) => parseEvmAddress(a)));
  const tokens = new Set(watch.tokens.map((t) => parseEvmAddress(t)));
  const credits: EvmCredit[] = [];
  for (const tx of b.block.transactions) {
    if (tx.to && watched.has(tx.to) && tx.value > 0n && b.succeeded.get(tx.hash) === true) {
      credits.push({
        kind: 'native',
        hash: tx.hash,
        from: tx.from,
        to: tx.to,
        value: tx.value,
        height: b.height,
        blockHash: b.hash,
      });
    }
  }
  for (const log of b.logs) {
    if (log.removed || log.blockHash !== b.hash || !tokens.has(log.address)) continue;
    const [topic0, fromTopic, toTopic] = log.topics;
    if (topic0 !== ERC20_TRANSFER_TOPIC || !fromTopic || !toTopic || log.topics.length !== 3) continue;
    if (!/^0x[0-9a-fA-F]{64}$/.test(log.data)) continue;
    const to = topicAddress(toTopic);
    if (!to || !watched.has(to)) continue;
    const from = topicAddress(fromTopic);
    if (!from) continue;
    credits.push({
      kind: 'token',
      token: log.address,
      hash: log.transactionHash,
      logIndex: log.logIndex,
      from,
      to,
      value: BigInt(log.data),
      height: b.height,
      blockHash: b.hash,
    });
  }
  return credits;
}

export type EvmCreditView = EvmCredit & { readonly confirmations: number };

export function evmCredits(state: EvmScanState): EvmCreditView[] {
  const tip = scannedTip(state);
  return state.events.map((c) => ({ ...c, confirmations: confirmationsAt(c.height, tip) }));
}

export type ScanEvmResult = ScanResult<EvmScanState, EvmCredit, EvmCreditView>;

export async function scanEvm(
  rpc: EvmRpc,
  state: EvmScanState,
  watch: EvmWatch,
  options: SyncOptions = {},
): Promise<ScanEvmResult> {
  const r = await syncChain(state, evmChainSource(rpc, watch), (b) => extractEvmEvents(b, watch), options);
  return { ...r, credits: evmCredits(r.state) };
}

export function evmChainSource(rpc: EvmRpc, watch: EvmWatch): ChainSource<EvmScanBlock> {
  const watched = watch.addresses.map((a) => parseEvmAddress(a));
  const watchedSet = new Set(watched);
  const toTopics = watched.map((a) => '0x' + a.slice(2).toLowerCase().padStart(64, '0'));
  const tokens = watch.tokens.map((t) => parseEvmAddress(t));
  return {
    tipHeight: () => rpc.getBlockNumber(),
    hashAt: async (h) => (await rpc.getBlock(h))?.hash,
    async blockAt(height) {
      const block = await rpc.getBlock(height);
      if (!block || block.number !== height) {
        throw chainRpcError({
          method: 'eth_getBlockByNumber',
          reason: 'bad-response',
          message: `no block ${height}`,
          retriable: true,
        });
      }
      const logs =
        tokens.length === 0 || toTopics.length === 0
          ? []
          : await rpc.getLogs({
              blockHash: block.hash,
              address: tokens,
              topics: [ERC20_TRANSFER_TOPIC, null, toTopics],
            });
      const succeeded = new Map<string, boolean>();
      for (const tx of block.transactions) {
        if (tx.to && watchedSet.has(tx.to) && tx.value > 0n) {
          const receipt = await rpc.getTransactionReceipt(tx.hash);
          // A receipt from another block means the node moved on mid-scan; the reorg check will catch it.
          succeeded.set(tx.hash, receipt?.status === 1 && receipt.blockHash === block.hash);
        }
      }
      return { height, hash: block.hash, parentHash: block.parentHash, block, logs, succeeded };
    },
  };
}

function topicAddress(topic: string): EvmAddress | undefined {
  // An indexed address is left-padded with 12 zero bytes; anything else is not a canonical encoding.
  if (!/^0x0{24}[0-9a-fA-F]{40}$/.test(topic)) return undefined;
  return toChecksumAddress('0x' + topic.slice(26));
}
