/**
 * Deposits and balances. `scan(chain)` runs the chain's reorg-aware scanner (src/chains/*\/scanner.ts) from
 * its saved state over every tenant's addresses on that chain, and books what it finds:
 *
 * - a new event paying a wallet is recorded `pending` (audit `deposit.detected`), and `credited` once it
 *   has the chain's confirmations (audit and outbox `deposit.credited`; coinbase outputs wait 100 blocks);
 * - a reorg drops a pending deposit (`deposit.dropped`) and turns a credited one `reorged`
 *   (`deposit.reorged`); found again in another block, it is booked again;
 * - on Bitcoin, credited outputs become available coins, spends of our coins mark them spent, and a reorg
 *   undoes both. An output of our own withdrawal paying the same wallet is change (`change.*`, no outbox).
 *
 * Every booking is one audited writer change, guarded by the state it expects, so a repeated, resumed or
 * concurrent scan books nothing twice. The scan state is saved only after everything it found is booked:
 * a crash in between re-finds the same events from the older state, and the guards make that harmless.
 *
 * Only ERC-20 contracts of the asset registry are watched; transfers of other tokens are ignored.
 */
import { pruneEvents, type ScanState, type ChainEvent } from '../chains/chain-scan.ts';
import { createBitcoinRpc, type BitcoinRpc } from '../chains/bitcoin/rpc.ts';
import {
  bitcoinCredits,
  initialBitcoinScanState,
  scanBitcoin,
  type BitcoinScanState,
  type BitcoinScanEvent,
} from '../chains/bitcoin/scanner.ts';
import { createEvmRpc, type EvmRpc } from '../chains/evm/rpc.ts';
import { evmCredits, initialEvmScanState, scanEvm, type EvmScanState } from '../chains/evm/scanner.ts';
import type { AssetInfo, AssetRegistry } from '../domain/assets.ts';
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { Queryable } from '../store/index.ts';
import { utxoRepository, type Outpoint, type WalletRef } from '../store/repositories/utxo-repository.ts';
import { walletAddressesRepository } from '../store/repositories/wallet-addresses-repository.ts';
import {
  chainScanRepository,
  depositCoinsRepository,
  depositsRepository,
  executionAmountsRepository,
  type Deposit,
  type DepositKind,
  type DepositState,
  type ScannedChain,
} from '../store/repositories/deposits-repository.ts';
import type { AuditedWriter, Trx } from './audited-writer.ts';
import { DEFAULTS, type ChainsConfig } from './chains-config.ts';

/** Blocks a coinbase output must be deep before it can be spent (consensus), so before it is credited. */
const COINBASE_MATURITY = 100;
/** Block hashes remembered per chain: the deepest reorg that can be repaired. */
const MAX_DEPTH: Record<ScannedChain, number> = { bitcoin: 100, ethereum: 128 };
/** Coins marked spent within this window stay watched, so the scanner still sees the spend in its block. */
const SPENT_WATCH_MS = 7 * 24 * 3600 * 1000;
/** Executions whose amount (and, on EVM chains, fee cap) is held back from the available balance. */
const IN_FLIGHT = new Set(['signing', 'signed', 'broadcast']);

export interface DepositsServiceDeps {
  writer: AuditedWriter;
  db: Queryable;
  now: () => Date;
  chains: ChainsConfig | undefined;
  assets: AssetRegistry;
  /** Only to check that a wallet exists. */
  vault: { wallet(tenant: string, walletId: string): Promise<unknown> };
  /** Node clients; default: built from the chains configuration on first use. */
  rpc?: { bitcoin?: BitcoinRpc; ethereum?: EvmRpc };
  /** First height scanned when a chain has no saved state; default: the last `maxDepth` blocks (100 / 128). */
  startHeight?: Partial<Record<ScannedChain, number>>;
  /** Most blocks scanned per `scan` call (default 1,000). */
  maxBlocksPerScan?: number;
}

export interface DepositView {
  id: string;
  walletId: string;
  chain: ScannedChain;
  asset: string;
  txid: string;
  /** vout (Bitcoin), log index (ERC-20), -1 (native ETH). */
  position: number;
  address: string;
  /** Base units, decimal string. */
  amount: string;
  blockHeight: number;
  blockHash: string;
  confirmations: number;
  state: DepositState;
  detectedAt: string;
  creditedAt: string | null;
  reorgedAt: string | null;
}

export interface BalanceView {
  asset: string;
  chain: ScannedChain;
  decimals: number;
  /** Base units, decimal strings. */
  available: string;
  pending: string;
  locked: string;
}

export interface ScanSummary {
  chain: ScannedChain;
  /** Height of the last block scanned. */
  tip: number;
  detected: number;
  credited: number;
  dropped: number;
  reorged: number;
  /** Coin bookings (spent / un-spent by a reorg), Bitcoin only. */
  coins: number;
}

/** One event paying one wallet, as the scanner sees it now. */
interface Found {
  owner: WalletRef;
  kind: DepositKind;
  chain: ScannedChain;
  asset: string;
  txid: string;
  position: number;
  address: string;
  amount: bigint;
  blockHeight: number;
  blockHash: string;
  confirmations: number;
  /** Confirmations needed before it is credited. */
  required: number;
  /** Bitcoin: the output's script, and the transaction seen spending it. */
  coin?: { script: string; spentBy: string | undefined };
}

interface SpendEvent {
  outpoint: Outpoint;
  spendingTxid: string;
}

/** What one scanner pass produced, in chain-neutral terms. */
interface Pass {
  state: ScanState<ChainEvent>;
  tip: number;
  /** Every credit the state knows, per owner: `tenant|wallet|txid:position`. */
  found: Map<string, Found>;
  /** Keys (`txid:position:blockHash`) of the credits added by this pass. */
  added: Set<string>;
  removedCredits: Array<{ txid: string; position: number; blockHash: string }>;
  addedSpends: SpendEvent[];
  removedSpends: SpendEvent[];
}

type Outcome = keyof Omit<ScanSummary, 'chain' | 'tip'> | 'none';

const foundKey = (o: WalletRef, txid: string, position: number) => `${o.tenantId}|${o.walletId}|${txid}:${position}`;
const eventKey = (txid: string, position: number, blockHash: string) => `${txid}:${position}:${blockHash}`;

export function createDepositsService(deps: DepositsServiceDeps) {
  const { writer, db, now, chains, assets } = deps;
  const maxBlocks = deps.maxBlocksPerScan ?? 1_000;
  let ownBitcoinRpc: BitcoinRpc | undefined;
  let ownEvmRpc: EvmRpc | undefined;
  const queues = new Map<ScannedChain, Promise<unknown>>();

  function required(chain: ScannedChain): number {
    const n = (chain === 'bitcoin' ? chains?.bitcoin?.confirmations : chains?.ethereum?.confirmations) ?? DEFAULTS.confirmations;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DEPTH[chain]) {
      throw new StrongroomError('E_VALIDATION', `${chain} confirmations must be an integer from 1 to ${MAX_DEPTH[chain]}`, {
        details: { parameter: 'confirmations' },
      });
    }
    return n;
  }

  function networkOf(chain: ScannedChain): string {
    if (chain === 'bitcoin') {
      if (!chains?.bitcoin) throw notConfigured(chain);
      return chains.bitcoin.network;
    }
    if (!chains?.ethereum) throw notConfigured(chain);
    return `eip155:${chains.ethereum.chainId}`;
  }

  function bitcoinRpc(): BitcoinRpc {
    if (deps.rpc?.bitcoin) return deps.rpc.bitcoin;
    if (!chains?.bitcoin) throw notConfigured('bitcoin');
    return (ownBitcoinRpc ??= createBitcoinRpc(chains.bitcoin.rpc));
  }

  function evmRpc(): EvmRpc {
    if (deps.rpc?.ethereum) return deps.rpc.ethereum;
    if (!chains?.ethereum) throw notConfigured('ethereum');
    return (ownEvmRpc ??= createEvmRpc(chains.ethereum.rpcUrl, { expectedChainId: BigInt(chains.ethereum.chainId) }));
  }

  async function tipOf(chain: ScannedChain): Promise<number> {
    return chain === 'bitcoin' ? bitcoinRpc().getBlockCount() : evmRpc().getBlockNumber();
  }

  // ------------------------------------------------------------------------------------- scanner passes

  /**
   * Runs the scanner once. Addresses added while it ran would be missing from the blocks it read, so if the
   * watch list grew meanwhile the pass is thrown away and run again over the same blocks (nothing is booked
   * before a pass is final). An address handed out after the final check cannot have been paid in a block
   * read before it.
   */
  async function stablePass<T>(chain: ScannedChain, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await chainScanRepository.watchedAddresses(db, chain);
      const result = await run();
      if ((await chainScanRepository.watchedAddresses(db, chain)) === before) return result;
    }
    throw new StrongroomError('E_CONFLICT', `addresses on ${chain} keep being added while scanning; try again`, {
      details: { chain, retriable: true },
    });
  }

  async function bitcoinPass(start: BitcoinScanState): Promise<Pass> {
    const n = required('bitcoin');
    return stablePass('bitcoin', async () => {
      const addresses = await walletAddressesRepository.allOnChain(db, 'bitcoin');
      const scripts = new Map<string, string>();
      const byScript = new Map<string, WalletRef[]>();
      for (const a of addresses) {
        scripts.set(a.script, a.address);
        push(byScript, a.script, { tenantId: a.tenantId, walletId: a.walletId });
      }
      const coins = await depositCoinsRepository.watched(db, new Date(now().getTime() - SPENT_WATCH_MS).toISOString());
      const outpoints = new Set(coins.map((c) => `${c.txid}:${c.vout}`));
      const r = await scanBitcoin(bitcoinRpc(), start, { scripts, outpoints }, { maxBlocks });

      const events: readonly BitcoinScanEvent[] = r.state.events;
      const spends = events.filter((e) => e.kind === 'spend');
      const spentBy = new Map(spends.map((s) => [`${s.outpoint.txid}:${s.outpoint.vout}`, s.spendingTxid]));
      // Who owned each outpoint our transactions spent: our coin table, or a credit the state still holds.
      const owners = new Map<string, WalletRef[]>();
      for (const c of await depositCoinsRepository.owners(db, spends.map((s) => s.outpoint))) {
        push(owners, `${c.txid}:${c.vout}`, { tenantId: c.tenantId, walletId: c.walletId });
      }
      for (const e of events) {
        if (e.kind !== 'credit') continue;
        const k = `${e.txid}:${e.vout}`;
        if (!owners.has(k)) for (const o of byScript.get(e.script) ?? []) push(owners, k, o);
      }
      // A transaction spending a wallet's coin and paying the same wallet is that wallet's change; so is an
      // output of a withdrawal the executor recorded.
      const spenders = new Map<string, Set<string>>();
      const creditTxids = [...new Set(events.flatMap((e) => (e.kind === 'credit' ? [e.txid] : [])))];
      for (const w of await executionAmountsRepository.withdrawalTxids(db, 'bitcoin', creditTxids)) {
        let set = spenders.get(w.txid);
        if (!set) spenders.set(w.txid, (set = new Set()));
        set.add(`${w.tenantId}|${w.walletId}`);
      }
      for (const s of spends) {
        for (const o of owners.get(`${s.outpoint.txid}:${s.outpoint.vout}`) ?? []) {
          let set = spenders.get(s.spendingTxid);
          if (!set) spenders.set(s.spendingTxid, (set = new Set()));
          set.add(`${o.tenantId}|${o.walletId}`);
        }
      }

      const found = new Map<string, Found>();
      for (const c of bitcoinCredits(r.state)) {
        for (const owner of byScript.get(c.script) ?? []) {
          const change = spenders.get(c.txid)?.has(`${owner.tenantId}|${owner.walletId}`) === true;
          found.set(foundKey(owner, c.txid, c.vout), {
            owner, kind: change ? 'change' : 'deposit', chain: 'bitcoin', asset: 'BTC', txid: c.txid, position: c.vout,
            address: c.address, amount: c.value, blockHeight: c.height, blockHash: c.blockHash, confirmations: c.confirmations,
            required: c.coinbase ? Math.max(n, COINBASE_MATURITY) : n,
            coin: { script: c.script, spentBy: spentBy.get(`${c.txid}:${c.vout}`) },
          });
        }
      }
      const spendOf = (e: BitcoinScanEvent): SpendEvent[] =>
        e.kind === 'spend' ? [{ outpoint: e.outpoint, spendingTxid: e.spendingTxid }] : [];
      return {
        state: r.state as ScanState<ChainEvent>,
        tip: r.tip,
        found,
        added: new Set(r.added.flatMap((e) => (e.kind === 'credit' ? [eventKey(e.txid, e.vout, e.blockHash)] : []))),
        removedCredits: r.removed.flatMap((e) => (e.kind === 'credit' ? [{ txid: e.txid, position: e.vout, blockHash: e.blockHash }] : [])),
        addedSpends: r.added.flatMap(spendOf),
        removedSpends: r.removed.flatMap(spendOf),
      };
    });
  }

  async function evmPass(start: EvmScanState): Promise<Pass> {
    const n = required('ethereum');
    const tokens = [...assets.values()].filter((a): a is AssetInfo & { contract: string } => a.chain === 'ethereum' && a.contract !== undefined);
    const symbolOf = new Map(tokens.map((t) => [t.contract.toLowerCase(), t.symbol]));
    return stablePass('ethereum', async () => {
      const addresses = await walletAddressesRepository.allOnChain(db, 'ethereum');
      const byAddress = new Map<string, WalletRef[]>();
      for (const a of addresses) push(byAddress, a.address.toLowerCase(), { tenantId: a.tenantId, walletId: a.walletId });
      const r = await scanEvm(evmRpc(), start, { addresses: [...byAddress.keys()], tokens: tokens.map((t) => t.contract) }, { maxBlocks });
      const found = new Map<string, Found>();
      for (const c of evmCredits(r.state)) {
        const position = c.kind === 'token' ? c.logIndex : -1;
        const asset = c.kind === 'token' ? symbolOf.get(c.token.toLowerCase()) : 'ETH';
        if (asset === undefined) continue;
        for (const owner of byAddress.get(c.to.toLowerCase()) ?? []) {
          found.set(foundKey(owner, c.hash, position), {
            owner, kind: 'deposit', chain: 'ethereum', asset, txid: c.hash, position, address: c.to, amount: c.value,
            blockHeight: c.height, blockHash: c.blockHash, confirmations: c.confirmations, required: n,
          });
        }
      }
      const pos = (c: (typeof r.added)[number]) => (c.kind === 'token' ? c.logIndex : -1);
      return {
        state: r.state as ScanState<ChainEvent>,
        tip: r.tip,
        found,
        added: new Set(r.added.map((c) => eventKey(c.hash, pos(c), c.blockHash))),
        removedCredits: r.removed.map((c) => ({ txid: c.hash, position: pos(c), blockHash: c.blockHash })),
        addedSpends: [],
        removedSpends: [],
      };
    });
  }

  // ------------------------------------------------------------------------------------------ bookings

  /** One audited change for one tenant; `run` answers what changed, or null when nothing did (no audit). */
  async function book(
    tenantId: string,
    action: string,
    outcome: Outcome,
    run: (trx: Trx, at: string) => Promise<{ payload: object; topic?: string | undefined } | null>,
  ): Promise<Outcome> {
    return writer.write<Outcome>({
      tenant: tenantId,
      actor: 'system',
      action,
      requestDigest: null,
      async run(trx) {
        const r = await run(trx, now().toISOString());
        if (!r) return { value: 'none', payloadDigest: null, noop: true };
        return {
          value: outcome,
          payloadDigest: digestOf(r.payload),
          ...(r.topic ? { events: [{ topic: r.topic, payload: r.payload }] } : {}),
        };
      },
    });
  }

  const topic = (kind: DepositKind, what: string) => (kind === 'deposit' ? `deposit.${what}` : undefined);

  /** A credited Bitcoin output becomes a coin of the wallet (spent at once if we saw it spent). */
  async function bookCoin(trx: Trx, f: Found, at: string): Promise<void> {
    if (f.chain !== 'bitcoin' || !f.coin) return;
    await utxoRepository.upsertCoins(
      trx, f.owner,
      [{ txid: f.txid, vout: f.position, value: f.amount, script: f.coin.script, address: f.address, height: f.blockHeight }],
      at,
    );
    if (f.coin.spentBy) await utxoRepository.markSpent(trx, f.owner, [{ txid: f.txid, vout: f.position }], f.coin.spentBy, at);
  }

  async function recordFound(f: Found): Promise<Outcome> {
    const existing = await depositsRepository.byEvent(db, f.owner.tenantId, f.chain, f.txid, f.position);
    const creditable = f.confirmations >= f.required;
    const placement = { blockHeight: f.blockHeight, blockHash: f.blockHash, confirmations: f.confirmations };
    if (!existing) {
      const what = creditable ? 'credited' : 'detected';
      return book(f.owner.tenantId, `${f.kind}.${what}`, creditable ? 'credited' : 'detected', async (trx, at) => {
        const row: Deposit = {
          id: newId('dep'), tenantId: f.owner.tenantId, walletId: f.owner.walletId, chain: f.chain, asset: f.asset, kind: f.kind,
          txid: f.txid, position: f.position, address: f.address, amount: f.amount, ...placement,
          state: creditable ? 'credited' : 'pending', detectedAt: at, creditedAt: creditable ? at : null, reorgedAt: null, updatedAt: at,
        };
        if (!(await depositsRepository.insert(trx, row))) return null;
        if (creditable) await bookCoin(trx, f, at);
        return { payload: view(row), topic: topic(f.kind, what) };
      });
    }
    if (existing.state !== 'reorged' && existing.blockHash === f.blockHash) return 'none';
    // Found again after a reorg, or (a reorg we did not see) in another block than recorded.
    const state: DepositState = existing.state === 'credited' || creditable ? 'credited' : 'pending';
    const what = state === 'credited' && existing.state !== 'credited' ? 'credited' : existing.state === 'reorged' ? 'detected' : 'moved';
    return book(f.owner.tenantId, `${f.kind}.${what}`, what === 'moved' ? 'none' : what, async (trx, at) => {
      if (!(await depositsRepository.relocate(trx, existing.id, existing, { ...placement, state }, at))) return null;
      if (state === 'credited') await bookCoin(trx, f, at);
      const row = await depositsRepository.get(trx, existing.tenantId, existing.id);
      return { payload: view(row!), topic: topic(f.kind, what) };
    });
  }

  async function creditPending(chain: ScannedChain, pass: Pass): Promise<Outcome[]> {
    const due: Array<{ row: Deposit; f: Found }> = [];
    for (const row of await depositsRepository.pendingOnChain(db, chain)) {
      const f = pass.found.get(foundKey(row, row.txid, row.position));
      if (f && f.blockHash === row.blockHash && f.confirmations >= f.required) due.push({ row, f });
    }
    return settleAll(due.map(({ row, f }) =>
      book(row.tenantId, `${row.kind}.credited`, 'credited', async (trx, at) => {
        const placement = { blockHeight: f.blockHeight, blockHash: f.blockHash, confirmations: f.confirmations };
        if (!(await depositsRepository.markCredited(trx, row.id, placement, at))) return null;
        await bookCoin(trx, f, at);
        return { payload: view({ ...row, ...placement, state: 'credited', creditedAt: at }), topic: topic(row.kind, 'credited') };
      }),
    ));
  }

  async function unbookRemoved(chain: ScannedChain, removed: Pass['removedCredits']): Promise<Outcome[]> {
    const jobs: Array<Promise<Outcome>> = [];
    for (const e of removed) {
      for (const row of await depositsRepository.inBlock(db, chain, e.txid, e.position, e.blockHash)) {
        if (row.state === 'pending') {
          jobs.push(book(row.tenantId, `${row.kind}.dropped`, 'dropped', async (trx) =>
            (await depositsRepository.deletePending(trx, row.id, e.blockHash))
              ? { payload: view({ ...row, state: 'pending' }), topic: topic(row.kind, 'dropped') }
              : null,
          ));
        } else if (row.state === 'credited') {
          jobs.push(book(row.tenantId, `${row.kind}.reorged`, 'reorged', async (trx, at) => {
            if (!(await depositsRepository.markReorged(trx, row.id, e.blockHash, at))) return null;
            if (chain === 'bitcoin') await depositCoinsRepository.forget(trx, row, { txid: row.txid, vout: row.position }, at);
            return { payload: view({ ...row, state: 'reorged', reorgedAt: at }), topic: topic(row.kind, 'reorged') };
          }));
        }
      }
    }
    return settleAll(jobs);
  }

  /** Marks (or, after a reorg, un-marks) our coins spent by each transaction, one change per wallet and tx. */
  async function bookSpends(spends: SpendEvent[], undo: boolean): Promise<Outcome[]> {
    const byTx = new Map<string, Outpoint[]>();
    for (const s of spends) push(byTx, s.spendingTxid, s.outpoint);
    const jobs: Array<Promise<Outcome>> = [];
    for (const [txid, outpoints] of byTx) {
      const byWallet = new Map<string, { wallet: WalletRef; outpoints: Outpoint[] }>();
      for (const c of await depositCoinsRepository.owners(db, outpoints)) {
        const k = `${c.tenantId}|${c.walletId}`;
        const g = byWallet.get(k) ?? { wallet: { tenantId: c.tenantId, walletId: c.walletId }, outpoints: [] };
        g.outpoints.push({ txid: c.txid, vout: c.vout });
        byWallet.set(k, g);
      }
      for (const { wallet, outpoints: ours } of byWallet.values()) {
        const payload = { walletId: wallet.walletId, spendingTxid: txid, outpoints: ours.map((o) => `${o.txid}:${o.vout}`) };
        jobs.push(undo
          ? book(wallet.tenantId, 'utxo.unspent', 'coins', async (trx, at) =>
              (await utxoRepository.unmarkSpent(trx, wallet, txid, at)) > 0 ? { payload } : null)
          : book(wallet.tenantId, 'utxo.spent', 'coins', async (trx, at) => {
              const todo = await depositCoinsRepository.notSpentBy(trx, wallet, ours, txid);
              if (todo.length === 0) return null;
              await utxoRepository.markSpent(trx, wallet, todo, txid, at);
              return { payload };
            }));
      }
    }
    return settleAll(jobs);
  }

  // -------------------------------------------------------------------------------------------- scan

  async function scanOnce(chain: ScannedChain): Promise<ScanSummary> {
    const network = networkOf(chain);
    const saved = await chainScanRepository.get(db, chain);
    if (saved && saved.network !== network) {
      throw new StrongroomError('E_CONFLICT', `the saved ${chain} scan is of network ${saved.network}, not ${network}`, {
        details: { chain, saved: saved.network, configured: network },
        hints: ['a database follows one network per chain; use a fresh database for another network'],
      });
    }
    let state: ScanState<ChainEvent>;
    if (saved) state = decodeState(saved.state);
    else {
      const depth = MAX_DEPTH[chain];
      const from = deps.startHeight?.[chain] ?? Math.max(0, (await tipOf(chain)) - depth + 1);
      state = chain === 'bitcoin' ? initialBitcoinScanState(from, depth) : initialEvmScanState(from, depth);
    }
    const pass = chain === 'bitcoin'
      ? await bitcoinPass(state as unknown as BitcoinScanState)
      : await evmPass(state as unknown as EvmScanState);

    // Undo first (a reorg), then book what is on the chain now, then what became deep enough.
    const outcomes: Outcome[] = [];
    outcomes.push(...(await bookSpends(pass.removedSpends, true)));
    outcomes.push(...(await unbookRemoved(chain, pass.removedCredits)));
    const added = [...pass.found.values()].filter((f) => pass.added.has(eventKey(f.txid, f.position, f.blockHash)));
    outcomes.push(...(await settleAll(added.map(recordFound))));
    outcomes.push(...(await creditPending(chain, pass)));
    outcomes.push(...(await bookSpends(pass.addedSpends, false)));

    // Events below the reorg window can no longer change, and were booked above.
    const settled = pruneEvents(pass.state, (e) => e.height <= pass.tip - pass.state.maxDepth);
    const ok = await chainScanRepository.save(
      db, { chain, network, state: encodeState(settled), tip: pass.tip }, saved?.version ?? 0, now().toISOString(),
    );
    if (!ok) {
      throw new StrongroomError('E_CONFLICT', `another scanner saved the ${chain} scan first`, {
        details: { chain, retriable: true },
        hints: ['what this scan booked stands; the next scan continues from the newer state'],
      });
    }
    const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
    return {
      chain, tip: pass.tip, detected: count('detected'), credited: count('credited'), dropped: count('dropped'),
      reorged: count('reorged'), coins: count('coins'),
    };
  }

  /**
   * Scans `chain` from its saved state to the node's tip (at most `maxBlocksPerScan` blocks) and books
   * what it finds. Calls for the same chain run one after another.
   */
  function scan(chain: ScannedChain): Promise<ScanSummary> {
    if (chain !== 'bitcoin' && chain !== 'ethereum') {
      throw new StrongroomError('E_VALIDATION', 'chain must be bitcoin or ethereum', { details: { parameter: 'chain' } });
    }
    const prev = queues.get(chain) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => scanOnce(chain));
    queues.set(chain, next);
    return next;
  }

  /** The chains this deployment scans. */
  function configuredChains(): ScannedChain[] {
    return [...(chains?.bitcoin ? ['bitcoin' as const] : []), ...(chains?.ethereum ? ['ethereum' as const] : [])];
  }

  return {
    scan,
    chains: configuredChains,

    /**
     * Balances of a wallet per asset of its configured chains, in base units. Bitcoin: available = credited
     * coins not locked or spent, locked = coins locked by withdrawals in flight. EVM chains (account model):
     * available = credited deposits − confirmed withdrawals (and every fee paid, in the native coin) −
     * locked, locked = amounts (and fee caps, in the native coin) of withdrawals in flight. Pending: deposits
     * still waiting for their confirmations.
     */
    async balances(tenantId: string, walletId: string): Promise<BalanceView[]> {
      await deps.vault.wallet(tenantId, walletId);
      const wallet = { tenantId, walletId };
      const deposits = await depositsRepository.amountsOfWallet(db, tenantId, walletId);
      const sum = (xs: Iterable<bigint>) => [...xs].reduce((a, b) => a + b, 0n);
      const depositSum = (asset: string, state: DepositState) =>
        sum(deposits.filter((x) => x.kind === 'deposit' && x.asset === asset && x.state === state).map((x) => x.amount));
      const out: BalanceView[] = [];
      if (chains?.bitcoin) {
        const coins = await depositCoinsRepository.ofWallet(db, wallet);
        out.push({
          asset: 'BTC', chain: 'bitcoin', decimals: 8,
          available: sum(coins.filter((c) => c.state === 'available' && c.height !== null).map((c) => c.value)).toString(),
          pending: depositSum('BTC', 'pending').toString(),
          locked: sum(coins.filter((c) => c.state === 'locked').map((c) => c.value)).toString(),
        });
      }
      if (chains?.ethereum) {
        const executions = await executionAmountsRepository.ofWallet(db, tenantId, walletId, 'ethereum');
        const inFlight = executions.filter((e) => IN_FLIGHT.has(e.state));
        // A mined transaction pays its fee even when it fails.
        const feesPaid = sum(executions.filter((e) => (e.state === 'confirmed' || e.state === 'failed') && e.fee !== null).map((e) => e.fee!));
        for (const a of assets.values()) {
          if (a.chain !== 'ethereum') continue;
          const native = a.contract === undefined;
          const locked = sum(inFlight.filter((e) => e.asset === a.symbol).map((e) => e.amount)) +
            (native ? sum(inFlight.map((e) => e.feeCap)) : 0n);
          const sent = sum(executions.filter((e) => e.state === 'confirmed' && e.asset === a.symbol).map((e) => e.amount)) +
            (native ? feesPaid : 0n);
          out.push({
            asset: a.symbol, chain: 'ethereum', decimals: a.decimals,
            available: (depositSum(a.symbol, 'credited') - sent - locked).toString(),
            pending: depositSum(a.symbol, 'pending').toString(),
            locked: locked.toString(),
          });
        }
      }
      return out;
    },

    /** A tenant's deposits (change outputs excluded), newest first; confirmations as of the last scan. */
    async list(tenantId: string, opts: { walletId?: string; limit?: number; before?: string } = {}): Promise<DepositView[]> {
      const rows = await depositsRepository.list(db, tenantId, { ...opts, limit: Math.min(opts.limit ?? 50, 500) });
      const tips = new Map<ScannedChain, number>();
      for (const chain of ['bitcoin', 'ethereum'] as const) {
        const s = await chainScanRepository.get(db, chain);
        if (s) tips.set(chain, s.tip);
      }
      return rows.map((r) => {
        const tip = tips.get(r.chain);
        const live = r.state === 'reorged' || tip === undefined ? 0 : tip - r.blockHeight + 1;
        return view({ ...r, confirmations: Math.max(r.confirmations, live) });
      });
    },

    /** Scans every configured chain every `intervalMs` until stopped; errors go to `onError`. */
    start(intervalMs: number, onError: (e: unknown, chain: ScannedChain) => void = () => undefined): { stop(): Promise<void> } {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let current: Promise<unknown> = Promise.resolve();
      const tick = () => {
        current = (async () => {
          for (const chain of configuredChains()) {
            if (stopped) return;
            await scan(chain).catch((e: unknown) => onError(e, chain));
          }
        })().finally(() => {
          if (!stopped) timer = setTimeout(tick, intervalMs).unref();
        });
      };
      tick();
      return {
        async stop() {
          stopped = true;
          if (timer) clearTimeout(timer);
          await current;
        },
      };
    },

    close(): void {
      ownEvmRpc?.destroy();
      ownEvmRpc = undefined;
      ownBitcoinRpc = undefined;
    },
  };
}

export type DepositsService = ReturnType<typeof createDepositsService>;

function view(r: Deposit): DepositView {
  return {
    id: r.id, walletId: r.walletId, chain: r.chain, asset: r.asset, txid: r.txid, position: r.position, address: r.address,
    amount: r.amount.toString(), blockHeight: r.blockHeight, blockHash: r.blockHash, confirmations: r.confirmations,
    state: r.state, detectedAt: r.detectedAt, creditedAt: r.creditedAt, reorgedAt: r.reorgedAt,
  };
}

function notConfigured(chain: ScannedChain): StrongroomError {
  return new StrongroomError('E_CHAIN_NOT_CONFIGURED', `no ${chain} chain is configured`, {
    details: { chain },
    hints: ['add it to the chains configuration (chains.json)'],
  });
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

/** Waits for every booking, then fails with the first error (so no booking is left running). */
async function settleAll<T>(jobs: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Scan states hold bigints (amounts); JSON carries them as {"$bigint": "…"}. */
export function encodeState(state: unknown): string {
  return JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function decodeState<T>(text: string): T {
  const parsed = JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$bigint' && typeof o.$bigint === 'string' && /^-?[0-9]+$/.test(o.$bigint)) return BigInt(o.$bigint);
    }
    return v;
  }) as Record<string, unknown>;
  const ok = parsed !== null && typeof parsed === 'object' &&
    Number.isSafeInteger(parsed.startHeight) && Number.isSafeInteger(parsed.nextHeight) && Number.isSafeInteger(parsed.maxDepth) &&
    Array.isArray(parsed.recent) && Array.isArray(parsed.events);
  if (!ok) throw new StrongroomError('E_VALIDATION', 'the saved scan state is malformed', { details: { parameter: 'chain_scans.state' } });
  return parsed as T;
}
