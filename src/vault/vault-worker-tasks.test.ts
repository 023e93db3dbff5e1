import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySealStorage } from '../../test/support/memory-seal-storage.ts';
import { openCryptogram, parseCryptogramHeader, sealCryptogram } from './cryptogram.ts';
import { ShamirSeal } from './seal/shamir-seal.ts';
import { VaultWorkerPool } from './vault-worker-pool.ts';
import {
  acceptRewrapKeys,
  packRewrapRows,
  readRewrapResult,
  rewrapRows,
  type RewrapChunkResult,
  type RewrapKeys,
} from './vault-worker-tasks.ts';
import { fingerprintNumberOfSecret, walletBinding } from './wallets.ts';

const TENANT = 'acme';

function newSecret(): Uint8Array {
  const s = new Uint8Array(34);
  s.set([1, 32]);
  s.set(randomBytes(32), 2);
  return s;
}

describe('rewrap rows (the per-row crypto a rewrap runs in worker threads)', () => {
  let seal: ShamirSeal;
  let keys: RewrapKeys;
  const secrets = Array.from({ length: 6 }, newSecret);
  const id = (i: number) => `w${i}`;
  const rows: Array<{ walletId: string; cryptogram: Uint8Array }> = [];

  beforeAll(async () => {
    const init = await ShamirSeal.initialize({
      tenant: TENANT,
      storage: new MemorySealStorage(),
      custodians: [
        { id: 'alice', passphrase: 'alice pass' },
        { id: 'bob', passphrase: 'bob pass' },
      ],
      threshold: 2,
      scrypt: { N: 1024 },
    });
    seal = init.seal;
    await seal.unseal(init.shareFiles.map((file, i) => ({ file, passphrase: i === 0 ? 'alice pass' : 'bob pass' })));
    // Rows 0-3 under version 1, rows 4-5 under version 2 (already done).
    for (let i = 0; i < 4; i++) rows.push({ walletId: id(i), cryptogram: await sealCryptogram(seal, walletBinding(TENANT, id(i)), secrets[i]!) });
    const v2 = await seal.rotate();
    for (let i = 4; i < 6; i++) rows.push({ walletId: id(i), cryptogram: await sealCryptogram(seal, walletBinding(TENANT, id(i)), secrets[i]!) });
    keys = acceptRewrapKeys(undefined, {
      tenant: TENANT,
      target: v2,
      keys: [1, 2].map((version) => ({ version, key: seal.workerKey({ id: v2.id, version }) })),
    });
  });
  afterAll(() => seal.close());

  function outcomes(r: RewrapChunkResult) {
    const out: Array<{ fingerprint: number; cryptogram: Uint8Array | undefined }> = [];
    readRewrapResult(r, (i, fingerprint, cryptogram) => (out[i] = { fingerprint, cryptogram: cryptogram?.slice() }));
    return out;
  }

  it('re-seals rows under old versions, leaves the others, and derives every fingerprint; the seal opens the result', async () => {
    const r = rewrapRows(keys, packRewrapRows(rows));
    expect(r.failure).toBeUndefined();
    expect(r.count).toBe(6);
    const out = outcomes(r);
    for (let i = 0; i < 6; i++) {
      expect(out[i]!.fingerprint).toBe(fingerprintNumberOfSecret(secrets[i]!));
      if (i < 4) {
        const c = out[i]!.cryptogram!;
        expect(parseCryptogramHeader(c).masterKey.version).toBe(2);
        expect(await openCryptogram(seal, walletBinding(TENANT, id(i)), c)).toEqual(secrets[i]);
      } else {
        expect(out[i]!.cryptogram).toBeUndefined();
      }
    }
  });

  it('stops at the first row that does not open (moved to another wallet), naming no secret', () => {
    const moved = rows.map((r, i) => (i === 2 ? { walletId: id(2), cryptogram: rows[3]!.cryptogram } : r));
    const r = rewrapRows(keys, packRewrapRows(moved));
    expect(r.count).toBe(2);
    expect(r.failure).toMatchObject({ index: 2, error: { code: 'E_CRYPTOGRAM_INVALID' } });
    expect(outcomes(r)).toHaveLength(2);
  });

  it('reports a key version it was not given, and an unknown format version', () => {
    const onlyTarget = acceptRewrapKeys(undefined, { tenant: TENANT, target: keys.target, keys: [{ version: 2, key: keys.keys.get(2)! }] });
    expect(rewrapRows(onlyTarget, packRewrapRows(rows)).failure).toMatchObject({
      index: 0,
      error: { code: 'E_CRYPTOGRAM_INVALID', details: { version: 1 } },
    });
    const unknown = rows[0]!.cryptogram.slice();
    unknown[0] = 9;
    expect(rewrapRows(keys, packRewrapRows([{ walletId: id(0), cryptogram: unknown }])).failure).toMatchObject({
      index: 0,
      error: { code: 'E_CRYPTOGRAM_VERSION' },
    });
  });

  it('runs the same in a worker thread, keys handed over as KeyObjects', async () => {
    const pool = new VaultWorkerPool(1);
    try {
      await pool.call('rewrap-keys', {
        tenant: TENANT,
        target: keys.target,
        keys: [...keys.keys].map(([version, key]) => ({ version, key })),
      });
      const packed = packRewrapRows(rows);
      const r = await pool.call<RewrapChunkResult>('rewrap', { rows: packed.buffer }, [packed.buffer as ArrayBuffer]);
      expect(r.count).toBe(6);
      expect(outcomes(r).map((o) => o.fingerprint)).toEqual(secrets.map(fingerprintNumberOfSecret));
      await expect(pool.call('no-such-task', {})).rejects.toMatchObject({ code: 'E_INTERNAL' });
    } finally {
      await pool.close();
    }
    await expect(pool.call('rewrap', {})).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });

  it('a sealed seal hands out no worker key', async () => {
    const init = await ShamirSeal.initialize({
      tenant: 'other',
      storage: new MemorySealStorage(),
      custodians: [
        { id: 'alice', passphrase: 'alice pass' },
        { id: 'bob', passphrase: 'bob pass' },
      ],
      threshold: 2,
      scrypt: { N: 1024 },
    });
    expect(() => init.seal.workerKey(init.seal.current())).toThrow(expect.objectContaining({ code: 'E_VAULT_SEALED' }));
  });
});
