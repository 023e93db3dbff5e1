/**
 * Places the vault: in this process (embedded default: software seal, blobs in the database), in this
 * process with a PKCS#11 HSM, or in its own process reached over a local socket (production). Whatever the
 * placement, the vault audits through the same writer as every other change, before it acts.
 */
import type { CheckpointSigner } from '../audit/checkpoint.ts';
import { isStrongroomError } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { sealBlobRepository, vaultRepository } from '../store/repositories/vault-repository.ts';
import { LocalVault } from '../vault/local-vault.ts';
import { pkcs11Driver } from '../vault/pkcs11-driver.ts';
import { connectVault } from '../vault/remote.ts';
import { shamirDriver } from '../vault/shamir-driver.ts';
import type { Vault, VaultAuditSink } from '../vault/vault.ts';
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import type { AuditedWriter } from './audited-writer.ts';
import type { VaultChainsConfig } from './chains-config.ts';

export type VaultConfig =
  | { placement: 'local'; seal: 'shamir'; network?: BitcoinNetworkName | undefined; chains?: VaultChainsConfig; scrypt?: { N: number } }
  | {
      placement: 'local';
      seal: 'pkcs11';
      modulePath: string;
      tokenLabel: (tenant: string) => string;
      network?: BitcoinNetworkName | undefined;
      chains?: VaultChainsConfig;
    }
  | { placement: 'remote'; socketPath: string };

/** Vault actions (`vault.unseal`, …) land in the tenant's audit chain; if that fails, the vault does not act. */
export function vaultAuditSink(writer: AuditedWriter): VaultAuditSink {
  return {
    async record(tenant, entry) {
      await writer.write({
        tenant,
        actor: entry.actor,
        action: entry.action,
        requestDigest: null,
        run: async () => ({ value: undefined, payloadDigest: entry.payloadDigest }),
      });
    },
  };
}

export async function openVault(
  config: VaultConfig,
  database: Database,
  writer: AuditedWriter,
): Promise<Vault> {
  if (config.placement === 'remote') return connectVault({ socketPath: config.socketPath });
  const seals =
    config.seal === 'pkcs11'
      ? pkcs11Driver({
          tokenFor: (tenant) => ({ modulePath: config.modulePath, tokenLabel: config.tokenLabel(tenant) }),
        })
      : shamirDriver({
          storage: sealBlobRepository(database),
          ...(config.scrypt ? { scrypt: config.scrypt } : {}),
        });
  return new LocalVault({
    storage: vaultRepository(database),
    audit: vaultAuditSink(writer),
    seals,
    ...(config.network ? { network: config.network } : {}),
    ...(config.chains ? { chains: config.chains } : {}),
  });
}

/**
 * Who signs a tenant's audit checkpoints: the vault's audit key once the tenant's key ceremony has run;
 * before that, the interim server key. `undefined` while the vault is sealed: no checkpoint is signed then.
 */
export async function checkpointSignerFor(
  vault: Vault,
  tenant: string,
  interim: CheckpointSigner,
): Promise<CheckpointSigner | undefined> {
  let pub: Awaited<ReturnType<Vault['auditPublicKey']>>;
  try {
    pub = await vault.auditPublicKey(tenant);
  } catch (e) {
    if (isStrongroomError(e, 'E_VAULT_UNINITIALIZED')) return interim;
    throw e;
  }
  const state = (await vault.status(tenant)).state;
  if (state !== 'unsealed') return undefined;
  return {
    keyId: pub.keyId,
    publicKeyRaw: () => pub.publicKey,
    sign: (bytes) => vault.signAuditCheckpoint(tenant, bytes),
  };
}
