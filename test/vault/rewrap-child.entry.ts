/**
 * Child process for the rewrap crash test: opens the vault on a SQLite file, unseals with the share
 * files in STRONGROOM_TEST_REWRAP (JSON: dbPath, shares[{file(base64), passphrase}]), runs the rewrap in
 * small batches and prints each committed batch, so the parent can SIGKILL it anywhere.
 */
import { openDatabase } from '../../src/store/database.ts';
import { sealBlobRepository, vaultRepository } from '../../src/store/repositories/vault-repository.ts';
import { LocalVault } from '../../src/vault/local-vault.ts';
import { shamirDriver } from '../../src/vault/shamir-driver.ts';

const cfg = JSON.parse(process.env.STRONGROOM_TEST_REWRAP ?? '{}') as {
  dbPath: string;
  shares: Array<{ file: string; passphrase: string }>;
  /** Rewrap worker threads (0: on the event loop). */
  workers?: number;
};
const database = await openDatabase({ dialect: 'sqlite', path: cfg.dbPath });
const vault = new LocalVault({
  storage: vaultRepository(database),
  audit: { async record() {} },
  seals: shamirDriver({ storage: sealBlobRepository(database), scrypt: { N: 2 ** 10 } }),
  network: 'regtest',
  ...(cfg.workers !== undefined ? { rewrapWorkers: cfg.workers } : {}),
});
await vault.unseal('acme', {
  mechanism: 'shamir',
  shares: cfg.shares.map((s) => ({ file: Buffer.from(s.file, 'base64'), passphrase: s.passphrase })),
});
const r = await vault.rewrap('acme', {
  batchSize: 10,
  onProgress: (p) => process.stdout.write(`progress ${p.done}\n`),
});
process.stdout.write(`done ${JSON.stringify(r)}\n`);
await vault.close();
await database.close();
