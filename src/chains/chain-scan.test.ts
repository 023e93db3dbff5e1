import { describe, expect, it } from 'vitest';
import {
  applyBlock,
  findForkHeight,
  initialScanState,
  rollbackTo,
  syncChain,
  type BlockHeader,
  type ChainEvent,
  type ChainSource,
} from './chain-scan.ts';
import { isStrongroomError } from '../domain/errors.ts';

interface Ev extends ChainEvent {
  readonly id: string;
}
interface Block extends BlockHeader {
  readonly deposits: readonly string[];
}

/** An in-memory chain whose blocks can be replaced from any height (a reorg). */
class FakeChain implements ChainSource<Block> {
  blocks: Block[] = [];
  fetched = 0;
  constructor(
    length: number,
    private readonly tag = 'a',
  ) {
    for (let h = 0; h < length; h++) this.push([`${tag}${h}`]);
  }
  push(deposits: string[], tag = this.tag): void {
    const h = this.blocks.length;
    const parentHash = h === 0 ? 'genesis-parent' : this.blocks[h - 1]!.hash;
    this.blocks.push({ height: h, hash: `${tag}-${h}-${parentHash.slice(0, 12)}`, parentHash, deposits });
  }
  /** Replaces everything above `fork` with `count` new blocks. */
  reorg(fork: number, count: number, tag: string): void {
    this.blocks = this.blocks.slice(0, fork + 1);
    for (let i = 0; i < count; i++) this.push([`${tag}${this.blocks.length}`], tag);
  }
  async tipHeight() {
    return this.blocks.length - 1;
  }
  async hashAt(h: number) {
    return this.blocks[h]?.hash;
  }
  async blockAt(h: number) {
    this.fetched++;
    const b = this.blocks[h];
    if (!b) throw new Error(`no block ${h}`);
    return b;
  }
}

const extract = (b: Block): Ev[] => b.deposits.map((id) => ({ id, height: b.height, blockHash: b.hash }));
const ids = (es: readonly Ev[]) => es.map((e) => e.id);

describe('chain scan state machine', () => {
  it('scans forward from the start height and reports each event once', async () => {
    const chain = new FakeChain(10);
    let r = await syncChain(initialScanState<Ev>(3), chain, extract);
    expect(ids(r.added)).toEqual(['a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    expect(r.tip).toBe(9);
    chain.push(['a10']);
    r = await syncChain(r.state, chain, extract);
    expect(ids(r.added)).toEqual(['a10']);
    expect(r.removed).toEqual([]);
    r = await syncChain(r.state, chain, extract);
    expect(r.added).toEqual([]);
  });

  it('rolls back to the fork point on a reorg and rescans the new branch', async () => {
    const chain = new FakeChain(10);
    const first = await syncChain(initialScanState<Ev>(0), chain, extract);
    chain.reorg(6, 5, 'b'); // heights 7..11 replaced
    const r = await syncChain(first.state, chain, extract);
    expect(ids(r.removed)).toEqual(['a7', 'a8', 'a9']);
    expect(ids(r.added)).toEqual(['b7', 'b8', 'b9', 'b10', 'b11']);
    expect(ids(r.state.events)).toEqual([
      ...'0123456'.split('').map((h) => `a${h}`),
      'b7',
      'b8',
      'b9',
      'b10',
      'b11',
    ]);
  });

  it('notices a shorter chain (tip went back) and rolls back', async () => {
    const chain = new FakeChain(10);
    const first = await syncChain(initialScanState<Ev>(0), chain, extract);
    chain.blocks = chain.blocks.slice(0, 8);
    const r = await syncChain(first.state, chain, extract);
    expect(ids(r.removed)).toEqual(['a8', 'a9']);
    expect(r.tip).toBe(7);
  });

  it('handles a reorg that happens while scanning (the next block does not extend what we saw)', async () => {
    const chain = new FakeChain(6);
    const first = await syncChain(initialScanState<Ev>(0), chain, extract);
    chain.push(['a6']);
    chain.push(['a7']);
    // The chain reorganises right after we checked our tip and before we fetch block 6.
    const source: ChainSource<Block> = {
      tipHeight: () => chain.tipHeight(),
      hashAt: (h) => chain.hashAt(h),
      blockAt: async (h) => {
        if (h === 6 && chain.blocks[6]!.hash.startsWith('a')) chain.reorg(3, 5, 'c');
        return chain.blockAt(h);
      },
    };
    const r = await syncChain(first.state, source, extract, { prefetch: 1 });
    expect(ids(r.removed)).toEqual(['a4', 'a5']);
    expect(ids(r.added)).toEqual(['c4', 'c5', 'c6', 'c7', 'c8']);
    expect(ids(r.state.events)).toEqual(['a0', 'a1', 'a2', 'a3', 'c4', 'c5', 'c6', 'c7', 'c8']);
  });

  it('refuses a reorg deeper than the remembered window', async () => {
    const chain = new FakeChain(30);
    const first = await syncChain(initialScanState<Ev>(0, 5), chain, extract);
    expect(first.state.recent).toHaveLength(5);
    chain.reorg(20, 12, 'd'); // fork at 20, window covers 25..29
    const err = await syncChain(first.state, chain, extract).catch((e: unknown) => e);
    expect(isStrongroomError(err, 'E_CHAIN_RPC')).toBe(true);
    expect((err as { details: { reason: string } }).details.reason).toBe('reorg-too-deep');
  });

  it('rescans from the start height when the whole remembered history was replaced (window never filled)', async () => {
    const chain = new FakeChain(5);
    const first = await syncChain(initialScanState<Ev>(2, 100), chain, extract);
    chain.reorg(0, 6, 'e');
    const r = await syncChain(first.state, chain, extract);
    expect(ids(r.removed)).toEqual(['a2', 'a3', 'a4']);
    expect(ids(r.added)).toEqual(['e2', 'e3', 'e4', 'e5', 'e6']);
  });

  it('respects maxBlocks and resumes where it stopped', async () => {
    const chain = new FakeChain(20);
    let r = await syncChain(initialScanState<Ev>(0), chain, extract, { maxBlocks: 7, prefetch: 3 });
    expect(r.tip).toBe(6);
    r = await syncChain(r.state, chain, extract, { maxBlocks: 100 });
    expect(r.tip).toBe(19);
    expect(r.state.events).toHaveLength(20);
  });

  it('pure steps: applyBlock refuses a block that does not extend, rollbackTo drops events above the fork', () => {
    let s = initialScanState<Ev>(0);
    const r1 = applyBlock(s, { height: 0, hash: 'h0', parentHash: 'x' }, [
      { id: 'e0', height: 0, blockHash: 'h0' },
    ]);
    expect(r1.kind).toBe('applied');
    s = r1.kind === 'applied' ? r1.state : s;
    expect(applyBlock(s, { height: 1, hash: 'h1', parentHash: 'other' }, []).kind).toBe('reorg');
    expect(() => applyBlock(s, { height: 5, hash: 'h5', parentHash: 'h4' }, [])).toThrow(RangeError);
    const r2 = applyBlock(s, { height: 1, hash: 'h1', parentHash: 'h0' }, [
      { id: 'e1', height: 1, blockHash: 'h1' },
    ]);
    s = r2.kind === 'applied' ? r2.state : s;
    const rolled = rollbackTo(s, 0);
    expect(ids(rolled.removed)).toEqual(['e1']);
    expect(rolled.state.nextHeight).toBe(1);
    expect(rolled.state.recent).toEqual([{ height: 0, hash: 'h0' }]);
  });

  it('findForkHeight walks back to the highest height both sides agree on', async () => {
    const chain = new FakeChain(10);
    const { state } = await syncChain(initialScanState<Ev>(0), chain, extract);
    chain.reorg(4, 6, 'f');
    expect(await findForkHeight(state, (h) => chain.hashAt(h))).toBe(4);
  });
});
