import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../../../test/support/databases.ts';
import type { VaultStorage } from '../../vault/vault.ts';
import type { SealStorage } from '../../vault/seal/seal-storage.ts';
import { sealBlobRepository, vaultRepository, type WalletRecord } from './vault-repository.ts';

const wallet = (walletId: string, keyVersion = 1): WalletRecord => ({
  tenant: 'acme',
  walletId,
  tier: 'hot',
  label: 'L',
  keyVersion,
  cryptogram: new Uint8Array([1, 2, 3, keyVersion]),
  fingerprint: 'deadbeef',
  network: 'regtest',
  xpubs: { bip84: 'a', bip86: 'b', bip44eth: 'c' },
  createdAt: '2025-01-01T00:00:00.000Z',
});

for (const dialect of DIALECTS) {
  describe(`vault repository on ${dialect}`, () => {
    let t: TestDatabase;
    let repo: VaultStorage; // compile-time: the store's object satisfies the vault's interface
    beforeEach(async () => {
      t = await createTestDatabase(dialect);
      repo = vaultRepository(t.database);
    });
    afterEach(async () => t.dispose());

    it('stores wallets, refuses a duplicate id, pages in id order and commits rewrap batches atomically', async () => {
      for (const id of ['b', 'a', 'c']) await repo.insertWallet(wallet(id));
      await expect(repo.insertWallet(wallet('a'))).rejects.toMatchObject({ code: 'E_CONFLICT' });
      expect(await repo.getWallet('acme', 'a')).toEqual(wallet('a'));
      expect((await repo.listWallets('acme', { after: 'a', limit: 10 })).map((w) => w.walletId)).toEqual(['b', 'c']);
      expect(await repo.countWallets('acme')).toBe(3);
      const job = {
        tenant: 'acme', fromVersion: 1, toVersion: 2, state: 'running' as const, cursor: null, done: 0, total: 3,
        digestBefore: `sha256:${'0'.repeat(64)}` as const, digestRunning: '0'.repeat(64), startedAt: 'x', finishedAt: null,
      };
      await repo.putRewrapJob(job);
      await repo.commitRewrapBatch({ ...job, cursor: 'b', done: 2 }, [
        { walletId: 'a', fromVersion: 1, cryptogram: new Uint8Array([9]) },
        { walletId: 'b', fromVersion: 7, cryptogram: new Uint8Array([9]) }, // not at that version: untouched
      ]);
      expect(await repo.getWallet('acme', 'a')).toMatchObject({ keyVersion: 2, cryptogram: new Uint8Array([9]) });
      expect(await repo.getWallet('acme', 'b')).toMatchObject({ keyVersion: 1 });
      expect(await repo.getRewrapJob('acme')).toMatchObject({ cursor: 'b', done: 2 });
    });

    it('group-commits concurrent inserts; only the rows whose id is taken fail, with E_CONFLICT', async () => {
      await repo.insertWallet(wallet('taken'));
      const ids = ['n1', 'taken', 'n2', 'n1', ...Array.from({ length: 1200 }, (_, i) => `m${i}`)];
      const outcomes = await Promise.allSettled(ids.map((id) => repo.insertWallet(wallet(id))));
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[ids[i], (o.reason as { code?: string }).code]] : []));
      expect(failed).toEqual([
        ['taken', 'E_CONFLICT'],
        ['n1', 'E_CONFLICT'], // the second of two concurrent inserts of one id
      ]);
      expect(await repo.countWallets('acme')).toBe(1 + 2 + 1200);
      expect(await repo.getWallet('acme', 'taken')).toEqual(wallet('taken'));
      expect(await repo.getWallet('acme', 'm1199')).toEqual(wallet('m1199'));
    });

    it('keeps seal blobs and vault keys', async () => {
      const blobs: SealStorage = sealBlobRepository(t.database);
      await blobs.put('acme', 'record', new Uint8Array([1]));
      await blobs.put('acme', 'record', new Uint8Array([2]));
      expect(await blobs.get('acme', 'record')).toEqual(new Uint8Array([2]));
      await blobs.delete('acme', 'record');
      expect(await blobs.get('acme', 'record')).toBeUndefined();
      const key = { tenant: 'acme', purpose: 'audit' as const, keyId: 'k', keyVersion: 1, cryptogram: new Uint8Array([1]), publicKey: new Uint8Array(32), createdAt: 'x' };
      await repo.putKey(key);
      await repo.putKey({ ...key, keyVersion: 2 });
      expect(await repo.getKey('acme', 'audit')).toMatchObject({ keyVersion: 2 });
    });
  });
}
