/**
 * Worker threads computing BIP32 fingerprints of master private keys (fingerprint-worker.mjs), so a rewrap
 * of a million wallets re-derives fingerprints on the other cores while the main thread decrypts,
 * encrypts and writes. A public key is one libsecp256k1 point multiplication per wallet: the largest
 * single cost of a rewrap.
 *
 * Keys travel as transferred ArrayBuffers (moved, not copied) and are wiped in the worker after use; the
 * caller's buffer is wiped here. Workers are threads of this process, which stays the vault's boundary.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { StrongroomError } from '../domain/errors.ts';

const KEY_BYTES = 32;

interface Reply {
  id: number;
  fingerprints?: ArrayBuffer;
  invalid?: number[];
  error?: string;
}

export interface FingerprintBatch {
  /** BIP32 fingerprint of each key, in order (undefined entries are invalid keys). */
  readonly fingerprints: Uint32Array;
  /** Indices of keys that are not valid secp256k1 private keys. */
  readonly invalid: readonly number[];
}

/** One worker per spare core (at least one, at most four). */
export function defaultFingerprintWorkers(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

export class FingerprintPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();
  #seq = 0;
  #failure: unknown;

  constructor(size = defaultFingerprintWorkers()) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
      throw new StrongroomError('E_VALIDATION', 'a fingerprint pool has 1..64 workers', { details: { parameter: 'size' } });
    }
    this.#workers = Array.from({ length: size }, () => {
      const w = new Worker(new URL('./fingerprint-worker.mjs', import.meta.url));
      w.on('message', (r: Reply) => {
        const p = this.#pending.get(r.id);
        this.#pending.delete(r.id);
        p?.resolve(r);
      });
      w.on('error', (e) => this.#fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.#fail(new Error(`fingerprint worker exited with code ${code}`));
      });
      return w;
    });
  }

  /**
   * Fingerprints of `keys` (n × 32-byte private keys), split across the workers. `keys` is wiped before this
   * returns (its content moves to the workers, which wipe it after use).
   */
  async fingerprints(keys: Uint8Array): Promise<FingerprintBatch> {
    if (!(keys instanceof Uint8Array) || keys.length % KEY_BYTES !== 0) {
      keys?.fill?.(0);
      throw new StrongroomError('E_VALIDATION', 'keys must be a multiple of 32 bytes', { details: { parameter: 'keys' } });
    }
    const n = keys.length / KEY_BYTES;
    const per = Math.ceil(n / this.#workers.length) || 1;
    const parts: Array<Promise<Reply>> = [];
    try {
      for (let w = 0, start = 0; start < n; w++, start += per) {
        // A fresh ArrayBuffer of exactly this chunk, so it can be transferred.
        const chunk = new Uint8Array((Math.min(n, start + per) - start) * KEY_BYTES);
        chunk.set(keys.subarray(start * KEY_BYTES, start * KEY_BYTES + chunk.length));
        parts.push(this.#send(this.#workers[w]!, chunk));
      }
    } finally {
      keys.fill(0);
    }
    const replies = await Promise.all(parts);
    const fingerprints = new Uint32Array(n);
    const invalid: number[] = [];
    replies.forEach((r, w) => {
      if (r.error !== undefined || !r.fingerprints) {
        throw new StrongroomError('E_INTERNAL', 'a fingerprint worker failed', { details: { reason: r.error } });
      }
      fingerprints.set(new Uint32Array(r.fingerprints), w * per);
      for (const i of r.invalid ?? []) invalid.push(w * per + i);
    });
    return { fingerprints, invalid };
  }

  async close(): Promise<void> {
    this.#fail(new StrongroomError('E_INTERNAL', 'the fingerprint pool was closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  #send(worker: Worker, chunk: Uint8Array): Promise<Reply> {
    if (this.#failure !== undefined) {
      chunk.fill(0);
      return Promise.reject(this.#failure);
    }
    const id = this.#seq++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        worker.postMessage({ id, keys: chunk.buffer }, [chunk.buffer as ArrayBuffer]);
      } catch (e) {
        chunk.fill(0); // not transferred: still ours to wipe
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  #fail(cause: unknown): void {
    this.#failure ??= cause;
    for (const p of this.#pending.values()) p.reject(cause);
    this.#pending.clear();
  }
}
