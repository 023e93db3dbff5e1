/**
 * Child process of the secret-scan test: a vault on a SQLite file creates and imports wallets (the test
 * mnemonic read from a file as BYTES, so it never exists as a JS string here), is sealed, then writes a V8
 * heap snapshot. STRONGROOM_TEST_SCAN: JSON {dbPath, mnemonicPath, snapshotPath, sharesPath}.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { openDatabase } from '../../src/store/database.ts';
import { sealBlobRepository, vaultRepository } from '../../src/store/repositories/vault-repository.ts';
import { LocalVault } from '../../src/vault/local-vault.ts';
import { shamirDriver } from '../../src/vault/shamir-driver.ts';

const cfg = JSON.parse(process.env.STRONGROOM_TEST_SCAN ?? '{}') as Record<string, string>;
const database = await openDatabase({ dialect: 'sqlite', path: cfg.dbPath! });
const log = (m: string) => process.stdout.write(m + '\n');
const vault = new LocalVault({
  storage: vaultRepository(database),
  audit: {
    async record(tenant, e) {
      log(`audit ${tenant} ${e.action} ${e.payloadDigest}`);
    },
  },
  seals: shamirDriver({ storage: sealBlobRepository(database), scrypt: { N: 2 ** 10 } }),
  network: 'regtest',
});
const pass = (s: string) => new TextEncoder().encode(s);
const init = await vault.initialize('acme', {
  mechanism: 'shamir',
  threshold: 2,
  custodians: [
    { name: 'alice', passphrase: pass('alice scan') },
    { name: 'bob', passphrase: pass('bob scan') },
  ],
});
writeFileSync(
  cfg.sharesPath!,
  JSON.stringify(init.shareFiles!.map((f) => Buffer.from(f.file).toString('base64'))),
);
const mnemonic = new Uint8Array(readFileSync(cfg.mnemonicPath!));
const w = await vault.importWallet('acme', { walletId: 'byo', tier: 'hot', mnemonic });
log(`imported ${JSON.stringify(w)}`);
log(`created ${JSON.stringify(await vault.createWallet('acme', { walletId: 'fresh', tier: 'hot' }))}`);
// Errors that touch key material, captured as the API would show them.
for (const bad of [
  mnemonic.slice(0, mnemonic.length - 5),
  new Uint8Array(readFileSync(cfg.mnemonicPath!)).reverse(),
]) {
  try {
    await vault.importWallet('acme', { walletId: 'bad', tier: 'hot', mnemonic: bad });
  } catch (e) {
    log(`error ${JSON.stringify(e)} ${String((e as Error).message)} ${String((e as Error).stack)}`);
  }
}
await vault.seal('acme');
await database.close();
if (typeof globalThis.gc === 'function') globalThis.gc();
writeHeapSnapshot(cfg.snapshotPath!);
log('sealed');
