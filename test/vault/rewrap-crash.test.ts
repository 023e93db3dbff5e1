/**
 * A rewrap killed with SIGKILL at random points resumes and completes, with every wallet intact: the same
 * fingerprint re-derived from every cryptogram, and the same account xpubs (so the same addresses).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealBlobRepository, vaultRepository } from '../../src/store/repositories/vault-repository.ts';
import { sealCryptogram } from '../../src/vault/cryptogram.ts';
import { LocalVault } from '../../src/vault/local-vault.ts';
import { ShamirSeal } from '../../src/vault/seal/shamir-seal.ts';
import { parseShareFile } from '../../src/vault/seal/share-file.ts';
import { shamirDriver } from '../../src/vault/shamir-driver.ts';
import { fingerprintOfSecret, publicInfoOfSecret, walletBinding } from '../../src/vault/wallets.ts';
import type { InitializeReturnType, WalletInfo } from '../../src/vault/vault.ts';
import { createTestDatabase, type TestDatabase } from '../support/databases.ts';
import { openTestExport } from '../support/export-reader.ts';
import { generateKeyPairSync } from 'node:crypto';

const PASS = ['alice crash pass', 'bob crash pass'];
const enc = (s: string) => new TextEncoder().encode(s);

function runChild(dbPath: string, init: InitializeReturnType, killAfterLines: number | undefined, workers: number) {
  const env = {
    ...process.env,
    STRONGROOM_TEST_REWRAP: JSON.stringify({
      dbPath,
      workers,
      shares: init.shareFiles!.map((f, i) => ({
        file: Buffer.from(f.file).toString('base64'),
        passphrase: PASS[i],
      })),
    }),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/vault/rewrap-child.entry.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let lines = 0;
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    lines += (d.toString().match(/\n/g) ?? []).length;
    if (killAfterLines !== undefined && lines >= killAfterLines) child.kill('SIGKILL');
  });
  return new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, out, err })),
  );
}

describe('rewrap killed with SIGKILL at random points', () => {
  let db: TestDatabase;
  let init: InitializeReturnType;
  const real: WalletInfo[] = [];
  const FAST = 300;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    const storage = vaultRepository(db.database);
    const vault = new LocalVault({
      storage,
      audit: { async record() {} },
      seals: shamirDriver({ storage: sealBlobRepository(db.database), scrypt: { N: 2 ** 10 } }),
      network: 'regtest',
    });
    init = await vault.initialize('acme', {
      mechanism: 'shamir',
      threshold: 2,
      custodians: [
        { name: 'alice', passphrase: enc(PASS[0]!) },
        { name: 'bob', passphrase: enc(PASS[1]!) },
      ],
    });
    for (let i = 0; i < 12; i++)
      real.push(await vault.createWallet('acme', { walletId: `real-${i}`, tier: 'hot' }));
    // Many more rows, sealed under the same master key, with their true fingerprints (xpubs are not needed).
    const seal = await ShamirSeal.open({ tenant: 'acme', storage: sealBlobRepository(db.database) });
    await seal.unseal(
      init.shareFiles!.map((f, i) => ({ file: parseShareFile(f.file), passphrase: PASS[i]! })),
    );
    const raw = new BetterSqlite3((db.config as { path: string }).path);
    const insert = raw.prepare(
      `insert into vault_wallets values ('acme', ?, 'hot', '', 1, ?, ?, 'regtest', '{"bip84":"-","bip86":"-","bip44eth":"-"}', '2025-01-01T00:00:00.000Z')`,
    );
    for (let i = 0; i < FAST; i++) {
      const secret = new Uint8Array(66);
      secret.set([1, 64]);
      secret.set(randomBytes(64), 2);
      const id = `fast-${String(i).padStart(4, '0')}`;
      insert.run(
        id,
        Buffer.from(await sealCryptogram(seal, walletBinding('acme', id), secret)),
        fingerprintOfSecret(secret),
      );
    }
    raw.close();
    await seal.close();
    await vault.rotate('acme', { mechanism: 'shamir' });
    await vault.close();
  });
  afterAll(async () => {
    await db.dispose();
  });

  it('resumes after each kill and completes with every wallet intact', async () => {
    const dbPath = (db.config as { path: string }).path;
    const storage = vaultRepository(db.database);
    let kills = 0;
    for (let run = 0; run < 5; run++) {
      // Kill after a random number of committed batches (0 = during unseal / job start).
      // Runs alternate between the worker threads and the event loop: one job resumes across both.
      const r = await runChild(dbPath, init, randomInt(0, 12), run % 2 === 0 ? 2 : 0);
      if (r.signal === 'SIGKILL') kills++;
      else expect(r.code, r.err).toBe(0);
      const job = await storage.getRewrapJob('acme');
      if (job) expect(job.done).toBeLessThanOrEqual(FAST + real.length);
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const final = await runChild(dbPath, init, undefined, 2);
    expect(final.code, final.err).toBe(0);
    const done = JSON.parse(
      final.out
        .split('\n')
        .find((l) => l.startsWith('done '))!
        .slice(5),
    );
    expect(done.verified).toBe(FAST + real.length);
    expect(done.digestAfter).toBe(done.digestBefore);
    const job = (await storage.getRewrapJob('acme'))!;
    expect(job).toMatchObject({ state: 'done', toVersion: 2, done: FAST + real.length });

    // Every row is at version 2, and every seed (opened by an export to us) gives the same public keys.
    const vault = new LocalVault({
      storage,
      audit: { async record() {} },
      seals: shamirDriver({ storage: sealBlobRepository(db.database), scrypt: { N: 2 ** 10 } }),
      network: 'regtest',
    });
    const shares = init.shareFiles!.map((f, i) => ({ file: f.file, passphrase: PASS[i]! }));
    await vault.unseal('acme', { mechanism: 'shamir', shares });
    const pair = generateKeyPairSync('x25519');
    const file = await vault.exportWallets('acme', {
      recipientPublicKey: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
      quorum: { mechanism: 'shamir', shares },
    });
    const opened = openTestExport(
      file.bytes,
      pair.privateKey,
      (await vault.auditPublicKey('acme')).publicKey,
    );
    expect(opened.signatureValid).toBe(true);
    expect(opened.wallets).toHaveLength(FAST + real.length);
    expect(opened.secretFingerprints).toEqual(opened.wallets.map((w) => w.fingerprint));
    for (const w of real) {
      const row = (await storage.getWallet('acme', w.walletId))!;
      expect(row.keyVersion).toBe(2);
      expect(row.fingerprint).toBe(w.fingerprint);
      expect(row.xpubs).toEqual(w.xpubs);
      // Re-derived from the rewrapped seed itself: the same account xpubs, hence the same addresses.
      const secret = opened.secrets[opened.wallets.findIndex((x) => x.walletId === w.walletId)]!;
      expect(publicInfoOfSecret(secret, 'regtest').xpubs).toEqual(w.xpubs);
    }
    await vault.close();
  });
});
