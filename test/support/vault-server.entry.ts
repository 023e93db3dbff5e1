/**
 * A vault in its own process for tests: `node --import tsx test/support/vault-server.entry.ts`, configured
 * by STRONGROOM_TEST_VAULT (JSON: socketPath, dbPath, mechanism, tokens). Prints "ready" when listening.
 */
import { openDatabase } from '../../src/store/database.ts';
import { sealBlobRepository, vaultRepository } from '../../src/store/repositories/vault-repository.ts';
import { LocalVault } from '../../src/vault/local-vault.ts';
import { pkcs11Driver } from '../../src/vault/pkcs11-driver.ts';
import { shamirDriver } from '../../src/vault/shamir-driver.ts';
import { startVaultServer } from '../../src/vault/vault-server.ts';
import type { Pkcs11SealConfig } from '../../src/vault/seal/pkcs11-seal.ts';

const cfg = JSON.parse(process.env.STRONGROOM_TEST_VAULT ?? '{}') as {
  socketPath: string;
  dbPath: string;
  mechanism: 'shamir' | 'pkcs11';
  tokens?: Record<string, Pkcs11SealConfig>;
};
const database = await openDatabase({ dialect: 'sqlite', path: cfg.dbPath });
const seals =
  cfg.mechanism === 'shamir'
    ? shamirDriver({ storage: sealBlobRepository(database), scrypt: { N: 2 ** 10 } })
    : pkcs11Driver({
        tokenFor: (t) => cfg.tokens?.[t] ?? { modulePath: '/nonexistent', tokenLabel: 'none' },
      });
const vault = new LocalVault({
  storage: vaultRepository(database),
  audit: { async record() {} },
  seals,
  network: 'regtest',
});
const server = await startVaultServer({ socketPath: cfg.socketPath, vault });
process.on('SIGTERM', async () => {
  await server.close();
  await vault.close();
  await database.close();
  process.exit(0);
});
process.stdout.write('ready\n');
