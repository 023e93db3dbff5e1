/**
 * The reorg-aware core shared by the deposit scanners: a pure state machine over block hashes, plus one
 * small driver that feeds it blocks from a node.
 *
 * The state remembers the hashes of the last `maxDepth` blocks it scanned and the events (credits, spends)
 * it found in them. A block whose parent is not the hash we remember, or a remembered height whose hash the
 * node no longer reports, means the chain reorganised: we walk back to the highest height where the node
 * and we agree (the fork point), drop every event above it, and scan forward again. A reorg deeper than the
 * window cannot be repaired safely and is refused with `E_CHAIN_RPC` reason `reorg-too-deep`.
 *
 * Pure functions take and return plain data (no I/O, no clock), so the reorg logic is tested without a node.
 */
import { chainRpcError } from './rpc-call.ts';

export interface SeenBlock {
  readonly height: number;
  readonly hash: string;
}

export interface ChainEvent {
  readonly height: number;
  readonly blockHash: string;
}

export interface ScanState<E extends ChainEvent> {
  /** First height this scanner ever looked at; nothing below it is known. */
  readonly startHeight: number;
  /** Next height to scan (tip + 1). */
  readonly nextHeight: number;
  /** Hashes of the last scanned blocks: ascending, contiguous, ending at nextHeight − 1. */
  readonly recent: readonly SeenBlock[];
  /** Events found so far, in chain order. The caller removes what it has settled (`pruneEvents`). */
  readonly events: readonly E[];
  /** How many recent block hashes to keep: the deepest reorg we can repair. */
  readonly maxDepth: number;
}

export interface BlockHeader {
  readonly height: number;
  readonly hash: string;
  readonly parentHash: string;
}

export function initialScanState<E extends ChainEvent>(startHeight: number, maxDepth = 100): ScanState<E> {
  if (!Number.isSafeInteger(startHeight) || startHeight < 0)
    throw new RangeError('startHeight must be a height');
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) throw new RangeError('maxDepth must be positive');
  return { startHeight, nextHeight: startHeight, recent: [], events: [], maxDepth };
}

/** Height of the last scanned block (startHeight − 1 before the first). */
export function scannedTip(state: ScanState<ChainEvent>): number {
  return state.nextHeight - 1;
}

export function hashAt(state: ScanState<ChainEvent>, height: number): string | undefined {
  const first = state.recent[0];
  return first ? state.recent[height - first.height]?.hash : undefined;
}

/** Confirmations of an event at `height` when the tip is `tip` (1 = in the tip block). */
export function confirmationsAt(height: number, tip: number): number {
  return tip >= height ? tip - height + 1 : 0;
}

export type ApplyBlockResult<E extends ChainEvent> =
  | { readonly kind: 'applied'; readonly state: ScanState<E> }
  /** The block does not extend what we scanned: find the fork point and roll back first. */
  | { readonly kind: 'reorg' };

/** Appends the next block and the events found in it, or reports that it does not extend our chain. */
export function applyBlock<E extends ChainEvent>(
  state: ScanState<E>,
  block: BlockHeader,
  events: readonly E[],
): ApplyBlockResult<E> {
  if (block.height !== state.nextHeight) {
    throw new RangeError(`expected block ${state.nextHeight}, got ${block.height}`);
  }
  const parent = hashAt(state, block.height - 1);
  if (parent !== undefined && parent !== block.parentHash) return { kind: 'reorg' };
  const recent = [...state.recent, { height: block.height, hash: block.hash }];
  return {
    kind: 'applied',
    state: {
      ...state,
      nextHeight: block.height + 1,
      recent: recent.slice(Math.max(0, recent.length - state.maxDepth)),
      events: [...state.events, ...events],
    },
  };
}

/** Forgets every block above `forkHeight` and the events found in them. */
export function rollbackTo<E extends ChainEvent>(
  state: ScanState<E>,
  forkHeight: number,
): { state: ScanState<E>; removed: E[] } {
  if (forkHeight >= scannedTip(state)) return { state, removed: [] };
  const removed = state.events.filter((e) => e.height > forkHeight);
  return {
    state: {
      ...state,
      nextHeight: Math.max(forkHeight + 1, state.startHeight),
      recent: state.recent.filter((b) => b.height <= forkHeight),
      events: state.events.filter((e) => e.height <= forkHeight),
    },
    removed,
  };
}

/**
 * The fork point: the highest remembered height whose hash the node still reports (`nodeHashAt` answers
 * undefined above the node's tip). Below the first block we ever scanned everything is a rescan; beyond a
 * full window it is refused.
 */
export async function findForkHeight(
  state: ScanState<ChainEvent>,
  nodeHashAt: (height: number) => Promise<string | undefined>,
): Promise<number> {
  for (let i = state.recent.length - 1; i >= 0; i--) {
    const b = state.recent[i]!;
    if ((await nodeHashAt(b.height)) === b.hash) return b.height;
  }
  const first = state.recent[0];
  if (!first || first.height === state.startHeight) return state.startHeight - 1;
  throw chainRpcError({
    method: 'scan',
    reason: 'reorg-too-deep',
    message: `the chain reorganised below height ${first.height}, deeper than the ${state.maxDepth} blocks remembered`,
    retriable: false,
    details: { oldestRemembered: first.height },
  });
}

/** Removes settled events (e.g. credits already booked) so the state stays small. */
export function pruneEvents<E extends ChainEvent>(
  state: ScanState<E>,
  settled: (e: E) => boolean,
): ScanState<E> {
  return { ...state, events: state.events.filter((e) => !settled(e)) };
}

// ---------------------------------------------------------------------------------------------------------
// Driver: the only part that does I/O, kept thin.

export interface ChainSource<B extends BlockHeader> {
  tipHeight(): Promise<number>;
  /** Hash at `height` on the node's best chain, undefined above its tip. */
  hashAt(height: number): Promise<string | undefined>;
  /** The block at `height` on the node's best chain (its hash must be checked by the source). */
  blockAt(height: number): Promise<B>;
}

export interface SyncResult<E extends ChainEvent> {
  readonly state: ScanState<E>;
  readonly added: readonly E[];
  /** Events rolled back by a reorg during this sync (they may be found again in `added`). */
  readonly removed: readonly E[];
  readonly tip: number;
}

export interface SyncOptions {
  /** Most blocks scanned per call (default 1,000). */
  readonly maxBlocks?: number;
  /** Blocks fetched concurrently (default 8). */
  readonly prefetch?: number;
}

/** Scans from the state's next height up to the node's tip (at most `maxBlocks` blocks per call). */
export async function syncChain<B extends BlockHeader, E extends ChainEvent>(
  start: ScanState<E>,
  source: ChainSource<B>,
  extract: (block: B, state: ScanState<E>) => E[],
  options: SyncOptions = {},
): Promise<SyncResult<E>> {
  let state = start;
  const added: E[] = [];
  const removed: E[] = [];
  const rollback = async () => {
    const fork = await findForkHeight(state, (h) => source.hashAt(h));
    const r = rollbackTo(state, fork);
    state = r.state;
    removed.push(...r.removed);
    // An event found and then rolled back in the same sync is reported in neither list.
    for (const e of r.removed) {
      const i = added.indexOf(e);
      if (i >= 0) {
        added.splice(i, 1);
        removed.splice(removed.indexOf(e), 1);
      }
    }
  };

  let tip = await source.tipHeight();
  const last = state.recent.at(-1);
  if (last && (tip < last.height || (await source.hashAt(last.height)) !== last.hash)) await rollback();

  let budget = options.maxBlocks ?? 1_000;
  const prefetch = Math.max(1, options.prefetch ?? 8);
  let reorgs = 0;
  while (state.nextHeight <= tip && budget > 0) {
    // Fetch a few blocks at once (node round trips dominate), apply them strictly in order.
    const from = state.nextHeight;
    const count = Math.min(tip - from + 1, prefetch, budget);
    const blocks = await Promise.all(Array.from({ length: count }, (_, i) => source.blockAt(from + i)));
    for (const block of blocks) {
      budget--;
      const events = extract(block, state);
      const r = applyBlock(state, block, events);
      if (r.kind === 'applied') {
        state = r.state;
        added.push(...events);
        continue;
      }
      // The chain moved under us while scanning; a node that keeps flapping is not worth chasing forever.
      if (++reorgs > 10) {
        throw chainRpcError({
          method: 'scan',
          reason: 'bad-response',
          message: 'the chain keeps reorganising',
          retriable: true,
        });
      }
      await rollback();
      tip = await source.tipHeight();
      break;
    }
  }
  return { state, added, removed, tip: scannedTip(state) };
}

/** What one scan call of a chain's driver returns: events added and removed (reorg) and the credits now. */
export interface ScanResult<S, E, V> {
  readonly state: S;
  readonly added: readonly E[];
  readonly removed: readonly E[];
  readonly tip: number;
  readonly credits: readonly V[];
}
