/**
 * New wallet secrets and their public info for `createWallet`, made in the vault's worker threads when
 * wallets are created concurrently, so the seed, its BIP32 derivation (three account xpubs, the master
 * fingerprint: seven libsecp256k1 point multiplications) and, for BIP39 seeds, PBKDF2 use every core and
 * leave the event loop to I/O.
 *
 * Requests made in the same turn of the event loop go to the workers together (a few messages, not one
 * per wallet). Nothing is made ahead of a request: no pool of ready seeds waits in memory. The secret comes
 * back in a transferred buffer that is copied per wallet and wiped at once; the caller seals and wipes its
 * copy. Workers hold no master key: the cryptogram is sealed on the caller's thread, by the seal itself.
 *
 * A lone creation (nothing else in flight) runs on the calling thread: starting workers costs more than
 * one wallet, and so do requests made while they start. Workers start at the first concurrent request.
 */
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import { StrongroomError } from '../domain/errors.ts';
import { wipe } from './bytes.ts';
import { VaultWorkerPool, defaultWorkerCount } from './vault-worker-pool.ts';
import type { WalletsResult } from './vault-worker-tasks.ts';
import { checkSeedSource, generateWalletSecret, publicInfoOfSecret, type SeedSource, type WalletPublicInfo } from './wallets.ts';

export interface NewWallet {
  /** The wallet secret (wallets.ts layout); the caller wipes it. */
  secret: Uint8Array;
  info: WalletPublicInfo;
}

export interface WalletMakerOptions {
  seeds: SeedSource;
  network: BitcoinNetworkName;
  /** Worker threads; 0 makes every wallet on the calling thread. Default: one per core (at most four). */
  workers?: number;
}

/** Most wallets in one message to a worker. */
const MAX_PER_MESSAGE = 8;

interface Waiting {
  resolve: (w: NewWallet) => void;
  reject: (e: unknown) => void;
}

export class WalletMaker {
  readonly #seeds: SeedSource;
  readonly #network: BitcoinNetworkName;
  readonly #workers: number;
  #pool: VaultWorkerPool | undefined;
  #queue: Waiting[] = [];
  #scheduled = false;
  #closed = false;

  constructor(options: WalletMakerOptions) {
    checkSeedSource(options.seeds);
    this.#seeds = options.seeds;
    this.#network = options.network;
    this.#workers = options.workers ?? defaultWorkerCount();
  }

  get seeds(): SeedSource {
    return this.#seeds;
  }

  /** True while wallets go to worker threads (they have started and not failed or closed). */
  get threaded(): boolean {
    return this.#poolFor(1) !== undefined;
  }

  /**
   * One new wallet secret and its public info. `concurrent`: how many creations the caller has in flight,
   * this one included (workers start at the first concurrent one).
   */
  async make(concurrent = 1): Promise<NewWallet> {
    const pool = this.#poolFor(concurrent);
    if (!pool) return this.#inline();
    return new Promise<NewWallet>((resolve, reject) => {
      this.#queue.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush(pool));
      }
    });
  }

  /** Stops the workers (after the wallets being made). */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }

  /** The pool, when it is ready and worth it; starts it at the first concurrent request. */
  #poolFor(concurrent: number): VaultWorkerPool | undefined {
    if (this.#workers === 0 || this.#closed) return undefined;
    if (!this.#pool && concurrent > 1) this.#pool = new VaultWorkerPool(this.#workers, { unref: true });
    const pool = this.#pool;
    // A failed pool (a worker could not start or died) leaves creation on this thread.
    return pool && pool.ready && !pool.failed ? pool : undefined;
  }

  async #inline(): Promise<NewWallet> {
    const secret = await generateWalletSecret(this.#seeds);
    try {
      return { secret, info: publicInfoOfSecret(secret, this.#network) };
    } catch (e) {
      wipe(secret);
      throw e;
    }
  }

  #flush(pool: VaultWorkerPool): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    const per = Math.max(1, Math.min(MAX_PER_MESSAGE, Math.ceil(queue.length / pool.size)));
    for (let at = 0; at < queue.length; at += per) {
      const group = queue.slice(at, at + per);
      pool
        .call<WalletsResult>('wallets', { count: group.length, seeds: this.#seeds, network: this.#network })
        .then(
          (r) => deliver(group, r),
          // A worker that failed leaves these wallets (and the next ones) to this thread.
          () => {
            for (const w of group) this.#inline().then(w.resolve, w.reject);
          },
        );
    }
  }
}

/** Hands each waiting caller its own copy of its secret; the transferred buffer is wiped at once. */
function deliver(group: readonly Waiting[], r: WalletsResult): void {
  const all = new Uint8Array(r.secrets);
  try {
    group.forEach((w, i) => {
      const info = r.infos[i];
      if (!info) {
        w.reject(new StrongroomError('E_INTERNAL', 'a vault worker returned fewer wallets than asked'));
        return;
      }
      w.resolve({ secret: all.slice(i * r.secretLength, (i + 1) * r.secretLength), info });
    });
  } finally {
    wipe(all);
  }
}
