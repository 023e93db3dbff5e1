import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/databases.ts';
import { MemorySealStorage } from '../../test/support/memory-seal-storage.ts';
import { vaultRepository } from '../store/repositories/vault-repository.ts';
import { openCryptogram, parseCryptogramHeader, sealCryptogram } from './cryptogram.ts';
import { runRewrap, type RewrapContext } from './rewrap.ts';
import type { Seal } from './seal/seal.ts';
import { ShamirSeal } from './seal/shamir-seal.ts';
import { fingerprintOfSecret, walletBinding } from './wallets.ts';

const TENANT = 'acme';
const ROWS = 40;
const id = (i: number) => `w${String(i).padStart(3, '0')}`;

describe('runRewrap (pipelined batches, crypto inline or in worker threads)', () => {
  let t: TestDatabase;
  let seal: ShamirSeal;
  let ctx: (workers: number) => RewrapContext;

  beforeEach(async () => {
    t = await createTestDatabase('sqlite');
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
    const storage = vaultRepository(t.database);
    for (let i = 0; i < ROWS; i++) {
      const secret = new Uint8Array(66);
      secret.set([1, 64]);
      secret.set(randomBytes(64), 2);
      await storage.insertWallet({
        tenant: TENANT,
        walletId: id(i),
        tier: 'hot',
        label: '',
        keyVersion: 1,
        cryptogram: await sealCryptogram(seal, walletBinding(TENANT, id(i)), secret),
        fingerprint: fingerprintOfSecret(secret),
        network: 'mainnet',
        xpubs: { bip84: '-', bip86: '-', bip44eth: '-' },
        createdAt: '2025-01-01T00:00:00.000Z',
      });
    }
    await seal.rotate();
    ctx = (workers) => ({
      tenant: TENANT,
      seal,
      storage,
      now: () => new Date('2025-06-01T00:00:00.000Z'),
      batchSize: 7,
      record: async () => {},
      retire: (ref) => seal.retire(ref),
      workers,
    });
  });
  afterEach(async () => {
    await seal.close();
    await t.dispose();
  });

  it.each([0, 1, 2])('re-encrypts and verifies every row with %i workers', async (workers) => {
    const r = await runRewrap(ctx(workers));
    expect(r).toMatchObject({ fromVersion: 1, toVersion: 2, verified: ROWS, retired: true });
    expect(r.digestAfter).toBe(r.digestBefore);
    const storage = vaultRepository(t.database);
    for (const w of await storage.listWallets(TENANT, { after: null, limit: 100 })) {
      expect(w.keyVersion).toBe(2);
      expect(parseCryptogramHeader(w.cryptogram).masterKey.version).toBe(2);
      expect(fingerprintOfSecret(await openCryptogram(seal, walletBinding(TENANT, w.walletId), w.cryptogram))).toBe(w.fingerprint);
    }
  });

  it.each([0, 1])('stops at a row whose fingerprint does not re-derive (%i workers); earlier batches stay committed, that batch is not written', async (workers) => {
    await t.database.db.updateTable('vault_wallets' as never).set({ fingerprint: '00000000' } as never).where('wallet_id' as never, '=', id(20) as never).execute();
    await expect(runRewrap(ctx(workers))).rejects.toMatchObject({ code: 'E_CRYPTOGRAM_INVALID', details: { walletId: id(20) } });
    const storage = vaultRepository(t.database);
    expect(await storage.getRewrapJob(TENANT)).toMatchObject({ state: 'running', cursor: id(13), done: 14 });
    const rows = await storage.listWallets(TENANT, { after: null, limit: 100 });
    expect(rows.map((w) => w.keyVersion)).toEqual(rows.map((_, i) => (i < 14 ? 2 : 1)));
    // The old key was not retired: every row still opens.
    for (const w of rows.slice(14)) await openCryptogram(seal, walletBinding(TENANT, w.walletId), w.cryptogram);
  });

  it.each([0, 2])('stops at a cryptogram that does not open (%i workers), naming its wallet; then resumes once it is repaired', async (workers) => {
    const storage = vaultRepository(t.database);
    const original = (await storage.getWallet(TENANT, id(20)))!.cryptogram.slice();
    const altered = original.slice();
    altered[altered.length - 1]! ^= 1;
    const setCryptogram = (c: Uint8Array) =>
      t.database.db.updateTable('vault_wallets' as never).set({ cryptogram: Buffer.from(c) } as never).where('wallet_id' as never, '=', id(20) as never).execute();
    await setCryptogram(altered);
    await expect(runRewrap(ctx(workers))).rejects.toMatchObject({ code: 'E_CRYPTOGRAM_INVALID', details: { walletId: id(20) } });
    expect(await storage.getRewrapJob(TENANT)).toMatchObject({ state: 'running', cursor: id(13), done: 14 });
    await setCryptogram(original);
    const r = await runRewrap(ctx(workers));
    expect(r).toMatchObject({ verified: ROWS, retired: true });
    expect(r.digestAfter).toBe(r.digestBefore);
  });

  it('runs on this thread for a seal that cannot hand keys to workers (an HSM), whatever is asked', async () => {
    const hsmLike: Seal = {
      mechanism: 'pkcs11',
      tenant: TENANT,
      state: () => seal.state(),
      current: () => seal.current(),
      encrypt: (p, aad, ref) => seal.encrypt(p, aad, ref),
      decrypt: (c, aad, ref) => seal.decrypt(c, aad, ref),
      seal: () => seal.seal(),
      zeroize: () => seal.zeroize(),
    };
    const r = await runRewrap({ ...ctx(2), seal: hsmLike });
    expect(r).toMatchObject({ verified: ROWS, retired: true });
  });
});
