/**
 * The vault in this process: one seal per tenant, cryptograms in untrusted storage, every state change
 * audited first. Plaintext seeds and keys exist here only for the length of one call, then are wiped.
 *
 * Concurrency: ceremonies of one tenant run one at a time (a per-tenant queue); key operations
 * (wallet creation, checkpoint signing) run concurrently and fail with the seal's typed error if a
 * ceremony sealed the vault under them.
 */
import { digestOf, digestOfBytes } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import { auditKeyBinding, generateAuditKey, signWithAuditKey } from './audit-key.ts';
import { fromBase64, wipe } from './bytes.ts';
import { openCryptogram, sealCryptogram } from './cryptogram.ts';
import { buildExportFile } from './export-file.ts';
import type { Authorization, EvidenceBundle } from './evidence.ts';
import { GovernanceHeads, headMacFromAuditSecret, headStorageInVaultKeys } from './governance-head.ts';
import { isStrongroomError } from '../domain/errors.ts';
import type { GovernanceHead } from '../governance/index.ts';
import { runRewrap } from './rewrap.ts';
import { vaultAssets, withdrawalIntent, type VaultChainsConfig } from './intents.ts';
import type { AssetRegistry } from '../domain/assets.ts';
import type { HDKey } from './hd.ts';
import { signBitcoinPsbt } from './signers/bitcoin-signer.ts';
import { SigningWorkers } from './signing-workers.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Seal } from './seal/seal.ts';
import type { QuorumParameters, SealDriver, TenantSeal } from './seal-driver.ts';
import { WalletMaker } from './wallet-workers.ts';
import {
  masterOfSecret,
  publicInfoOfSecret,
  secretFromMnemonic,
  secretFromXprv,
  utf8Bytes,
  walletBinding,
  type SeedSource,
  type WalletPublicInfo,
} from './wallets.ts';
import type {
  AcceptGovernanceHeadParameters,
  SignedWithdrawal,
  SignWithdrawalParameters,
  Actor,
  AuditPublicKey,
  CreateWalletParameters,
  ExportFile,
  ExportWalletsParameters,
  ImportWalletParameters,
  InitializeParameters,
  InitializeReturnType,
  RekeyParameters,
  RekeyReturnType,
  RestoreParameters,
  RewrapParameters,
  RewrapReturnType,
  RotateParameters,
  RotateReturnType,
  UnsealParameters,
  Vault,
  VaultAction,
  VaultAuditSink,
  VaultStatus,
  VaultStorage,
  WalletInfo,
  WalletRecord,
  WalletTier,
  ZeroizeParameters,
} from './vault.ts';

export interface LocalVaultOptions {
  storage: VaultStorage;
  audit: VaultAuditSink;
  /** The seal driver of every tenant, or a function choosing one per tenant. */
  seals: SealDriver | ((tenant: string) => SealDriver);
  /** Bitcoin network whose version bytes and coin type the account xpubs use. Default mainnet. */
  network?: BitcoinNetworkName;
  /** Networks, chain id, tokens and default fee caps the vault builds approved intents from (its own configuration). */
  chains?: VaultChainsConfig;
  now?: () => Date;
  /**
   * Seeds of wallets `createWallet` makes (wallets.ts): 'csprng' (default), a 256-bit BIP32 seed from the
   * CSPRNG, whose backup is its cryptogram (no mnemonic is ever shown); or 'bip39', a BIP39 mnemonic's
   * PBKDF2 seed. Imports always take a mnemonic or an xprv.
   */
  walletSeeds?: SeedSource;
  /** Worker threads for concurrent wallet creation (wallet-workers.ts); 0 keeps it on the event loop. */
  walletWorkers?: number;
  /**
   * Worker threads for a rewrap's per-row crypto (rewrap.ts); 0 keeps it on the event loop. Default: one
   * per core for large jobs on the software seal.
   */
  rewrapWorkers?: number;
  /** Worker threads that derive keys and sign withdrawals (signing-workers.ts); 0 keeps it on the event loop. */
  signingWorkers?: number;
}

const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const WALLET_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const TIERS: readonly WalletTier[] = ['hot', 'warm', 'cold'];

export class LocalVault implements Vault {
  readonly #storage: VaultStorage;
  readonly #audit: VaultAuditSink;
  readonly #driverFor: (tenant: string) => SealDriver;
  readonly #network: BitcoinNetworkName;
  readonly #chains: VaultChainsConfig | undefined;
  readonly #assets: AssetRegistry;
  readonly #now: () => Date;
  readonly #seals = new Map<string, Promise<TenantSeal>>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #governance: GovernanceHeads;
  readonly #walletMaker: WalletMaker;
  readonly #rewrapWorkers: number | undefined;
  readonly #signing: SigningWorkers;
  readonly #walletReads = new Map<string, Promise<WalletRecord | undefined>>();
  /** createWallet calls in flight (wallet-workers.ts starts its threads when there are several). */
  #creating = 0;

  constructor(options: LocalVaultOptions) {
    this.#storage = options.storage;
    this.#audit = options.audit;
    const seals = options.seals;
    this.#driverFor = typeof seals === 'function' ? seals : () => seals;
    this.#network = options.network ?? 'mainnet';
    this.#chains = options.chains;
    this.#assets = vaultAssets(options.chains);
    this.#now = options.now ?? (() => new Date());
    this.#signing = new SigningWorkers({
      chains: options.chains,
      assets: this.#assets,
      ...(options.signingWorkers !== undefined ? { workers: options.signingWorkers } : {}),
    });
    this.#rewrapWorkers = options.rewrapWorkers;
    this.#walletMaker = new WalletMaker({
      seeds: options.walletSeeds ?? 'csprng',
      network: this.#network,
      ...(options.walletWorkers !== undefined ? { workers: options.walletWorkers } : {}),
    });
    this.#governance = new GovernanceHeads({
      storage: headStorageInVaultKeys(this.#storage),
      macFor: (tenant) => this.#headMac(tenant),
      now: this.#now,
    });
  }

  async status(tenant: string): Promise<VaultStatus> {
    const ts = await this.#open(tenant);
    return this.#statusOf(ts);
  }

  // ------------------------------------------------------------------------------------- ceremonies

  initialize(tenant: string, params: InitializeParameters): Promise<InitializeReturnType> {
    return this.#ceremony(tenant, async (ts) => {
      if (ts.state() !== 'uninitialized') {
        throw new StrongroomError('E_VAULT_ALREADY_INITIALIZED', 'this tenant already has a master key', { details: { tenant } });
      }
      await this.#record(tenant, params, 'vault.initialize', ceremonySummary(params));
      const outcome = await ts.initialize(params);
      const auditPublicKey = await this.#ensureAuditKey(tenant, ts);
      return { ...outcome, status: await this.#statusOf(ts), auditPublicKey };
    });
  }

  unseal(tenant: string, params: UnsealParameters): Promise<VaultStatus> {
    return this.#ceremony(tenant, async (ts) => {
      await this.#record(tenant, params, 'vault.unseal', ceremonySummary(params));
      await ts.unseal(params);
      // An init that stopped between the seal ceremony and the audit key is completed here.
      await this.#ensureAuditKey(tenant, ts);
      return this.#statusOf(ts);
    });
  }

  seal(tenant: string, params: Actor = {}): Promise<VaultStatus> {
    return this.#ceremony(tenant, async (ts) => {
      requireInitialized(ts);
      await this.#record(tenant, params, 'vault.seal', {});
      this.#governance.forget(tenant);
      await ts.lock();
      return this.#statusOf(ts);
    });
  }

  zeroize(tenant: string, params: ZeroizeParameters = {}): Promise<VaultStatus> {
    return this.#ceremony(tenant, async (ts) => {
      requireInitialized(ts);
      await this.#record(tenant, params, 'vault.zeroize', {});
      this.#governance.forget(tenant);
      await ts.zeroize(params);
      return this.#statusOf(ts);
    });
  }

  restore(tenant: string, params: RestoreParameters): Promise<VaultStatus> {
    return this.#ceremony(tenant, async (ts) => {
      requireInitialized(ts);
      await this.#record(tenant, params, 'vault.restore', ceremonySummary(params));
      await ts.restore(params);
      return this.#statusOf(ts);
    });
  }

  rekey(tenant: string, params: RekeyParameters): Promise<RekeyReturnType> {
    return this.#ceremony(tenant, async (ts) => {
      requireInitialized(ts);
      await this.#record(tenant, params, 'vault.rekey', {
        presented: params.shares?.length ?? 0,
        custodians: (params.custodians ?? []).map((c) => c.name),
        threshold: params.threshold,
      });
      return ts.rekey(params);
    });
  }

  rotate(tenant: string, params: RotateParameters): Promise<RotateReturnType> {
    return this.#ceremony(tenant, async (ts) => {
      const seal = requireUnsealed(ts);
      const job = await this.#storage.getRewrapJob(tenant);
      if (job && job.state === 'running') {
        throw new StrongroomError('E_CONFLICT', 'a rewrap is unfinished; finish it before rotating again', {
          hints: ['run the rewrap (strongroom ceremony rotate resumes it)'],
          details: { toVersion: job.toVersion, done: job.done, total: job.total },
        });
      }
      await this.#record(tenant, params, 'vault.rotate', { ...ceremonySummary(params), from: seal.current() });
      return ts.rotate(params);
    });
  }

  rewrap(tenant: string, params: RewrapParameters = {}): Promise<RewrapReturnType> {
    return this.#ceremony(tenant, async (ts) => {
      const seal = requireUnsealed(ts);
      return runRewrap({
        tenant,
        seal,
        storage: this.#storage,
        now: this.#now,
        batchSize: params.batchSize ?? 2000,
        ...(params.onProgress ? { onProgress: params.onProgress } : {}),
        record: (action, payload) => this.#record(tenant, params, action, payload),
        retire: (ref) => ts.retire(ref),
        ...(this.#rewrapWorkers !== undefined ? { workers: this.#rewrapWorkers } : {}),
      });
    });
  }

  // ---------------------------------------------------------------------------------------- wallets

  async createWallet(tenant: string, params: CreateWalletParameters): Promise<WalletInfo> {
    this.#creating++;
    try {
      const { seal, walletId, tier, label } = await this.#prepareWallet(tenant, params);
      await this.#record(tenant, params, 'vault.wallet.create', { walletId, tier, label });
      const { secret, info } = await this.#walletMaker.make(this.#creating);
      return await this.#storeWallet(tenant, seal, { walletId, tier, label }, secret, info);
    } finally {
      this.#creating--;
    }
  }

  async importWallet(tenant: string, params: ImportWalletParameters): Promise<WalletInfo> {
    // Convert to bytes at once (strings cannot be wiped; see wallets.ts), before any await.
    const mnemonic = params.mnemonic !== undefined ? utf8Bytes(params.mnemonic, 'mnemonic') : undefined;
    const passphrase = utf8Bytes(params.passphrase, 'passphrase');
    const xprv = params.xprv;
    try {
      if ((mnemonic === undefined) === (xprv === undefined)) {
        throw new StrongroomError('E_VALIDATION', 'give exactly one of mnemonic or xprv', { details: { parameter: 'mnemonic' } });
      }
      const { seal, walletId, tier, label } = await this.#prepareWallet(tenant, params);
      // Parse before auditing: a malformed import changes nothing and is not an action.
      const secret = mnemonic
        ? await secretFromMnemonic(mnemonic, passphrase)
        : secretFromXprv(typeof xprv === 'string' ? xprv : new TextDecoder().decode(xprv));
      try {
        await this.#record(tenant, params, 'vault.wallet.import', { walletId, tier, label, kind: mnemonic ? 'bip39' : 'xprv' });
      } catch (e) {
        wipe(secret);
        throw e;
      }
      return await this.#storeWallet(tenant, seal, { walletId, tier, label }, secret);
    } finally {
      wipe(mnemonic, passphrase);
      if (xprv instanceof Uint8Array) wipe(xprv);
    }
  }

  async wallet(tenant: string, walletId: string): Promise<WalletInfo> {
    checkTenant(tenant);
    const rec = await this.#storage.getWallet(tenant, walletId);
    if (!rec) throw new StrongroomError('E_NOT_FOUND', 'no such wallet', { details: { walletId } });
    return walletInfo(rec);
  }

  // -------------------------------------------------------------------------------------- audit key

  async auditPublicKey(tenant: string): Promise<AuditPublicKey> {
    checkTenant(tenant);
    const rec = await this.#storage.getKey(tenant, 'audit');
    if (!rec) throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no audit key yet; run the key ceremony');
    return { keyId: rec.keyId, publicKey: rec.publicKey };
  }

  async signAuditCheckpoint(tenant: string, checkpointBytes: Uint8Array): Promise<Uint8Array> {
    if (!(checkpointBytes instanceof Uint8Array) || checkpointBytes.length === 0 || checkpointBytes.length > 4096) {
      throw new StrongroomError('E_VALIDATION', 'checkpointBytes must be 1-4096 bytes', { details: { parameter: 'checkpointBytes' } });
    }
    const seal = requireUnsealed(await this.#open(tenant));
    const rec = await this.#storage.getKey(tenant, 'audit');
    if (!rec) throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no audit key yet');
    const secret = await openCryptogram(seal, auditKeyBinding(tenant, rec.keyId), rec.cryptogram);
    try {
      return signWithAuditKey(secret, rec.publicKey, checkpointBytes);
    } finally {
      wipe(secret);
    }
  }

  // ----------------------------------------------------------------------------------------- export

  exportWallets(tenant: string, params: ExportWalletsParameters): Promise<ExportFile> {
    return this.#ceremony(tenant, async (ts) => {
      const seal = requireUnsealed(ts);
      const quorum = toQuorum(params.quorum);
      await ts.checkQuorum(quorum);
      const key = await this.#storage.getKey(tenant, 'audit');
      if (!key) throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no audit key yet');
      await this.#record(tenant, params, 'vault.export', {
        recipient: digestOfBytes(params.recipientPublicKey),
        wallets: await this.#storage.countWallets(tenant),
      });
      return buildExportFile({
        tenant,
        seal,
        storage: this.#storage,
        recipientPublicKey: params.recipientPublicKey,
        auditKey: key,
        now: this.#now,
      });
    });
  }

  // ------------------------------------------------------------------------------------- governance

  async governanceHead(tenant: string): Promise<GovernanceHead | null> {
    checkTenant(tenant);
    return this.#governance.head(tenant);
  }

  async acceptGovernanceHead(tenant: string, params: AcceptGovernanceHeadParameters): Promise<GovernanceHead> {
    checkTenant(tenant);
    const before = await this.#governance.head(tenant);
    if (before && before.height === params?.head?.height && before.digest === params.head.digest) return before;
    await this.#record(tenant, params, 'vault.governance.accept', { head: params?.head ?? null, from: before?.digest ?? null });
    const { record } = await this.#governance.accept(tenant, params.head, params.proof);
    return { tenant: record.tenant, genesis: record.genesis, height: record.height, digest: record.digest };
  }

  async authorize(tenant: string, presented: EvidenceBundle & Actor): Promise<Authorization> {
    const bundle = ownCopy(presented);
    checkTenant(tenant);
    const authorization = await this.#refusalsAudited(tenant, bundle, bundle, 'vault.authorize.refused', async () => (await this.#checkBundle(tenant, bundle)).authorization);
    await this.#record(tenant, bundle, 'vault.authorize', authorization);
    return authorization;
  }

  async signWithdrawal(tenant: string, params: SignWithdrawalParameters): Promise<SignedWithdrawal> {
    checkTenant(tenant);
    const bundle = ownCopy(params?.evidence);
    const signed = await this.#refusalsAudited(tenant, params, bundle, 'vault.sign.refused', async () => {
      if (typeof params.unsignedPayload !== 'string' || params.unsignedPayload.length === 0 || params.unsignedPayload.length > 1_000_000) {
        throw new StrongroomError('E_VALIDATION', 'unsignedPayload must be a non-empty string', { details: { parameter: 'unsignedPayload' } });
      }
      const { authorization, wallet } = await this.#checkBundle(tenant, bundle);
      if (!wallet) throw new StrongroomError('E_NOT_FOUND', 'no such wallet', { details: { walletId: String(bundle.request.payload.from) } });
      const intent = withdrawalIntent(bundle.request.payload, this.#chains, this.#assets);
      const seal = requireUnsealed(await this.#open(tenant));
      const secret = await openCryptogram(seal, walletBinding(tenant, wallet.walletId), wallet.cryptogram);
      try {
        if (intent.chain === 'bitcoin') {
          const master = masterOfSecret(secret, this.#network) as HDKey;
          try {
            const r = signBitcoinPsbt({ master, psbt: fromBase64(params.unsignedPayload, 'unsignedPayload'), intent });
            return { authorization, chain: 'bitcoin' as const, rawTx: bytesToHex(r.rawTx), txid: r.txid, fee: r.summary.fee.toString() };
          } finally {
            master.wipePrivateData();
          }
        }
        // Derivation and signing run on the signing threads (the secret is copied there and wiped).
        const walletKey = `${tenant}\n${wallet.walletId}\n${digestOfBytes(wallet.cryptogram)}`;
        const r = await this.#signing.signEvm({ wallet: walletKey, unsignedTx: params.unsignedPayload, intent }, secret);
        return { authorization, chain: 'ethereum' as const, rawTx: r.rawTx, txid: r.hash, fee: r.maxFee };
      } finally {
        wipe(secret);
      }
    });
    // The signature leaves only once its audit entry is committed.
    await this.#record(tenant, params, 'vault.sign', { authorization: signed.authorization, chain: signed.chain, txid: signed.txid, fee: signed.fee });
    return signed;
  }

  /**
   * Verifies the governance chain to the bundle's head (GovernanceHeads keeps the verified head state), then
   * checks the evidence against that state on a signing thread (signing-workers.ts).
   */
  async #checkBundle(tenant: string, bundle: EvidenceBundle): Promise<{ authorization: Authorization; wallet: WalletRecord | undefined }> {
    const g = bundle.governance;
    const { chain } = await this.#governance.accept(tenant, g.head, { from: g.from, transitions: g.transitions });
    const walletId = String(bundle.request?.payload?.from ?? '');
    const wallet = await this.#walletRecord(tenant, walletId);
    const authorization = await this.#signing.check({
      state: chain.head, stateDigest: chain.headDigest, bundle, walletTier: wallet?.tier, now: this.#now().getTime(),
    });
    return { authorization, wallet };
  }

  /** A wallet record, read once per turn of the event loop however many signatures ask for it. */
  #walletRecord(tenant: string, walletId: string): Promise<WalletRecord | undefined> {
    const key = `${tenant}\n${walletId}`;
    let read = this.#walletReads.get(key);
    if (!read) {
      if (this.#walletReads.size === 0) setImmediate(() => this.#walletReads.clear());
      this.#walletReads.set(key, (read = this.#storage.getWallet(tenant, walletId)));
    }
    return read;
  }

  /** Runs `fn`; a refusal is audited as `action` (code and reason only) before it is thrown. */
  async #refusalsAudited<T>(tenant: string, who: Actor | undefined, bundle: EvidenceBundle | undefined, action: VaultAction, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const code = isStrongroomError(e) ? e.code : 'E_INTERNAL';
      const reason = isStrongroomError(e) ? (e.details.reason ?? e.details.field ?? null) : null;
      await this.#record(tenant, who, action, { requestId: bundle?.request?.id ?? null, head: bundle?.governance?.head ?? null, code, reason });
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.#signing.close();
    await this.#walletMaker.close();
    const all = [...this.#seals.values()];
    this.#seals.clear();
    for (const p of all) await (await p.catch(() => undefined))?.close();
  }

  // -------------------------------------------------------------------------------------- internals

  #open(tenant: string): Promise<TenantSeal> {
    checkTenant(tenant);
    let p = this.#seals.get(tenant);
    if (!p) {
      p = this.#driverFor(tenant).open(tenant);
      this.#seals.set(tenant, p);
      p.catch(() => this.#seals.delete(tenant));
    }
    return p;
  }

  /** Runs `fn` after every earlier ceremony of this tenant finished (success or not). */
  #ceremony<T>(tenant: string, fn: (ts: TenantSeal) => Promise<T>): Promise<T> {
    checkTenant(tenant);
    const previous = this.#queues.get(tenant) ?? Promise.resolve();
    const run = previous.then(async () => fn(await this.#open(tenant)));
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(tenant, settled);
    void settled.then(() => {
      if (this.#queues.get(tenant) === settled) this.#queues.delete(tenant);
    });
    return run;
  }

  /** Audit first; if it cannot be recorded the action does not happen. The payload is never secret. */
  async #record(tenant: string, who: Actor | undefined, action: VaultAction, payload: unknown): Promise<void> {
    const actor = typeof who?.actor === 'string' && who.actor.length > 0 ? who.actor : 'system';
    try {
      await this.#audit.record(tenant, { actor, action, payloadDigest: digestOf({ tenant, action, payload }) });
    } catch (cause) {
      throw new StrongroomError('E_AUDIT_WRITE_FAILED', `the vault could not audit ${action}; nothing was done`, { cause });
    }
  }

  /** The tenant's governance-head MAC, keyed from its audit key (so from the master key); needs the vault unsealed. */
  async #headMac(tenant: string) {
    const seal = requireUnsealed(await this.#open(tenant));
    const rec = await this.#storage.getKey(tenant, 'audit');
    if (!rec) throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no audit key yet; run the key ceremony');
    const secret = await openCryptogram(seal, auditKeyBinding(tenant, rec.keyId), rec.cryptogram);
    try {
      return headMacFromAuditSecret(tenant, secret);
    } finally {
      wipe(secret);
    }
  }

  async #statusOf(ts: TenantSeal): Promise<VaultStatus> {
    const state = ts.state();
    const job = await this.#storage.getRewrapJob(ts.tenant);
    return {
      tenant: ts.tenant,
      state,
      mechanism: ts.mechanism,
      masterKey: ts.seal && state !== 'uninitialized' ? ts.seal.current() : null,
      wallets: await this.#storage.countWallets(ts.tenant),
      rewrap:
        job && job.state === 'running'
          ? { fromVersion: job.fromVersion, toVersion: job.toVersion, done: job.done, total: job.total, state: job.state }
          : null,
    };
  }

  async #ensureAuditKey(tenant: string, ts: TenantSeal): Promise<AuditPublicKey> {
    const existing = await this.#storage.getKey(tenant, 'audit');
    if (existing) return { keyId: existing.keyId, publicKey: existing.publicKey };
    const seal = requireUnsealed(ts);
    const key = generateAuditKey();
    try {
      const cryptogram = await sealCryptogram(seal, auditKeyBinding(tenant, key.keyId), key.secretKey);
      await this.#storage.putKey({
        tenant,
        purpose: 'audit',
        keyId: key.keyId,
        keyVersion: seal.current().version,
        cryptogram,
        publicKey: key.publicKey,
        createdAt: this.#now().toISOString(),
      });
    } finally {
      wipe(key.secretKey);
    }
    return { keyId: key.keyId, publicKey: key.publicKey };
  }

  async #prepareWallet(tenant: string, params: CreateWalletParameters) {
    checkTenant(tenant);
    const { walletId, tier } = params ?? ({} as CreateWalletParameters);
    const label = params?.label ?? '';
    if (typeof walletId !== 'string' || !WALLET_ID_RE.test(walletId)) {
      throw new StrongroomError('E_VALIDATION', 'walletId must be 1-128 letters, digits, dot, dash, colon or underscore', {
        details: { parameter: 'walletId' },
      });
    }
    if (!TIERS.includes(tier)) {
      throw new StrongroomError('E_VALIDATION', 'tier must be hot, warm or cold', { details: { parameter: 'tier' } });
    }
    if (typeof label !== 'string' || label.length > 200) {
      throw new StrongroomError('E_VALIDATION', 'label must be a string of at most 200 characters', { details: { parameter: 'label' } });
    }
    const seal = requireUnsealed(await this.#open(tenant));
    const job = await this.#storage.getRewrapJob(tenant);
    if (job && job.state === 'running') {
      // The rewrap's before/after digest covers a fixed set of wallets.
      throw new StrongroomError('E_CONFLICT', 'a master key rewrap is in progress; wallets can be created when it ends', {
        details: { done: job.done, total: job.total },
      });
    }
    if (await this.#storage.getWallet(tenant, walletId)) {
      throw new StrongroomError('E_CONFLICT', 'a wallet with this id already exists', { details: { walletId } });
    }
    return { seal, walletId, tier, label };
  }

  async #storeWallet(
    tenant: string,
    seal: Seal,
    meta: { walletId: string; tier: WalletTier; label: string },
    secret: Uint8Array,
    derived?: WalletPublicInfo,
  ): Promise<WalletInfo> {
    try {
      const info = derived ?? publicInfoOfSecret(secret, this.#network);
      const cryptogram = await sealCryptogram(seal, walletBinding(tenant, meta.walletId), secret);
      const record: WalletRecord = {
        tenant,
        ...meta,
        keyVersion: seal.current().version,
        cryptogram,
        fingerprint: info.fingerprint,
        network: this.#network,
        xpubs: info.xpubs,
        createdAt: this.#now().toISOString(),
      };
      await this.#storage.insertWallet(record);
      return walletInfo(record);
    } finally {
      wipe(secret);
    }
  }
}

function walletInfo(r: WalletRecord): WalletInfo {
  return {
    walletId: r.walletId,
    tier: r.tier,
    label: r.label,
    fingerprint: r.fingerprint,
    network: r.network,
    xpubs: r.xpubs,
    keyVersion: r.keyVersion,
    createdAt: r.createdAt,
  };
}

function checkTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== 'string' || !TENANT_RE.test(tenant)) {
    throw new StrongroomError('E_VALIDATION', 'tenant must be 1-64 letters, digits, dot, dash or underscore', {
      details: { parameter: 'tenant' },
    });
  }
}

function requireInitialized(ts: TenantSeal): void {
  if (ts.state() === 'uninitialized') {
    throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no master key yet; run the key ceremony');
  }
}

/** The seal, if it can use its master key now; otherwise the typed error of its state. */
function requireUnsealed(ts: TenantSeal): Seal {
  const state = ts.state();
  if (state === 'unsealed' && ts.seal) return ts.seal;
  if (state === 'uninitialized') throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no master key yet; run the key ceremony');
  if (state === 'zeroized') {
    throw new StrongroomError('E_VAULT_ZEROIZED', 'the master key was zeroized; wallets are frozen', {
      hints: ['restore with the custodians\u2019 material'],
    });
  }
  throw new StrongroomError('E_VAULT_SEALED', 'the vault is sealed', { hints: ['unseal with the custodians\u2019 quorum'] });
}

/** What a ceremony's audit entry says about its material: who and how many, never a secret. */
function ceremonySummary(params: object): Record<string, unknown> {
  const p = params as Record<string, unknown>;
  const out: Record<string, unknown> = { mechanism: p.mechanism };
  if (Array.isArray(p.custodians)) out.custodians = (p.custodians as Array<{ name?: unknown }>).map((c) => String(c?.name));
  if (typeof p.threshold === 'number') out.threshold = p.threshold;
  if (Array.isArray(p.shares)) out.shares = p.shares.length;
  if (Array.isArray(p.components)) out.components = p.components.length;
  return out;
}

function toQuorum(q: QuorumParameters): QuorumParameters {
  if (q?.mechanism === 'shamir') return { mechanism: 'shamir', shares: q.shares };
  if (q?.mechanism === 'pkcs11' && Array.isArray(q.components)) return { mechanism: 'pkcs11', components: q.components };
  throw new StrongroomError('E_QUORUM_INCOMPLETE', 'an export needs the custodians\u2019 quorum (shares, or key components)', {
    details: { parameter: 'quorum' },
  });
}

/**
 * The vault checks and signs from its own copy of what the caller handed over (in process, the caller keeps
 * references and could change a field between the check and its use). The governance proof and the policy
 * are not copied: only the vault's own verified copies of those are used.
 */
function ownCopy<B extends EvidenceBundle | undefined>(b: B): B {
  if (b === null || typeof b !== 'object') return b;
  return {
    ...b,
    request: structuredClone(b.request),
    initiatorRequest: structuredClone(b.initiatorRequest),
    context: structuredClone(b.context),
    approvals: structuredClone(b.approvals),
  };
}
