import { describe, expect, it } from 'vitest';
import {
  bitcoinCredits,
  extractBitcoinEvents,
  initialBitcoinScanState,
  unspentCredits,
  type BitcoinScanState,
} from './scanner.ts';
import { applyBlock } from '../chain-scan.ts';
import type { ParsedBlock } from './raw-block.ts';

const OURS = '0014' + '11'.repeat(20);
const THEIRS = '0014' + '22'.repeat(20);
const watch = { scripts: new Map([[OURS, 'rb1qours']]) };
const coinbase = (txid: string, script: string, value: bigint) => ({
  txid,
  inputs: [],
  outputs: [{ value, script }],
});

function feed(state: BitcoinScanState, height: number, txs: ParsedBlock['txs']): BitcoinScanState {
  const block = { height, hash: `h${height}`, parentHash: `h${height - 1}`, txs };
  const r = applyBlock(state, block, extractBitcoinEvents(block, state, watch));
  if (r.kind !== 'applied') throw new Error('reorg');
  return r.state;
}

describe('bitcoin scanner (pure extraction)', () => {
  it('credits outputs to watched scripts only, flags coinbases, and counts confirmations', () => {
    let s = initialBitcoinScanState(10);
    s = feed(s, 10, [
      coinbase('aa'.repeat(32), OURS, 50n),
      {
        txid: 'bb'.repeat(32),
        inputs: [{ txid: 'ff'.repeat(32), vout: 0 }],
        outputs: [
          { value: 7n, script: THEIRS },
          { value: 9n, script: OURS },
        ],
      },
    ]);
    s = feed(s, 11, []);
    const credits = bitcoinCredits(s);
    expect(credits.map((c) => [c.txid.slice(0, 2), c.vout, c.value, c.coinbase, c.confirmations])).toEqual([
      ['aa', 0, 50n, true, 2],
      ['bb', 1, 9n, false, 2],
    ]);
  });

  it('records spends of earlier credits, including one spent later in the same block', () => {
    let s = initialBitcoinScanState(0);
    s = feed(s, 0, [coinbase('aa'.repeat(32), OURS, 50n)]);
    s = feed(s, 1, [
      coinbase('c1'.repeat(32), THEIRS, 50n),
      {
        txid: 'bb'.repeat(32),
        inputs: [{ txid: 'aa'.repeat(32), vout: 0 }],
        outputs: [{ value: 49n, script: OURS }],
      },
      {
        txid: 'cc'.repeat(32),
        inputs: [{ txid: 'bb'.repeat(32), vout: 0 }],
        outputs: [{ value: 48n, script: THEIRS }],
      },
    ]);
    const spends = s.events.filter((e) => e.kind === 'spend');
    expect(
      spends.map((e) =>
        e.kind === 'spend' ? [e.outpoint.txid.slice(0, 2), e.spendingTxid.slice(0, 2)] : [],
      ),
    ).toEqual([
      ['aa', 'bb'],
      ['bb', 'cc'],
    ]);
    expect(unspentCredits(s)).toEqual([]);
  });

  it('ignores spends of outpoints that are not ours', () => {
    const s = feed(initialBitcoinScanState(0), 0, [
      { txid: 'dd'.repeat(32), inputs: [{ txid: 'ee'.repeat(32), vout: 3 }], outputs: [] },
    ]);
    expect(s.events).toEqual([]);
  });
});
