import type { SealStorage } from '../../src/vault/seal/seal-storage.ts';
import { assertStorageName } from '../../src/vault/seal/seal-storage.ts';

/** In-memory `SealStorage` for tests; stores copies so callers cannot alias what is stored. */
export class MemorySealStorage implements SealStorage {
  readonly blobs = new Map<string, Uint8Array>();

  async get(tenant: string, name: string): Promise<Uint8Array | undefined> {
    const v = this.blobs.get(this.#key(tenant, name));
    return v ? v.slice() : undefined;
  }

  async put(tenant: string, name: string, bytes: Uint8Array): Promise<void> {
    this.blobs.set(this.#key(tenant, name), bytes.slice());
  }

  async delete(tenant: string, name: string): Promise<void> {
    this.blobs.delete(this.#key(tenant, name));
  }

  /** A deep copy of every blob, to assert that a failed operation changed nothing. */
  snapshot(): Map<string, string> {
    return new Map([...this.blobs].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
  }

  #key(tenant: string, name: string): string {
    assertStorageName(tenant, 'tenant');
    assertStorageName(name, 'name');
    return `${tenant}/${name}`;
  }
}
