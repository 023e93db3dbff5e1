/**
 * Bitcoin deposit scanner (untrusted side): walks blocks from a node, finds outputs paying watched scripts
 * (credits) and inputs spending watched or credited outpoints (spends), and survives reorgs (../chain-scan.ts).
 *
 * `extractBitcoinEvents` is pure; `scanBitcoin` is the thin driver over a `BitcoinRpc`. Credits are reported
 * with their confirmations against the scanned tip; the caller books them once they reach its threshold.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { StrongroomError } from '../../domain/errors.ts';
import {
  confirmationsAt,
  initialScanState,
  scannedTip,
  syncChain,
  type ChainSource,
  type SyncOptions,
  type ScanState,
  type ScanResult,
} from '../chain-scan.ts';
import { chainRpcError } from '../rpc-call.ts';
import { parseBitcoinAddress } from './address.ts';
import type { BitcoinNetwork, BitcoinNetworkName } from './network.ts';
import { parseRawBlock, type ParsedBlock } from './raw-block.ts';
import type { BitcoinRpc } from './rpc.ts';

export interface BitcoinCredit {
  readonly kind: 'credit';
  readonly txid: string;
  readonly vout: number;
  readonly address: string;
  /** scriptPubKey, hex. */
  readonly script: string;
  readonly value: bigint;
  readonly height: number;
  readonly blockHash: string;
  readonly coinbase: boolean;
}

export interface BitcoinSpend {
  readonly kind: 'spend';
  /** The watched outpoint that was spent. */
  readonly outpoint: { readonly txid: string; readonly vout: number };
  readonly spendingTxid: string;
  readonly height: number;
  readonly blockHash: string;
}

export type BitcoinScanEvent = BitcoinCredit | BitcoinSpend;
export type BitcoinScanState = ScanState<BitcoinScanEvent>;

export interface BitcoinWatch {
  /** scriptPubKey hex → address label, for our receive and change addresses. */
  readonly scripts: ReadonlyMap<string, string>;
  /** Extra outpoints (`txid:vout`) whose spends matter (e.g. UTXOs we know from elsewhere). */
  readonly outpoints?: ReadonlySet<string>;
}

/** Watch list from addresses; each is parsed for `network` (a wrong-network address is refused). */
export function watchAddresses(
  addresses: readonly string[],
  network: BitcoinNetworkName | BitcoinNetwork,
): BitcoinWatch {
  const scripts = new Map<string, string>();
  for (const a of addresses) {
    const parsed = parseBitcoinAddress(a, network);
    scripts.set(bytesToHex(parsed.script), parsed.address);
  }
  return { scripts };
}

export function initialBitcoinScanState(startHeight: number, maxDepth = 100): BitcoinScanState {
  return initialScanState<BitcoinScanEvent>(startHeight, maxDepth);
}

/** Credits and spends of one block, given what the state already knows (for spends of earlier credits). */
export function extractBitcoinEvents(
  block: ParsedBlock & { readonly height: number },
  state: BitcoinScanState,
  watch: BitcoinWatch,
): BitcoinScanEvent[] {
  const owned = new Set(watch.outpoints ?? []);
  for (const e of state.events) if (e.kind === 'credit') owned.add(`${e.txid}:${e.vout}`);
  const events: BitcoinScanEvent[] = [];
  for (const [t, tx] of block.txs.entries()) {
    for (const input of tx.inputs) {
      if (owned.has(`${input.txid}:${input.vout}`)) {
        events.push({
          kind: 'spend',
          outpoint: { txid: input.txid, vout: input.vout },
          spendingTxid: tx.txid,
          height: block.height,
          blockHash: block.hash,
        });
      }
    }
    for (const [vout, out] of tx.outputs.entries()) {
      const address = watch.scripts.get(out.script);
      if (address === undefined) continue;
      events.push({
        kind: 'credit',
        txid: tx.txid,
        vout,
        address,
        script: out.script,
        value: out.value,
        height: block.height,
        blockHash: block.hash,
        coinbase: t === 0,
      });
      // A later transaction in the same block may spend it.
      owned.add(`${tx.txid}:${vout}`);
    }
  }
  return events;
}

export interface BitcoinCreditView extends BitcoinCredit {
  readonly confirmations: number;
  /** Spent by a transaction we have seen in a block. */
  readonly spent: boolean;
}

/** Credits the state knows, with confirmations against its scanned tip. */
export function bitcoinCredits(state: BitcoinScanState): BitcoinCreditView[] {
  const tip = scannedTip(state);
  const spent = new Set(
    state.events.filter((e) => e.kind === 'spend').map((e) => `${e.outpoint.txid}:${e.outpoint.vout}`),
  );
  return state.events
    .filter((e): e is BitcoinCredit => e.kind === 'credit')
    .map((c) => ({
      ...c,
      confirmations: confirmationsAt(c.height, tip),
      spent: spent.has(`${c.txid}:${c.vout}`),
    }));
}

/** Unspent credits: the wallet's UTXO set as far as the scanner knows. */
export function unspentCredits(state: BitcoinScanState): BitcoinCreditView[] {
  return bitcoinCredits(state).filter((c) => !c.spent);
}

export type ScanBitcoinResult = ScanResult<BitcoinScanState, BitcoinScanEvent, BitcoinCreditView>;

/** Scans from the state's next height to the node's tip (at most `maxBlocks` per call). */
export async function scanBitcoin(
  rpc: BitcoinRpc,
  state: BitcoinScanState,
  watch: BitcoinWatch,
  options: SyncOptions = {},
): Promise<ScanBitcoinResult> {
  const r = await syncChain(
    state,
    bitcoinChainSource(rpc),
    (b, s) => extractBitcoinEvents(b, s, watch),
    options,
  );
  return { ...r, credits: bitcoinCredits(r.state) };
}

/** Blocks from a node, each checked: the parsed header must hash to what the node said it was. */
export function bitcoinChainSource(rpc: BitcoinRpc): ChainSource<ParsedBlock & { height: number }> {
  const hashAt = async (height: number): Promise<string | undefined> => {
    try {
      return await rpc.getBlockHash(height);
    } catch (e) {
      // Above the tip: Core answers -8 "Block height out of range", bcoin the same code.
      if (e instanceof StrongroomError && e.details.rpcCode === -8) return undefined;
      throw e;
    }
  };
  return {
    tipHeight: () => rpc.getBlockCount(),
    hashAt,
    async blockAt(height) {
      const hash = await rpc.getBlockHash(height);
      const raw = await rpc.getBlockRaw(hash);
      let block: ParsedBlock;
      try {
        block = parseRawBlock(raw);
      } catch (cause) {
        throw chainRpcError({
          method: 'getblock',
          reason: 'bad-response',
          message: 'block does not parse',
          retriable: true,
          cause,
        });
      }
      if (block.hash !== hash) {
        throw chainRpcError({
          method: 'getblock',
          reason: 'bad-response',
          message: `block ${hash} hashes to ${block.hash}`,
          retriable: true,
        });
      }
      return { ...block, height };
    },
  };
}
