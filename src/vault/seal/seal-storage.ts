/**
 * Where a software seal keeps its blobs: a non-secret record and master keys encrypted under the unseal
 * key. Storage is untrusted (it never sees plaintext key material); the seal authenticates what it reads.
 * The in-memory implementation for tests is test/support/memory-seal-storage.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StrongroomError } from '../../domain/errors.ts';

/** A narrow async key-value store, one namespace per tenant. */
export interface SealStorage {
  /** The bytes stored under (tenant, name), or `undefined`. */
  get(tenant: string, name: string): Promise<Uint8Array | undefined>;
  /** Stores `bytes` atomically: a reader sees the old or the new value, never a mix. */
  put(tenant: string, name: string, bytes: Uint8Array): Promise<void>;
  /** Removes (tenant, name); no error when absent. */
  delete(tenant: string, name: string): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Tenants and names are used as path segments: letters, digits, dot, dash, underscore; no leading dot. */
export function assertStorageName(value: unknown, parameter: string): asserts value is string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw new StrongroomError(
      'E_VALIDATION',
      `${parameter} must be 1-128 letters, digits, dot, dash or underscore`,
      {
        details: { parameter },
      },
    );
  }
}

/**
 * One directory per tenant under `root`, one file per name, mode 0600 (directories 0700). Writes go to a
 * temporary file that is fsynced and renamed over the target, then the directory is fsynced, so a crash
 * leaves either the old or the new blob.
 *
 * @example
 * const storage = new FileSealStorage('/var/lib/strongroom/seal');
 * const seal = await ShamirSeal.open({ tenant, storage });
 */
export class FileSealStorage implements SealStorage {
  readonly root: string;

  constructor(root: string) {
    if (typeof root !== 'string' || root.length === 0) {
      throw new StrongroomError('E_VALIDATION', 'root must be a directory path', {
        details: { parameter: 'root' },
      });
    }
    this.root = root;
  }

  async get(tenant: string, name: string): Promise<Uint8Array | undefined> {
    try {
      const data = await readFile(this.#path(tenant, name));
      return new Uint8Array(data.buffer, data.byteOffset, data.length);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(tenant: string, name: string, bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) {
      throw new StrongroomError('E_VALIDATION', 'bytes must be a Uint8Array', {
        details: { parameter: 'bytes' },
      });
    }
    const target = this.#path(tenant, name);
    const dir = join(this.root, tenant);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    await syncDirectory(dir);
  }

  async delete(tenant: string, name: string): Promise<void> {
    await rm(this.#path(tenant, name), { force: true });
    await syncDirectory(join(this.root, tenant)).catch(() => undefined);
  }

  #path(tenant: string, name: string): string {
    assertStorageName(tenant, 'tenant');
    assertStorageName(name, 'name');
    return join(this.root, tenant, name);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
