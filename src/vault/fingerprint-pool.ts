/**
 * BIP32 fingerprints of many master private keys in the vault's worker threads (vault-worker-tasks.ts
 * `fingerprintKeys`, libsecp256k1): a public key is one point multiplication per key.
 *
 * Keys travel as transferred ArrayBuffers (moved, not copied) and are wiped in the worker after use; the
 * caller's buffer is wiped here. Workers are threads of this process, which stays the vault's boundary.
 */
import { StrongroomError } from '../domain/errors.ts';
import { VaultWorkerPool, defaultWorkerCount } from './vault-worker-pool.ts';

const KEY_BYTES = 32;

export interface FingerprintBatch {
  /** BIP32 fingerprint of each key, in order (0 for invalid keys). */
  readonly fingerprints: Uint32Array;
  /** Indices of keys that are not valid secp256k1 private keys. */
  readonly invalid: readonly number[];
}

/** One worker per core (at most four). */
export function defaultFingerprintWorkers(): number {
  return defaultWorkerCount();
}

export class FingerprintPool {
  readonly #pool: VaultWorkerPool;

  constructor(size = defaultFingerprintWorkers()) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
      throw new StrongroomError('E_VALIDATION', 'a fingerprint pool has 1..64 workers', { details: { parameter: 'size' } });
    }
    this.#pool = new VaultWorkerPool(size);
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
    const per = Math.ceil(n / this.#pool.size) || 1;
    const parts: Array<Promise<{ fingerprints: ArrayBuffer; invalid: number[] }>> = [];
    try {
      for (let w = 0, start = 0; start < n; w++, start += per) {
        // A fresh ArrayBuffer of exactly this chunk, so it can be transferred.
        const chunk = new Uint8Array((Math.min(n, start + per) - start) * KEY_BYTES);
        chunk.set(keys.subarray(start * KEY_BYTES, start * KEY_BYTES + chunk.length));
        parts.push(
          this.#pool.call<{ fingerprints: ArrayBuffer; invalid: number[] }>('fingerprints', { keys: chunk.buffer }, [chunk.buffer], w).finally(
            () => {
              if (chunk.byteLength > 0) chunk.fill(0); // not transferred (the send failed): still ours to wipe
            },
          ),
        );
      }
    } finally {
      keys.fill(0);
    }
    const replies = await Promise.all(parts);
    const fingerprints = new Uint32Array(n);
    const invalid: number[] = [];
    replies.forEach((r, w) => {
      fingerprints.set(new Uint32Array(r.fingerprints), w * per);
      for (const i of r.invalid) invalid.push(w * per + i);
    });
    return { fingerprints, invalid };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
