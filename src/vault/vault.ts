/**
 * The vault's one interface, identical in-process (`LocalVault`) and across a Unix socket (`RemoteVault`
 * talking to `startVaultServer`), so production can keep every key out of the API process.
 *
 * Everything here is public data or ceremony material that custodians bring. There is deliberately NO
 * method that returns a seed, a private key or a master key: wallets leave as extended public keys, the
 * audit key as its public key and signatures, and an export only as a file encrypted to a recipient.
 *
 * Every state-changing call is audited through `VaultAuditSink` BEFORE it takes effect, and does not happen
 * if the audit record cannot be written (fail closed).
 */
import type { Digest } from '../domain/canonical.ts';
import type { MasterKeyRef, SealMechanism, SealState } from './seal/seal.ts';
import type { GovernanceChainProof, GovernanceHead } from '../governance/index.ts';
import type { Authorization, EvidenceBundle } from './evidence.ts';

export type { MasterKeyRef, SealMechanism, SealState };

export type WalletTier = 'hot' | 'warm' | 'cold';

/** Who performs a state change: a key id, or `system`. Recorded in the audit entry. */
export interface Actor {
  actor?: string;
}

// ---------------------------------------------------------------------------------------------- status

export interface VaultStatus {
  tenant: string;
  state: SealState;
  /** Null only while uninitialized and no seal is configured for the tenant. */
  mechanism: SealMechanism | null;
  /** The master key new cryptograms use; null while uninitialized. */
  masterKey: MasterKeyRef | null;
  /** Number of wallets (their cryptograms live in storage, readable even when sealed). */
  wallets: number;
  /** An unfinished rotation: new cryptograms use `toVersion`, older ones still need the rewrap. */
  rewrap: RewrapProgress | null;
}

// ------------------------------------------------------------------------------------------ ceremonies

/** A Shamir custodian at init or rekey: their share file is encrypted under their own passphrase. */
export interface ShamirCustodian {
  name: string;
  /** UTF-8 bytes preferred (the caller can wipe them); a string is accepted at the edge. */
  passphrase: Uint8Array | string;
}

/** One custodian's share as presented at unseal, restore, rekey or export. */
export interface ShamirSharePresentation {
  /** The share file exactly as issued (it is encrypted; only the passphrase opens it). */
  file: Uint8Array;
  passphrase: Uint8Array | string;
}

/** What a custodian takes home from a Shamir ceremony: their encrypted share file. */
export interface IssuedShareFile {
  custodian: string;
  index: number;
  file: Uint8Array;
}

export type InitializeParameters = Actor &
  (
    | { mechanism: 'shamir'; custodians: ShamirCustodian[]; threshold: number }
    | {
        mechanism: 'pkcs11';
        /** Token user PIN, presented at the ceremony and never kept. */
        pin: string;
        /** One random 32-byte key component per custodian; XOR-combined into the master key in the token. */
        components: Uint8Array[];
      }
  );

export interface InitializeReturnType {
  status: VaultStatus;
  /** Ed25519 public key of the tenant's audit key created at init. */
  auditPublicKey: AuditPublicKey;
  /** Shamir: one encrypted share file per custodian. */
  shareFiles?: IssuedShareFile[];
  /** Fingerprint of the unseal key / master key lineage every custodian notes (Shamir). */
  fingerprint?: string;
  /** PKCS#11: the combined key's check value and each component's (every custodian compares them). */
  kcv?: string;
  componentKcvs?: string[];
}

/** Quorum material: Shamir shares, or the token PIN. */
export type UnsealParameters = Actor &
  ({ mechanism: 'shamir'; shares: ShamirSharePresentation[] } | { mechanism: 'pkcs11'; pin: string });

/** Custodian material proving the quorum is present (exports): Shamir shares, or the PKCS#11 components. */
export type QuorumParameters =
  | { mechanism: 'shamir'; shares: ShamirSharePresentation[] }
  | { mechanism: 'pkcs11'; components: Uint8Array[] };

/** Restore after zeroize: the custodians bring the same material that built the key. */
export type RestoreParameters = Actor &
  (
    | { mechanism: 'shamir'; shares: ShamirSharePresentation[] }
    | { mechanism: 'pkcs11'; pin: string; components: Uint8Array[]; version?: number }
  );

/** Zeroizing a sealed PKCS#11 seal needs a login (the PIN); an unsealed one uses its session. */
export type ZeroizeParameters = Actor & { pin?: string };

/** Shamir only: the current quorum re-shares the unseal key to a new custodian set. No cryptogram changes. */
export type RekeyParameters = Actor & {
  shares: ShamirSharePresentation[];
  custodians: ShamirCustodian[];
  threshold: number;
};

export interface RekeyReturnType {
  shareFiles: IssuedShareFile[];
  fingerprint?: string;
}

/** A new master key version; PKCS#11 takes fresh components, Shamir draws it from the CSPRNG. */
export type RotateParameters = Actor &
  ({ mechanism: 'shamir'; shares?: ShamirSharePresentation[] } | { mechanism: 'pkcs11'; components: Uint8Array[] });

export interface RotateReturnType {
  masterKey: MasterKeyRef;
  kcv?: string;
  componentKcvs?: string[];
  /** Shamir seals may reissue share files carrying the new encrypted master key. */
  shareFiles?: IssuedShareFile[];
}

export interface RewrapProgress {
  fromVersion: number;
  toVersion: number;
  done: number;
  total: number;
  state: 'running' | 'done';
}

export interface RewrapParameters extends Actor {
  /** Cryptograms re-encrypted per database transaction (default 2,000). */
  batchSize?: number;
  /** Called after each committed batch (in-process only; the remote client polls `status`). */
  onProgress?: (progress: RewrapProgress) => void;
}

export interface RewrapReturnType {
  fromVersion: number;
  toVersion: number;
  /** Cryptograms decrypted under the new key and checked against their recorded fingerprint. */
  verified: number;
  /** Digest over every wallet's (walletId, fingerprint), before and after; equal, or the rewrap fails. */
  digestBefore: Digest;
  digestAfter: Digest;
  /** True once the old key version was zeroized in the seal. */
  retired: boolean;
}

// --------------------------------------------------------------------------------------------- wallets

export interface WalletXpubs {
  /** m/84'/coin'/0' (P2WPKH). */
  bip84: string;
  /** m/86'/coin'/0' (P2TR). */
  bip86: string;
  /** m/44'/60'/0' (EVM; addresses at …/0/i). */
  bip44eth: string;
}

/** All a wallet shows outside the vault. */
export interface WalletInfo {
  walletId: string;
  tier: WalletTier;
  label: string;
  /** BIP32 master key fingerprint, 8 hex digits. */
  fingerprint: string;
  network: string;
  xpubs: WalletXpubs;
  keyVersion: number;
  createdAt: string;
}

export interface CreateWalletParameters extends Actor {
  walletId: string;
  tier: WalletTier;
  label?: string;
}

export type ImportWalletParameters = CreateWalletParameters &
  (
    | {
        /** BIP39 mnemonic: UTF-8 bytes preferred (wiped after use); a string is accepted but cannot be wiped. */
        mnemonic: Uint8Array | string;
        /** Optional BIP39 passphrase ("25th word"). */
        passphrase?: Uint8Array | string;
        xprv?: undefined;
      }
    | { xprv: Uint8Array | string; mnemonic?: undefined; passphrase?: undefined }
  );

// ------------------------------------------------------------------------------------------ audit key

export interface AuditPublicKey {
  /** `audit-vault-<16 hex>`: what verifiers trust checkpoints by. */
  keyId: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

// -------------------------------------------------------------------------------------------- export

export interface ExportWalletsParameters extends Actor {
  /** Recipient public key, DER SPKI: RSA (RSA-OAEP-256 wrap) or X25519 (ECDH + HKDF + AES-256-GCM). */
  recipientPublicKey: Uint8Array;
  /** The custodians' quorum, checked by the seal before anything is exported. */
  quorum: QuorumParameters;
}

/** A signed export file: JSON bytes; `signature` is the audit key's Ed25519 over the canonical body. */
export interface ExportFile {
  bytes: Uint8Array;
  wallets: number;
  digest: Digest;
}

// ---------------------------------------------------------------------------------------------- vault

export interface Vault {
  status(tenant: string): Promise<VaultStatus>;

  initialize(tenant: string, params: InitializeParameters): Promise<InitializeReturnType>;
  unseal(tenant: string, params: UnsealParameters): Promise<VaultStatus>;
  /** Forget the master key and every cache. Idempotent; allowed in any initialized state. */
  seal(tenant: string, params?: Actor): Promise<VaultStatus>;
  /** Destroy the master key in the seal: wallets are frozen, not lost. */
  zeroize(tenant: string, params?: ZeroizeParameters): Promise<VaultStatus>;
  restore(tenant: string, params: RestoreParameters): Promise<VaultStatus>;
  rekey(tenant: string, params: RekeyParameters): Promise<RekeyReturnType>;
  /** Adds a new master key version (current from now on); run `rewrap` next. */
  rotate(tenant: string, params: RotateParameters): Promise<RotateReturnType>;
  /** Re-encrypts every cryptogram under the current version, resumably; then retires the old version. */
  rewrap(tenant: string, params?: RewrapParameters): Promise<RewrapReturnType>;

  createWallet(tenant: string, params: CreateWalletParameters): Promise<WalletInfo>;
  importWallet(tenant: string, params: ImportWalletParameters): Promise<WalletInfo>;
  /** Public info of one wallet (readable while sealed: it is in storage). */
  wallet(tenant: string, walletId: string): Promise<WalletInfo>;

  auditPublicKey(tenant: string): Promise<AuditPublicKey>;
  /** Ed25519 signature (64 bytes) over `checkpointBytes` (src/audit/checkpoint.ts) with the tenant's audit key. */
  signAuditCheckpoint(tenant: string, checkpointBytes: Uint8Array): Promise<Uint8Array>;

  exportWallets(tenant: string, params: ExportWalletsParameters): Promise<ExportFile>;

  /** The governance head this vault has verified for the tenant (src/vault/governance-head.ts), or null. */
  governanceHead(tenant: string): Promise<GovernanceHead | null>;
  /** Verifies `proof` and moves the recorded head to `head` (forward only: E_GOVERNANCE_ROLLBACK). Audited. */
  acceptGovernanceHead(tenant: string, params: AcceptGovernanceHeadParameters): Promise<GovernanceHead>;
  /**
   * Checks an evidence bundle by itself (src/vault/evidence.ts) against the governance head it tracks.
   * Audited whether authorized (`vault.authorize`) or refused (`vault.authorize.refused`).
   */
  authorize(tenant: string, bundle: EvidenceBundle & Actor): Promise<Authorization>;

  /**
   * Signs a withdrawal: checks the evidence bundle exactly as `authorize` does, builds the approved intent
   * from the verified request and the vault's own chains configuration, re-derives from the unsigned payload
   * what it does (destination, amount, asset, fee, chain id, change) and signs only if the two agree. Never
   * signs a digest handed to it. Deterministic: the same payload gives the same signed bytes (RFC 6979).
   * Audited as `vault.sign` or `vault.sign.refused`.
   */
  signWithdrawal(tenant: string, params: SignWithdrawalParameters): Promise<SignedWithdrawal>;

  /** Releases seals and handles (closes nothing in storage). */
  close(): Promise<void>;
}

export interface SignWithdrawalParameters extends Actor {
  readonly evidence: EvidenceBundle;
  /** The unsigned payload stored before signing: a PSBT (base64) for Bitcoin, the 0x02… EIP-1559 serialisation for EVM chains. */
  readonly unsignedPayload: string;
}

export interface SignedWithdrawal {
  readonly authorization: Authorization;
  readonly chain: 'bitcoin' | 'ethereum';
  /** Signed transaction: hex (Bitcoin) or 0x-hex (EVM), ready to broadcast. */
  readonly rawTx: string;
  /** Bitcoin txid or EVM transaction hash (0x…). */
  readonly txid: string;
  /** Total fee the transaction pays (Bitcoin) or may pay at most (EVM: gasLimit × maxFeePerGas), base units. */
  readonly fee: string;
}

export interface AcceptGovernanceHeadParameters extends Actor {
  head: { height: number; digest: Digest };
  proof: GovernanceChainProof;
}

// ------------------------------------------------------------------------------------- injected roles

/** Audit happens before the action; if `record` throws, the action does not happen. */
export interface VaultAuditSink {
  record(tenant: string, entry: { actor: string; action: VaultAction; payloadDigest: Digest }): Promise<void>;
}

export type VaultAction =
  | 'vault.initialize'
  | 'vault.unseal'
  | 'vault.seal'
  | 'vault.zeroize'
  | 'vault.restore'
  | 'vault.rekey'
  | 'vault.rotate'
  | 'vault.rewrap.start'
  | 'vault.rewrap.done'
  | 'vault.export'
  | 'vault.wallet.create'
  | 'vault.wallet.import'
  | 'vault.governance.accept'
  | 'vault.authorize'
  | 'vault.authorize.refused'
  | 'vault.sign'
  | 'vault.sign.refused';

/** A stored wallet: public fields and its seed cryptogram. */
export interface WalletRecord {
  tenant: string;
  walletId: string;
  tier: WalletTier;
  label: string;
  keyVersion: number;
  cryptogram: Uint8Array;
  fingerprint: string;
  network: string;
  xpubs: WalletXpubs;
  createdAt: string;
}

/** A stored vault-internal key (the audit key): its cryptogram and public key. */
export interface VaultKeyRecord {
  tenant: string;
  /** `governance-head`: the MAC-authenticated head record (public bytes in `cryptogram`; see governance-head.ts). */
  purpose: 'audit' | 'governance-head';
  keyId: string;
  keyVersion: number;
  cryptogram: Uint8Array;
  publicKey: Uint8Array;
  createdAt: string;
}

/** Progress of a rewrap, committed with each batch so a crash resumes where it stopped. */
export interface RewrapJob {
  tenant: string;
  fromVersion: number;
  toVersion: number;
  state: 'running' | 'done';
  /** Last walletId committed (wallets are rewrapped in walletId order); null before the first batch. */
  cursor: string | null;
  done: number;
  total: number;
  /** Digest over (walletId, fingerprint) of every wallet, recorded when the job started. */
  digestBefore: Digest;
  /** Running SHA-256 chain over the re-derived (walletId, fingerprint) of the rows done so far. */
  digestRunning: string;
  startedAt: string;
  finishedAt: string | null;
}

/**
 * Where cryptograms live: outside the vault, in untrusted storage (the database). A row edited by hand
 * makes the vault refuse (the cryptogram's associated data binds tenant, wallet, key version and purpose).
 */
export interface VaultStorage {
  /** Inserts a wallet; `E_CONFLICT` if the walletId is taken in this tenant. */
  insertWallet(record: WalletRecord): Promise<void>;
  getWallet(tenant: string, walletId: string): Promise<WalletRecord | undefined>;
  countWallets(tenant: string): Promise<number>;
  /** Wallets in walletId order after `after` (exclusive), at most `limit`. */
  listWallets(tenant: string, options: { after: string | null; limit: number }): Promise<WalletRecord[]>;
  /** (walletId, fingerprint) pairs in walletId order, for digests over millions of rows. */
  listFingerprints(
    tenant: string,
    options: { after: string | null; limit: number },
  ): Promise<Array<{ walletId: string; fingerprint: string }>>;

  putKey(record: VaultKeyRecord): Promise<void>;
  getKey(tenant: string, purpose: 'audit' | 'governance-head'): Promise<VaultKeyRecord | undefined>;

  getRewrapJob(tenant: string): Promise<RewrapJob | undefined>;
  /** Creates or replaces the tenant's job row. */
  putRewrapJob(job: RewrapJob): Promise<void>;
  /**
   * One transaction: replaces each wallet's cryptogram (now under `job.toVersion`) only if the row is still
   * at the `fromVersion` it was read at (so a re-run never touches done rows), and writes the job's progress.
   */
  commitRewrapBatch(
    job: RewrapJob,
    updates: Array<{ walletId: string; fromVersion: number; cryptogram: Uint8Array }>,
  ): Promise<void>;
}
