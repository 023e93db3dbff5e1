/**
 * Worker threads of the vault (vault-worker.mjs running vault-worker-tasks.ts): the CPU-bound per-wallet
 * work (seed generation, BIP32 derivation, cryptogram re-encryption and fingerprints) runs on every core
 * instead of the event loop. Workers are threads of this process, which stays the vault's boundary.
 *
 * Secrets cross threads only as transferred ArrayBuffers (moved, not copied; both sides wipe them) or as
 * `KeyObject`s, whose key bytes are never a JavaScript buffer on either side.
 *
 * Closing never terminates a busy worker: the native secp256k1 addon aborts the whole process when its
 * worker is terminated in the middle of a call. `close()` waits for the calls in flight, then asks each
 * worker to exit on its own.
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker, type Transferable } from 'node:worker_threads';
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';
import type { MasterKeyRef, Seal } from './seal/seal.ts';

/** A failure inside a worker, as it crosses the thread boundary (never a secret: codes and public ids). */
export interface WorkerError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  hints?: string[];
}

interface Reply {
  id?: number;
  ready?: boolean;
  error?: WorkerError;
  result?: unknown;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  readonly exited: Promise<void>;
  ready: boolean;
  gone: boolean;
}

/**
 * A seal whose master keys may be handed to the vault's own worker threads as `KeyObject`s (the software
 * seal). An HSM seal has none: its keys never leave the token, and its operations stay on this thread.
 */
export interface WorkerKeySource {
  workerKey(ref: MasterKeyRef): KeyObject;
}

export function hasWorkerKeys(seal: Seal): seal is Seal & WorkerKeySource {
  return typeof (seal as Partial<WorkerKeySource>).workerKey === 'function';
}

/** Every core, at most four (two here: the benchmark machine). */
export function defaultWorkerCount(): number {
  return Math.min(4, Math.max(1, availableParallelism()));
}

export interface VaultWorkerPoolOptions {
  /** Do not keep the process alive for idle workers (a long-lived pool nobody closes). */
  unref?: boolean;
}

export class VaultWorkerPool {
  readonly #slots: Slot[];
  readonly #unref: boolean;
  #seq = 0;
  #failure: unknown;
  #closing: Promise<void> | undefined;

  constructor(size = defaultWorkerCount(), options: VaultWorkerPoolOptions = {}) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
      throw new StrongroomError('E_VALIDATION', 'a vault worker pool has 1..64 workers', { details: { parameter: 'size' } });
    }
    this.#unref = options.unref === true;
    this.#slots = Array.from({ length: size }, () => this.#start());
  }

  get size(): number {
    return this.#slots.length;
  }

  /** True once every worker has loaded its modules (calls made before are queued, not lost). */
  get ready(): boolean {
    return this.#failure === undefined && this.#slots.every((s) => s.ready);
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Runs `op` on worker `index` (default: the one with the fewest calls in flight). `transfer` moves
   * buffers; a buffer that could not be moved is left to the caller.
   */
  call<T>(op: string, payload: Record<string, unknown>, transfer: readonly Transferable[] = [], index?: number): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(closedError());
    const slot = index === undefined ? this.#leastBusy() : this.#slots[index];
    if (!slot) return Promise.reject(new StrongroomError('E_VALIDATION', 'no such worker', { details: { parameter: 'index' } }));
    const id = this.#seq++;
    return new Promise<T>((resolve, reject) => {
      // An unref'd worker keeps the process alive only while it has work.
      if (this.#unref && slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        slot.worker.postMessage({ id, op, ...payload }, transfer as Transferable[]);
      } catch (e) {
        slot.pending.delete(id);
        if (this.#unref && slot.pending.size === 0) slot.worker.unref();
        reject(e);
      }
    });
  }

  /** Runs `op` once on every worker (e.g. handing each the keys of a job). */
  broadcast<T>(op: string, payload: Record<string, unknown>): Promise<T[]> {
    return Promise.all(this.#slots.map((_, i) => this.call<T>(op, payload, [], i)));
  }

  /**
   * Lets every worker exit after the calls already sent to it (a worker handles its messages in order, so
   * the request to exit queues behind them); never terminates a busy one. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#slots.map((slot) => this.#stop(slot))).then(() => undefined);
    return this.#closing;
  }

  #start(): Slot {
    const worker = new Worker(new URL('./vault-worker.mjs', import.meta.url));
    if (this.#unref) worker.unref();
    let exited!: () => void;
    const slot: Slot = { worker, pending: new Map(), exited: new Promise<void>((r) => (exited = r)), ready: false, gone: false };
    worker.on('message', (r: Reply) => {
      if (r.ready) {
        slot.ready = true;
        return;
      }
      const p = r.id === undefined ? undefined : slot.pending.get(r.id);
      if (!p) return;
      slot.pending.delete(r.id!);
      if (this.#unref && slot.pending.size === 0) slot.worker.unref();
      if (r.error) p.reject(new StrongroomError(r.error.code, r.error.message, { details: r.error.details ?? {}, hints: r.error.hints ?? [] }));
      else p.resolve(r.result);
    });
    worker.on('error', (e) => this.#fail(new StrongroomError('E_INTERNAL', 'a vault worker thread failed', { cause: e })));
    worker.on('exit', (code) => {
      slot.gone = true;
      exited();
      if (code !== 0 || slot.pending.size > 0) this.#fail(new StrongroomError('E_INTERNAL', `a vault worker thread exited (code ${code})`));
    });
    return slot;
  }

  async #stop(slot: Slot): Promise<void> {
    if (!slot.gone) {
      slot.worker.ref(); // wait for it even if it was unref'd
      slot.worker.postMessage({ op: 'close' });
    }
    await slot.exited;
  }

  #leastBusy(): Slot {
    let best = this.#slots[0]!;
    for (const s of this.#slots) if (s.pending.size < best.pending.size) best = s;
    return best;
  }

  #fail(cause: unknown): void {
    this.#failure ??= cause;
    for (const slot of this.#slots) {
      for (const p of slot.pending.values()) p.reject(cause);
      slot.pending.clear();
      if (this.#unref) slot.worker.unref();
    }
  }
}

function closedError(): StrongroomError {
  return new StrongroomError('E_INTERNAL', 'the vault worker pool was closed');
}
