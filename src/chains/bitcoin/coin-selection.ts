/**
 * Coin selection: which UTXOs fund a payment. Pure and deterministic (same inputs, same answer), so a
 * retried build picks the same coins.
 *
 * - `branch-and-bound` (Murch / Bitcoin Core): look for a set whose effective value lands in
 *   [target, target + cost of change], so no change output is needed (cheaper, more private). Bounded search;
 *   falls back to largest-first when no such set exists.
 * - `largest-first`: add the largest coins until the payment and fee are covered; change if above dust.
 *
 * Effective value = amount − fee to spend the coin at the chosen rate; coins worth less than that are skipped.
 */
import { StrongroomError } from '../../domain/errors.ts';
import { dustThreshold, feeFor, inputWeight, txWeight, vsizeOf, type SpendKind } from './size.ts';

export interface SelectableCoin {
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
  readonly kind: SpendKind;
}

export interface CoinSelectionParams<C extends SelectableCoin> {
  readonly coins: readonly C[];
  /** Script lengths and amounts of the payment outputs. */
  readonly outputs: ReadonlyArray<{ readonly scriptLength: number; readonly amount: bigint }>;
  /** The change output's script (for its size and dust threshold). */
  readonly changeScript: Uint8Array;
  /** sat/vB, already floored by the caller's policy. */
  readonly feeRate: number;
  readonly strategy?: 'branch-and-bound' | 'largest-first';
  /** Upper bound on branch-and-bound tries (Bitcoin Core uses 100,000). */
  readonly maxTries?: number;
}

export interface CoinSelection<C extends SelectableCoin> {
  readonly selected: C[];
  readonly fee: bigint;
  /** 0n when there is no change output. */
  readonly change: bigint;
  readonly vsize: number;
  readonly strategy: 'branch-and-bound' | 'largest-first';
}

export function selectCoins<C extends SelectableCoin>(p: CoinSelectionParams<C>): CoinSelection<C> {
  if (!(p.feeRate > 0) || !Number.isFinite(p.feeRate)) {
    throw new StrongroomError('E_VALIDATION', 'feeRate must be a positive number of sat/vB', {
      details: { parameter: 'feeRate' },
    });
  }
  if (p.outputs.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'at least one output is required', {
      details: { parameter: 'outputs' },
    });
  }
  const payment = p.outputs.reduce((s, o) => s + o.amount, 0n);
  const outLens = p.outputs.map((o) => o.scriptLength);
  const spendable = [...p.coins]
    .filter((c) => effectiveValue(c, p.feeRate) > 0n)
    // Deterministic order: largest first, then by outpoint.
    .sort((a, b) => (a.amount === b.amount ? outpointOrder(a, b) : a.amount > b.amount ? -1 : 1));

  if (p.strategy !== 'largest-first') {
    const bnb = branchAndBound(spendable, payment, outLens, p);
    if (bnb) return bnb;
  }
  return largestFirst(spendable, payment, outLens, p);
}

function largestFirst<C extends SelectableCoin>(
  coins: C[],
  payment: bigint,
  outLens: number[],
  p: CoinSelectionParams<C>,
): CoinSelection<C> {
  const selected: C[] = [];
  let total = 0n;
  const dust = dustThreshold(p.changeScript);
  for (const coin of coins) {
    selected.push(coin);
    total += coin.amount;
    const kinds = selected.map((c) => c.kind);
    const vsizeWithChange = vsizeOf(txWeight(kinds, [...outLens, p.changeScript.length]));
    const feeWithChange = feeFor(vsizeWithChange, p.feeRate);
    const change = total - payment - feeWithChange;
    if (change >= dust)
      return { selected, fee: feeWithChange, change, vsize: vsizeWithChange, strategy: 'largest-first' };
    const vsizeNoChange = vsizeOf(txWeight(kinds, outLens));
    const feeNoChange = feeFor(vsizeNoChange, p.feeRate);
    // Below dust, the remainder goes to the miner instead of a change output nobody could spend profitably.
    if (total - payment >= feeNoChange) {
      return { selected, fee: total - payment, change: 0n, vsize: vsizeNoChange, strategy: 'largest-first' };
    }
  }
  throw new StrongroomError('E_INSUFFICIENT_FUNDS', 'insufficient funds for the payment and its fee', {
    details: { parameter: 'utxos', available: total.toString(), payment: payment.toString() },
  });
}

function branchAndBound<C extends SelectableCoin>(
  coins: C[],
  payment: bigint,
  outLens: number[],
  p: CoinSelectionParams<C>,
): CoinSelection<C> | undefined {
  const fixedVsize = txWeight([], outLens) / 4;
  const target = payment + feeFor(fixedVsize, p.feeRate);
  // Cost of change: creating the change output now plus spending it later.
  const costOfChange =
    feeFor(txWeight([], [p.changeScript.length]) / 4 - txWeight([], []) / 4, p.feeRate) +
    feeFor(inputWeight(p.changeScript[0] === 0x51 ? 'p2tr' : 'p2wpkh') / 4, p.feeRate);
  const values = coins.map((c) => effectiveValue(c, p.feeRate));
  const remainingAfter: bigint[] = [];
  let acc = 0n;
  for (let i = values.length - 1; i >= 0; i--) {
    remainingAfter[i] = acc;
    acc += values[i]!;
  }
  if (acc < target) return undefined;

  const maxTries = p.maxTries ?? 100_000;
  let tries = 0;
  let best: number[] | undefined;
  let bestWaste: bigint | undefined;
  const chosen: number[] = [];

  // Depth-first over include/exclude decisions, largest coins first.
  const visit = (i: number, sum: bigint): void => {
    if (++tries > maxTries) return;
    if (sum > target + costOfChange) return; // overshoot: would need change anyway
    if (sum >= target) {
      const waste = sum - target;
      if (bestWaste === undefined || waste < bestWaste) {
        bestWaste = waste;
        best = [...chosen];
      }
      return;
    }
    if (i >= values.length || sum + values[i]! + remainingAfter[i]! < target) return; // cannot reach target
    chosen.push(i);
    visit(i + 1, sum + values[i]!);
    chosen.pop();
    if (bestWaste === 0n) return;
    visit(i + 1, sum);
  };
  visit(0, 0n);
  if (!best) return undefined;
  const selected = best.map((i) => coins[i]!);
  const total = selected.reduce((s, c) => s + c.amount, 0n);
  const vsize = vsizeOf(
    txWeight(
      selected.map((c) => c.kind),
      outLens,
    ),
  );
  // Per-part rounding can leave the whole a satoshi short of the rate; then let largest-first decide.
  if (total - payment < feeFor(vsize, p.feeRate)) return undefined;
  return { selected, fee: total - payment, change: 0n, vsize, strategy: 'branch-and-bound' };
}

function effectiveValue(c: SelectableCoin, feeRate: number): bigint {
  return c.amount - feeFor(inputWeight(c.kind) / 4, feeRate);
}

function outpointOrder(a: SelectableCoin, b: SelectableCoin): number {
  return a.txid === b.txid ? a.vout - b.vout : a.txid < b.txid ? -1 : 1;
}
