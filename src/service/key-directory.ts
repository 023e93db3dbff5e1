/**
 * Resolves a key id to its parsed public key and owner for signature verification. Parsed keys are cached
 * (parsing costs more than verifying); the cached status is only a first filter: every write re-reads the
 * key's status in its own transaction, so a revocation on another node takes effect at once for writes.
 */
import type { KeyObject } from 'node:crypto';
import { isKeyAlgorithm, PublicKeyCache, type KeyAlgorithm } from '../domain/keys.ts';
import { StrongroomError } from '../domain/errors.ts';
import { directoryRepository, type Queryable } from '../store/index.ts';

export interface KnownKey {
  keyId: string;
  alg: KeyAlgorithm;
  key: KeyObject;
  tenant: string;
  userId: string;
  status: 'active' | 'revoked';
}

export function createKeyDirectory(db: Queryable, opts: { ttlMs?: number; now?: () => number } = {}) {
  const ttl = opts.ttlMs ?? 30_000;
  const clock = opts.now ?? Date.now;
  const parsed = new PublicKeyCache();
  const entries = new Map<string, { known: KnownKey; until: number }>();

  return {
    /** The key, or undefined when no such key exists. Throws E_KEY_REVOKED for a revoked key. */
    async resolve(keyId: string): Promise<KnownKey | undefined> {
      let e = entries.get(keyId);
      if (!e || e.until < clock()) {
        const row = await directoryRepository.getKey(db, keyId);
        if (!row || !isKeyAlgorithm(row.alg)) return undefined;
        const known: KnownKey = {
          keyId,
          alg: row.alg,
          key: parsed.get(row.alg, row.public_key),
          tenant: row.tenant_id,
          userId: row.user_id,
          status: row.status,
        };
        e = { known, until: clock() + ttl };
        if (entries.size > 50_000) entries.clear();
        entries.set(keyId, e);
      }
      if (e.known.status !== 'active')
        throw new StrongroomError('E_KEY_REVOKED', 'this key has been revoked');
      return e.known;
    },
    /** Drops a cached entry (after a local revocation). */
    invalidate(keyId?: string): void {
      if (keyId === undefined) entries.clear();
      else entries.delete(keyId);
    },
  };
}

export type KeyDirectory = ReturnType<typeof createKeyDirectory>;
