/**
 * The composition root: builds every service over one store. Plain factory functions with narrowed
 * dependencies; nothing global.
 */
import { join } from 'node:path';
import type { CheckpointSigner } from '../audit/checkpoint.ts';
import { openDatabase, type Database, type DatabaseConfig } from '../store/database.ts';
import { InterimAuditSigner } from '../vault/interim-audit-signer.ts';
import { AuditedWriter } from './audited-writer.ts';
import { createAuditService } from './audit-service.ts';
import { createTenant, initialize, type InitInput } from './init-service.ts';
import { createKeyDirectory } from './key-directory.ts';
import { createSessionsService } from './sessions-service.ts';
import { authRepository } from '../store/index.ts';
import { checkpointSignerFor, openVault, type VaultConfig } from './vault-wiring.ts';
import { governanceServices } from './approvals-service.ts';
import { assetsOf, vaultChainsOf, type ChainsConfig } from './chains-config.ts';
import { walletServices } from './wallets-service.ts';
import type { AssetRegistry } from '../domain/assets.ts';
import { createBitcoinRpc } from '../chains/bitcoin/rpc.ts';
import { createEvmRpc } from '../chains/evm/rpc.ts';
import type { ChainAdapter } from './withdrawals/adapter.ts';
import { bitcoinAdapter } from './withdrawals/bitcoin-adapter.ts';
import { evmAdapter } from './withdrawals/evm-adapter.ts';
import { createWithdrawalExecutor } from './withdrawals/executor.ts';

export interface StrongroomConfig {
  database: DatabaseConfig;
  /** Holds the SQLite file (embedded default) and the interim audit key. */
  dataDir: string;
  now?: () => Date;
  /** Signs audit checkpoints; defaults to the interim server key in the data directory. */
  auditSigner?: CheckpointSigner;
  /** Where the vault runs and which seal it uses; default: in process, software (Shamir) seal. */
  vault?: VaultConfig;
  /** Seconds between automatic audit checkpoints and nonce pruning (0: off). */
  maintenanceIntervalS?: number;
  /** Chains this deployment executes on and their tokens (none: requests are recorded, nothing executes). */
  chains?: ChainsConfig;
  /** Test hook of the withdrawal executor (fault tests stop the process at these points). */
  onExecutionPoint?: (point: string, requestId: string) => void | Promise<void>;
}

/** One adapter per configured chain, each with its own node client. */
function chainAdapters(chains: ChainsConfig | undefined, assets: AssetRegistry): Partial<Record<'bitcoin' | 'ethereum', ChainAdapter<unknown>>> {
  const out: Partial<Record<'bitcoin' | 'ethereum', ChainAdapter<unknown>>> = {};
  if (chains?.bitcoin) out.bitcoin = bitcoinAdapter(chains.bitcoin, createBitcoinRpc(chains.bitcoin.rpc)) as ChainAdapter<unknown>;
  if (chains?.ethereum) {
    const c = chains.ethereum;
    out.ethereum = evmAdapter(c, createEvmRpc(c.rpcUrl, { expectedChainId: BigInt(c.chainId), ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}) }), assets) as ChainAdapter<unknown>;
  }
  return out;
}

export async function createStrongroom(config: StrongroomConfig) {
  const now = config.now ?? (() => new Date());
  const database: Database = await openDatabase(config.database);
  const db = database.db;
  const writer = new AuditedWriter(database, { now });
  const interim = config.auditSigner ?? InterimAuditSigner.loadOrCreate(join(config.dataDir, 'audit-interim.key'));
  const assets = assetsOf(config.chains);
  const vaultConfig: VaultConfig = config.vault ?? { placement: 'local', seal: 'shamir' };
  const vault = await openVault(
    vaultConfig.placement === 'local'
      ? { network: config.chains?.bitcoin?.network, ...vaultConfig, chains: vaultChainsOf(config.chains) }
      : vaultConfig,
    database,
    writer,
  );
  const audit = createAuditService({
    db,
    now,
    signerFor: (tenant) => checkpointSignerFor(vault, tenant, interim),
    async trustedKeys(tenant) {
      const keys = new Map([[interim.keyId, interim.publicKeyRaw()]]);
      const vaultKey = await vault.auditPublicKey(tenant).catch(() => undefined);
      if (vaultKey) keys.set(vaultKey.keyId, vaultKey.publicKey);
      return keys;
    },
  });
  const deps = { writer, db, now };
  const services = governanceServices({ ...deps, vault, assets, ...(config.chains ? { chains: config.chains } : {}) });
  const adapters = chainAdapters(config.chains, assets);
  const wallets = walletServices({ ...deps, database, vault, chains: config.chains, assets });
  const withdrawals = createWithdrawalExecutor({
    writer, database, now, vault, approvals: services.approvals, chains: config.chains ?? {}, assets, adapters,
    ...(config.onExecutionPoint ? { onPoint: config.onExecutionPoint } : {}),
  });

  let timer: NodeJS.Timeout | undefined;
  const interval = config.maintenanceIntervalS ?? 0;
  if (interval > 0) {
    timer = setInterval(() => void maintenance().catch(() => undefined), interval * 1000);
    timer.unref();
  }
  async function maintenance(): Promise<void> {
    await audit.checkpointAll();
    await authRepository.pruneNonces(db, Math.floor(now().getTime() / 1000) - 300);
  }

  return {
    database,
    writer,
    now,
    vault,
    chains: config.chains,
    assets,
    keys: createKeyDirectory(db),
    sessions: createSessionsService(deps),
    // Directory, requests, governance and approvals: the request path runs the policy in force, and after
    // the genesis the directory changes only through governance requests.
    ...services,
    ...wallets,
    withdrawals,
    audit,
    initialize: (input: InitInput) => initialize(writer, input, now),
    createTenant: (input: InitInput) => createTenant(writer, input, now),
    maintenance,
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      await writer.idle();
      for (const a of Object.values(adapters)) a.close();
      wallets.deposits.close();
      await audit.checkpointAll().catch(() => undefined);
      await vault.close();
      await database.close();
    },
  };
}

export type Strongroom = Awaited<ReturnType<typeof createStrongroom>>;
