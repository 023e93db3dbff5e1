/**
 * The software seal. Key hierarchy (DESIGN.md, "Key ceremony"): custodian shares → unseal key (KEK, 32
 * bytes) → master keys (32 bytes, one per version) → cryptograms.
 *
 * At rest, in `SealStorage` (untrusted): a record (non-secret, MACed under the unseal key) and the keyring
 * (every live master key encrypted under the unseal key). Each custodian holds a share file: a Shamir share
 * of the unseal key under their passphrase, plus a copy of the keyring (see share-file.ts).
 *
 * Zeroize and restore. `zeroize` wipes memory and deletes the keyring from storage; `restore` takes the
 * keyring from the presented share files. A rotation after the share files were issued creates a key those
 * files lack; rather than lose it, zeroize keeps exactly those not-yet-covered versions in storage (the
 * recovery blob, still encrypted under the unseal key) and restore merges them in. So **restore needs M
 * share files of the current epoch, plus the recovery blob if master keys were rotated since those files
 * were issued or refreshed**. `refreshShareFiles` (no passphrase needed) gives custodians files carrying the
 * newest keyring; once every custodian's file is refreshed, a zeroize leaves no key material in storage.
 * `status().shareFilesCurrent` says whether that is the case.
 *
 * Rekey re-shares the same unseal key under a new epoch; the record refuses shares of older epochs. The
 * master keys and every cryptogram stay as they are. (Old custodians acting together could still rebuild
 * the unseal key from their old shares, as with any re-share of one secret; rotate the master key when that
 * matters.)
 *
 * @example
 * const { seal, shareFiles } = await ShamirSeal.initialize({ tenant, storage, threshold: 2,
 *   custodians: [{ id: 'alice', passphrase: pa }, { id: 'bob', passphrase: pb }, { id: 'carol', passphrase: pc }] });
 * await seal.unseal([{ file: shareFiles[0]!, passphrase: pa }, { file: shareFiles[2]!, passphrase: pc }]);
 * const c = await sealCryptogram(seal, binding, seed);
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { combine, split } from 'shamir-secret-sharing';
import { StrongroomError, type ErrorCode } from '../../domain/errors.ts';
import { toHex, utf8, wipe } from '../bytes.ts';
import { gcmDecrypt, gcmEncrypt, gcmKey } from './aes-gcm.ts';
import {
  decryptMasterKey,
  encryptMasterKey,
  parseKeyring,
  type EncryptedKeyring,
  type EncryptedMasterKey,
} from './keyring.ts';
import type { MasterKeyRef, Seal, SealState } from './seal.ts';
import { assertStorageName, type SealStorage } from './seal-storage.ts';
import {
  KEYRING_NAME,
  RECORD_NAME,
  RECOVERY_NAME,
  decodeRecord,
  encodeRecord,
  signRecord,
  verifyRecord,
  type ShamirSealRecord,
  type UnsignedRecord,
} from './shamir-seal-record.ts';
import {
  checkShareFile,
  decryptShareFile,
  encryptShareFile,
  parseShareFile,
  passphraseLength,
  unsealKeyFingerprint,
  withMasterKeys,
  type Passphrase,
  type ScryptCost,
  type ShareFile,
} from './share-file.ts';

export type { Passphrase, ShareFile } from './share-file.ts';

/** A custodian at a ceremony: their id and the passphrase their new share file is encrypted under. */
export interface Custodian {
  id: string;
  passphrase: Passphrase;
}

/** A share presented at unseal, restore or rekey: the file (parsed, or its JSON text / bytes) and passphrase. */
export interface PresentedShare {
  file: ShareFile | string | Uint8Array;
  passphrase: Passphrase;
}

export interface ShamirSealOpenParameters {
  tenant: string;
  storage: SealStorage;
}

export interface ShamirSealInitializeParameters extends ShamirSealOpenParameters {
  custodians: readonly Custodian[];
  /** M of N (2 <= M <= N <= 255). */
  threshold: number;
  /** Source of the unseal key and master key; default node:crypto `randomBytes`. Tests only. */
  random?: (length: number) => Uint8Array;
  /** Test suites only: a cheaper scrypt for share files (N >= 2^10). */
  scrypt?: Partial<ScryptCost>;
}

export interface ShamirSealInitializeReturnType {
  /** The new seal, `sealed`: custodians unseal it with their share files. */
  seal: ShamirSeal;
  /** One per custodian, in the order given; ciphertext only, safe to write to disk. */
  shareFiles: ShareFile[];
}

export interface ShamirSealRekeyOptions {
  /** Test suites only: a cheaper scrypt for share files. */
  scrypt?: Partial<ScryptCost>;
}

/** Non-secret facts about a seal, for `strongroom status`. */
export interface ShamirSealStatus {
  mechanism: 'shamir';
  tenant: string;
  state: SealState;
  keyId?: string;
  current?: number;
  versions?: number[];
  epoch?: number;
  threshold?: number;
  total?: number;
  custodians?: string[];
  /** Fingerprint of the unseal key at this epoch (16 hex), as printed in every share file: custodians note it. */
  fingerprint?: string;
  /** Every issued share file carries the current master key (a zeroize would leave nothing behind). */
  shareFilesCurrent?: boolean;
}

const KEY_BYTES = 32;

/** Keys held while unsealed: `KeyObject`s only, so no raw copy of any key lingers in JS memory. */
interface Unsealed {
  unsealKey: KeyObject;
  masterKeys: Map<number, KeyObject>;
}

export class ShamirSeal implements Seal {
  readonly mechanism = 'shamir' as const;
  readonly tenant: string;
  readonly #storage: SealStorage;
  #record: ShamirSealRecord | undefined;
  #zeroized = false;
  #unsealed: Unsealed | undefined;
  /** Ceremonies run one at a time (each reads, then writes, storage). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(tenant: string, storage: SealStorage) {
    this.tenant = tenant;
    this.#storage = storage;
  }

  /**
   * Key ceremony: draws an unseal key and a master key from the CSPRNG, stores the master key only
   * encrypted under the unseal key, splits the unseal key M-of-N and encrypts each share under its
   * custodian's passphrase. A tenant that already has a seal fails with `E_VAULT_ALREADY_INITIALIZED`.
   */
  static async initialize(params: ShamirSealInitializeParameters): Promise<ShamirSealInitializeReturnType> {
    const { tenant, storage, custodians, threshold } = params;
    assertTenant(tenant);
    assertStorage(storage);
    assertCustodians(custodians, threshold);
    if (await storage.get(tenant, RECORD_NAME)) {
      throw new StrongroomError('E_VAULT_ALREADY_INITIALIZED', 'this tenant already has a seal', {
        details: { tenant },
      });
    }
    const random = params.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
    const unsealRaw = takeKey(random(KEY_BYTES), 'random');
    const masterRaw = takeKey(random(KEY_BYTES), 'random');
    let shares: Uint8Array[] = [];
    try {
      const unsealKey = gcmKey(unsealRaw);
      const keyId = lineageId(masterRaw);
      const keyring: EncryptedKeyring = {
        keyId,
        current: 1,
        keys: [encryptMasterKey(unsealKey, tenant, keyId, 1, masterRaw)],
      };
      const epoch = 1;
      const fingerprint = unsealKeyFingerprint(unsealRaw, tenant, epoch);
      shares = await split(unsealRaw, custodians.length, threshold);
      const shareFiles = await issueShareFiles(
        tenant,
        custodians,
        threshold,
        epoch,
        fingerprint,
        shares,
        keyring,
        params.scrypt,
      );
      const record = signRecord(unsealRaw, {
        format: 'strongroom.shamir-seal',
        version: 1,
        tenant,
        keyId,
        current: 1,
        versions: [1],
        epoch,
        threshold,
        total: custodians.length,
        custodians: custodians.map((c) => c.id),
        fingerprint,
        coverage: custodians.map(() => 1),
      });
      // The record is the commit point: without it the tenant is uninitialized and a stray keyring is
      // overwritten by the next initialize.
      await storage.put(tenant, KEYRING_NAME, utf8(JSON.stringify(keyring)));
      await storage.delete(tenant, RECOVERY_NAME);
      await storage.put(tenant, RECORD_NAME, encodeRecord(record));
      const seal = new ShamirSeal(tenant, storage);
      seal.#record = record;
      return { seal, shareFiles };
    } finally {
      wipe(unsealRaw, masterRaw, ...shares);
    }
  }

  /** Opens the seal of `tenant` as stored: `uninitialized`, `sealed` or `zeroized` (never unsealed). */
  static async open({ tenant, storage }: ShamirSealOpenParameters): Promise<ShamirSeal> {
    assertTenant(tenant);
    assertStorage(storage);
    const seal = new ShamirSeal(tenant, storage);
    await seal.#load();
    return seal;
  }

  state(): SealState {
    if (!this.#record) return 'uninitialized';
    if (this.#zeroized) return 'zeroized';
    return this.#unsealed ? 'unsealed' : 'sealed';
  }

  current(): MasterKeyRef {
    const record = this.#requireRecord();
    return { id: record.keyId, version: record.current };
  }

  status(): ShamirSealStatus {
    const r = this.#record;
    const base = { mechanism: this.mechanism, tenant: this.tenant, state: this.state() };
    if (!r) return base;
    return {
      ...base,
      keyId: r.keyId,
      current: r.current,
      versions: [...r.versions],
      epoch: r.epoch,
      threshold: r.threshold,
      total: r.total,
      custodians: [...r.custodians],
      fingerprint: r.fingerprint,
      shareFilesCurrent: r.coverage.every((c) => c === r.current),
    };
  }

  /**
   * M custodians present their share files and passphrases; the unseal key is rebuilt and decrypts the
   * master keys. Fails, changing nothing, with `E_SHARES_INSUFFICIENT`, `E_SHARE_DUPLICATE`,
   * `E_SHARE_INVALID` (another tenant, an older epoch, an altered file or shares that do not combine to
   * this seal's unseal key) or `E_PASSPHRASE_WRONG` (naming the custodian). No-op when already unsealed.
   */
  async unseal(shares: readonly PresentedShare[]): Promise<void> {
    return this.#exclusive(async () => {
      await this.#load();
      const record = this.#requireUsable();
      if (this.#unsealed) return;
      const unsealRaw = await recoverUnsealKey(this.tenant, record, shares);
      try {
        const keyring = await this.#readKeyring(KEYRING_NAME);
        if (!keyring)
          throw new StrongroomError(
            'E_VAULT_ZEROIZED',
            'the master keys were zeroized; restore with the custodians',
            {},
          );
        this.#unsealed = openKeyring(this.tenant, unsealRaw, record, [keyring]);
      } finally {
        wipe(unsealRaw);
      }
    });
  }

  // encrypt/decrypt are synchronous inside (the unwrap hot path) and return settled promises.
  encrypt(plaintext: Uint8Array, aad: Uint8Array, ref?: MasterKeyRef): Promise<Uint8Array> {
    try {
      assertBytes(plaintext, 'plaintext');
      assertBytes(aad, 'aad');
      return Promise.resolve(gcmEncrypt(this.#key(ref ?? this.current(), 'E_VALIDATION'), plaintext, aad));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  decrypt(sealed: Uint8Array, aad: Uint8Array, ref: MasterKeyRef): Promise<Uint8Array> {
    try {
      assertBytes(sealed, 'sealed');
      assertBytes(aad, 'aad');
      const plaintext = gcmDecrypt(this.#key(ref, 'E_CRYPTOGRAM_INVALID'), sealed, aad);
      if (!plaintext) {
        throw new StrongroomError(
          'E_CRYPTOGRAM_INVALID',
          'the cryptogram does not open under this key and associated data',
          {
            details: { keyVersion: ref.version },
          },
        );
      }
      return Promise.resolve(plaintext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The master key `ref` as a `KeyObject`, for the vault's own worker threads (rewrap.ts): a `KeyObject`
   * crosses `postMessage` without its bytes ever being a JavaScript buffer. Vault-internal (see
   * vault-worker-pool.ts `WorkerKeySource`). Fails like `decrypt` for a sealed seal or an unknown version.
   */
  workerKey(ref: MasterKeyRef): KeyObject {
    return this.#key(ref, 'E_CRYPTOGRAM_INVALID');
  }

  /** Forgets every key (the `KeyObject`s are dropped; no raw copy is kept while unsealed). Idempotent. */
  async seal(): Promise<void> {
    // Immediately, not queued behind a running ceremony; a running unseal re-checks nothing after this,
    // so callers that race seal() with unseal() get whichever finishes last.
    this.#unsealed = undefined;
  }

  /**
   * Destroys the master keys in the seal: wipes memory and deletes the keyring from storage. Works
   * sealed or unsealed (no key needed). Versions that no issued share file carries yet stay in storage,
   * encrypted under the unseal key, so `restore` can bring them back (see the class comment). Idempotent.
   */
  async zeroize(): Promise<void> {
    return this.#exclusive(async () => {
      this.#unsealed = undefined;
      await this.#load();
      const record = this.#requireRecord();
      if (this.#zeroized) return;
      const keyring = await this.#readKeyring(KEYRING_NAME);
      if (keyring) {
        const coveredByAll = Math.min(...record.coverage);
        const uncovered = keyring.keys.filter(
          (k) => k.version > coveredByAll && record.versions.includes(k.version),
        );
        if (uncovered.length > 0) {
          const recovery: EncryptedKeyring = {
            keyId: keyring.keyId,
            current: record.current,
            keys: uncovered,
          };
          await this.#storage.put(this.tenant, RECOVERY_NAME, utf8(JSON.stringify(recovery)));
        }
        await this.#storage.delete(this.tenant, KEYRING_NAME);
      }
      this.#zeroized = true;
    });
  }

  /**
   * After a zeroize, M custodians bring back exactly the same master keys (from their share files'
   * keyrings and the recovery blob). Fails with the share errors of `unseal`, with `E_CONFLICT` when the
   * seal is not zeroized, and with `E_KEY_MATERIAL_INVALID` when a live key version is in none of them.
   * The seal ends `unsealed`.
   */
  async restore(shares: readonly PresentedShare[]): Promise<void> {
    return this.#exclusive(async () => {
      await this.#load();
      const record = this.#requireRecord();
      if (!this.#zeroized) {
        throw new StrongroomError('E_CONFLICT', 'the seal is not zeroized; unseal it instead', {
          details: { state: this.state() },
        });
      }
      const unsealRaw = await recoverUnsealKey(this.tenant, record, shares);
      try {
        const recovery = await this.#readKeyring(RECOVERY_NAME);
        const sources = [...(recovery ? [recovery] : []), ...presentedFiles(shares).map((f) => f.masterKeys)];
        const unsealed = openKeyring(this.tenant, unsealRaw, record, sources);
        // The same entries openKeyring just authenticated, re-stored as they are (still under the unseal key).
        const keys = record.versions.map((v) => findEntry(record, sources, v)!);
        const keyring: EncryptedKeyring = { keyId: record.keyId, current: record.current, keys };
        await this.#storage.put(this.tenant, KEYRING_NAME, utf8(JSON.stringify(keyring)));
        await this.#storage.delete(this.tenant, RECOVERY_NAME);
        this.#zeroized = false;
        this.#unsealed = unsealed;
      } finally {
        wipe(unsealRaw);
      }
    });
  }

  /**
   * The current quorum re-shares the same unseal key to a new custodian set under a new epoch; share
   * files of earlier epochs are refused from then on. Master keys and cryptograms are untouched, and the
   * seal keeps its state (sealed or unsealed). Returns the new share files, one per new custodian.
   */
  async rekey(
    currentShares: readonly PresentedShare[],
    newCustodians: readonly Custodian[],
    threshold: number,
    options: ShamirSealRekeyOptions = {},
  ): Promise<ShareFile[]> {
    return this.#exclusive(async () => {
      await this.#load();
      const record = this.#requireUsable();
      assertCustodians(newCustodians, threshold);
      const unsealRaw = await recoverUnsealKey(this.tenant, record, currentShares);
      let shares: Uint8Array[] = [];
      try {
        const keyring = await this.#readKeyring(KEYRING_NAME);
        if (!keyring)
          throw new StrongroomError('E_VAULT_ZEROIZED', 'the master keys were zeroized; restore first', {});
        // Check the keyring opens before handing out files that carry it.
        openKeyring(this.tenant, unsealRaw, record, [keyring]);
        const epoch = record.epoch + 1;
        const fingerprint = unsealKeyFingerprint(unsealRaw, this.tenant, epoch);
        const current = currentKeyring(keyring, record);
        shares = await split(unsealRaw, newCustodians.length, threshold);
        const files = await issueShareFiles(
          this.tenant,
          newCustodians,
          threshold,
          epoch,
          fingerprint,
          shares,
          current,
          options.scrypt,
        );
        await this.#writeRecord(unsealRaw, {
          ...withoutMac(record),
          epoch,
          threshold,
          total: newCustodians.length,
          custodians: newCustodians.map((c) => c.id),
          fingerprint,
          coverage: newCustodians.map(() => record.current),
        });
        return files;
      } finally {
        wipe(unsealRaw, ...shares);
      }
    });
  }

  /**
   * Adds a new master key version (CSPRNG, stored encrypted under the unseal key) and makes it current.
   * Older versions still open their cryptograms until `retire`. Issued share files do not carry the new
   * key: refresh them with `refreshShareFiles` (until then a zeroize keeps it in storage).
   */
  async rotate(): Promise<MasterKeyRef> {
    return this.#exclusive(async () => {
      const unsealed = this.#requireUnsealed();
      const record = this.#requireRecord();
      const keyring = await this.#readKeyring(KEYRING_NAME);
      if (!keyring) throw new StrongroomError('E_VAULT_ZEROIZED', 'the master keys were zeroized', {});
      const version = record.current + 1;
      const raw = new Uint8Array(randomBytes(KEY_BYTES));
      const unsealRaw = exportKey(unsealed.unsealKey);
      try {
        const entry = encryptMasterKey(unsealed.unsealKey, this.tenant, record.keyId, version, raw);
        const keys = [...keyring.keys.filter((k) => k.version < version), entry];
        await this.#storage.put(
          this.tenant,
          KEYRING_NAME,
          utf8(JSON.stringify({ keyId: record.keyId, current: version, keys })),
        );
        await this.#writeRecord(unsealRaw, {
          ...withoutMac(record),
          current: version,
          versions: [...record.versions, version],
        });
        unsealed.masterKeys.set(version, gcmKey(raw));
        return { id: record.keyId, version };
      } finally {
        wipe(raw, unsealRaw);
      }
    });
  }

  /**
   * Destroys an old master key version for good (rewrap calls it once no cryptogram uses it). The
   * current version cannot be retired (`E_CONFLICT`). Copies inside share files issued before stay until
   * those files are refreshed; a restore never brings a retired version back. Idempotent.
   */
  async retire(ref: MasterKeyRef): Promise<void> {
    return this.#exclusive(async () => {
      const unsealed = this.#requireUnsealed();
      const record = this.#requireRecord();
      if (ref?.id !== record.keyId) {
        throw new StrongroomError('E_VALIDATION', 'ref names another key lineage', {
          details: { parameter: 'ref.id' },
        });
      }
      if (ref.version === record.current) {
        throw new StrongroomError('E_CONFLICT', 'the current master key cannot be retired; rotate first', {
          details: { version: ref.version },
        });
      }
      if (!record.versions.includes(ref.version)) return;
      const unsealRaw = exportKey(unsealed.unsealKey);
      try {
        // Record first: a crash in between leaves a harmless extra entry in the keyring.
        await this.#writeRecord(unsealRaw, {
          ...withoutMac(record),
          versions: record.versions.filter((v) => v !== ref.version),
        });
        const keyring = await this.#readKeyring(KEYRING_NAME);
        if (keyring) {
          const next = { ...keyring, keys: keyring.keys.filter((k) => k.version !== ref.version) };
          await this.#storage.put(this.tenant, KEYRING_NAME, utf8(JSON.stringify(next)));
        }
        unsealed.masterKeys.delete(ref.version);
      } finally {
        wipe(unsealRaw);
      }
    });
  }

  /**
   * Returns the custodians' share files carrying the current keyring (no passphrase needed: the keyring
   * is encrypted under the unseal key, the share is untouched). Needs `unsealed`. Files of another tenant
   * or epoch fail with `E_SHARE_INVALID`. Marks those indices as covered for `zeroize`.
   */
  async refreshShareFiles(files: readonly ShareFile[]): Promise<ShareFile[]> {
    return this.#exclusive(async () => {
      const unsealed = this.#requireUnsealed();
      const record = this.#requireRecord();
      const keyring = await this.#readKeyring(KEYRING_NAME);
      if (!keyring) throw new StrongroomError('E_VAULT_ZEROIZED', 'the master keys were zeroized', {});
      const current = currentKeyring(keyring, record);
      const out = files.map((f) => {
        const file = checkShareFile(f);
        assertShareMatches(this.tenant, record, file);
        return withMasterKeys(file, current);
      });
      const coverage = [...record.coverage];
      for (const f of out) coverage[f.index - 1] = record.current;
      const unsealRaw = exportKey(unsealed.unsealKey);
      try {
        await this.#writeRecord(unsealRaw, { ...withoutMac(record), coverage });
      } finally {
        wipe(unsealRaw);
      }
      return out;
    });
  }

  /**
   * Checks that `shares` are a valid quorum of the current epoch (they rebuild this seal's unseal key and
   * the record verifies), changing nothing: for actions that need the custodians present, such as an
   * export. Same errors as `unseal`.
   */
  async checkQuorum(shares: readonly PresentedShare[]): Promise<void> {
    return this.#exclusive(async () => {
      await this.#load();
      const record = this.#requireRecord();
      wipe(await recoverUnsealKey(this.tenant, record, shares));
    });
  }

  /** Seals; the storage is the caller's to close. */
  async close(): Promise<void> {
    await this.seal();
  }

  toJSON(): { mechanism: 'shamir'; tenant: string; state: SealState } {
    return { mechanism: this.mechanism, tenant: this.tenant, state: this.state() };
  }

  toString(): string {
    return `ShamirSeal(${this.tenant}, ${this.state()})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  // ---- internals ----

  async #load(): Promise<void> {
    const bytes = await this.#storage.get(this.tenant, RECORD_NAME);
    this.#record = bytes ? decodeRecord(bytes, this.tenant) : undefined;
    this.#zeroized =
      this.#record !== undefined && (await this.#storage.get(this.tenant, KEYRING_NAME)) === undefined;
    if (!this.#record || this.#zeroized) this.#unsealed = undefined;
  }

  async #readKeyring(name: string): Promise<EncryptedKeyring | undefined> {
    const bytes = await this.#storage.get(this.tenant, name);
    if (!bytes) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new StrongroomError('E_KEY_MATERIAL_INVALID', `the ${name} blob in seal storage is not JSON`, {});
    }
    return parseKeyring(value, name);
  }

  async #writeRecord(unsealRaw: Uint8Array, next: UnsignedRecord): Promise<void> {
    const record = signRecord(unsealRaw, next);
    await this.#storage.put(this.tenant, RECORD_NAME, encodeRecord(record));
    this.#record = record;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #requireRecord(): ShamirSealRecord {
    if (!this.#record) {
      throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no seal yet', {
        details: { tenant: this.tenant },
        hints: ['run the key ceremony: strongroom ceremony init'],
      });
    }
    return this.#record;
  }

  /** Initialized and not zeroized. */
  #requireUsable(): ShamirSealRecord {
    const record = this.#requireRecord();
    if (this.#zeroized) throw zeroizedError(this.tenant);
    return record;
  }

  #requireUnsealed(): Unsealed {
    this.#requireUsable();
    if (!this.#unsealed) throw sealedError(this.tenant);
    return this.#unsealed;
  }

  /** The hot path: a Map lookup, no storage, no allocation. */
  #key(ref: MasterKeyRef, unknownKeyCode: ErrorCode): KeyObject {
    const unsealed = this.#unsealed;
    if (!unsealed) {
      this.#requireUnsealed();
      throw sealedError(this.tenant);
    }
    const key = ref?.id === this.#record!.keyId ? unsealed.masterKeys.get(ref.version) : undefined;
    if (!key) {
      throw new StrongroomError(unknownKeyCode, 'no live master key with this id and version', {
        details: { keyId: ref?.id, version: ref?.version },
        hints: ['the version may have been retired after a rewrap'],
      });
    }
    return key;
  }
}

// ---- ceremony helpers (module-private) ----

function presentedFiles(shares: readonly PresentedShare[]): ShareFile[] {
  return shares.map((p) =>
    typeof p.file === 'string' || p.file instanceof Uint8Array
      ? parseShareFile(p.file)
      : checkShareFile(p.file),
  );
}

/**
 * Checks the presented shares against the record (cheap checks first, so a bad set costs no scrypt),
 * decrypts them, combines them and checks the result against the recorded fingerprint and record MAC.
 * Returns the raw unseal key; the caller wipes it.
 */
async function recoverUnsealKey(
  tenant: string,
  record: ShamirSealRecord,
  presented: readonly PresentedShare[],
): Promise<Uint8Array> {
  if (!Array.isArray(presented)) {
    throw new StrongroomError('E_VALIDATION', 'shares must be an array of { file, passphrase }', {
      details: { parameter: 'shares' },
    });
  }
  const files = presented.map((p, i) => {
    if (typeof p !== 'object' || p === null) {
      throw new StrongroomError('E_VALIDATION', 'each share must be { file, passphrase }', {
        details: { parameter: `shares[${i}]` },
      });
    }
    const file =
      typeof p.file === 'string' || p.file instanceof Uint8Array
        ? parseShareFile(p.file)
        : checkShareFile(p.file);
    assertShareMatches(tenant, record, file);
    return file;
  });
  const seenIndex = new Set<number>();
  const seenCustodian = new Set<string>();
  for (const f of files) {
    if (seenIndex.has(f.index) || seenCustodian.has(f.custodian)) {
      throw new StrongroomError(
        'E_SHARE_DUPLICATE',
        `the share of custodian ${f.custodian} (index ${f.index}) was presented twice`,
        {
          details: { custodian: f.custodian, index: f.index },
        },
      );
    }
    seenIndex.add(f.index);
    seenCustodian.add(f.custodian);
  }
  if (files.length < record.threshold) {
    throw new StrongroomError(
      'E_SHARES_INSUFFICIENT',
      `${files.length} of ${record.threshold} required shares presented`,
      {
        details: { presented: files.length, threshold: record.threshold },
      },
    );
  }
  const shares: Uint8Array[] = [];
  try {
    for (let i = 0; i < files.length; i++)
      shares.push(await decryptShareFile(files[i]!, presented[i]!.passphrase));
    // Two files of different indices holding the same share (a copied file relabelled): the x-coordinate
    // is the share's last byte.
    const xs = new Set(shares.map((s) => s[s.length - 1]));
    if (xs.size !== shares.length) {
      throw new StrongroomError('E_SHARE_DUPLICATE', 'two share files hold the same share', {});
    }
    const unsealRaw = await combine(shares);
    if (
      unsealRaw.length !== KEY_BYTES ||
      unsealKeyFingerprint(unsealRaw, tenant, record.epoch) !== record.fingerprint
    ) {
      wipe(unsealRaw);
      throw new StrongroomError('E_SHARE_INVALID', "the shares do not rebuild this seal's unseal key", {
        details: { custodians: files.map((f) => f.custodian) },
        hints: [
          'one share is corrupted or comes from another ceremony; try another combination of custodians',
        ],
      });
    }
    try {
      verifyRecord(unsealRaw, record);
    } catch (e) {
      wipe(unsealRaw);
      throw e;
    }
    return unsealRaw;
  } finally {
    wipe(...shares);
  }
}

/** Refuses a share file of another tenant, epoch or unseal key before any scrypt is spent on it. */
function assertShareMatches(tenant: string, record: ShamirSealRecord, file: ShareFile): void {
  const who = { custodian: file.custodian, index: file.index };
  if (file.tenant !== tenant) {
    throw new StrongroomError(
      'E_SHARE_INVALID',
      `the share file of custodian ${file.custodian} belongs to another tenant`,
      {
        details: { ...who, tenant: file.tenant, expected: tenant },
      },
    );
  }
  if (file.epoch !== record.epoch) {
    throw new StrongroomError(
      'E_SHARE_INVALID',
      `the share file of custodian ${file.custodian} is from epoch ${file.epoch}, the seal is at epoch ${record.epoch}`,
      {
        details: { ...who, epoch: file.epoch, expected: record.epoch },
        hints:
          file.epoch < record.epoch ? ['this share file was replaced by a rekey; use the newer one'] : [],
      },
    );
  }
  if (
    file.fingerprint !== record.fingerprint ||
    file.threshold !== record.threshold ||
    file.total !== record.total
  ) {
    throw new StrongroomError(
      'E_SHARE_INVALID',
      `the share file of custodian ${file.custodian} is from another ceremony`,
      { details: who },
    );
  }
}

/**
 * Decrypts every live master key version found in `sources` (first source that has it wins) into
 * `KeyObject`s. A live version found nowhere fails with `E_KEY_MATERIAL_INVALID`.
 */
function openKeyring(
  tenant: string,
  unsealRaw: Uint8Array,
  record: ShamirSealRecord,
  sources: readonly EncryptedKeyring[],
): Unsealed {
  const unsealKey = gcmKey(unsealRaw);
  const masterKeys = new Map<number, KeyObject>();
  for (const version of record.versions) {
    const entry = findEntry(record, sources, version);
    if (!entry) {
      throw new StrongroomError(
        'E_KEY_MATERIAL_INVALID',
        `master key version ${version} is in none of the presented keyrings`,
        {
          details: { version },
          hints: [
            "present a share file refreshed after the last rotation, or restore the seal storage's recovery blob",
          ],
        },
      );
    }
    const raw = decryptMasterKey(unsealKey, tenant, record.keyId, entry);
    try {
      masterKeys.set(version, gcmKey(raw));
    } finally {
      wipe(raw);
    }
  }
  return { unsealKey, masterKeys };
}

function findEntry(
  record: ShamirSealRecord,
  sources: readonly EncryptedKeyring[],
  version: number,
): EncryptedMasterKey | undefined {
  for (const s of sources) {
    if (s.keyId !== record.keyId) continue;
    const e = s.keys.find((k) => k.version === version);
    if (e) return e;
  }
  return undefined;
}

/** The keyring restricted to live versions, with the record's current version. */
function currentKeyring(keyring: EncryptedKeyring, record: ShamirSealRecord): EncryptedKeyring {
  return {
    keyId: record.keyId,
    current: record.current,
    keys: keyring.keys.filter((k) => record.versions.includes(k.version)),
  };
}

async function issueShareFiles(
  tenant: string,
  custodians: readonly Custodian[],
  threshold: number,
  epoch: number,
  fingerprint: string,
  shares: readonly Uint8Array[],
  masterKeys: EncryptedKeyring,
  scrypt: Partial<ScryptCost> | undefined,
): Promise<ShareFile[]> {
  return Promise.all(
    custodians.map((c, i) =>
      encryptShareFile({
        tenant,
        custodian: c.id,
        index: i + 1,
        threshold,
        total: custodians.length,
        epoch,
        fingerprint,
        share: shares[i]!,
        passphrase: c.passphrase,
        masterKeys,
        ...(scrypt ? { scrypt } : {}),
      }),
    ),
  );
}

/** Names the key lineage without revealing the key: HMAC-SHA256(first master key, label)[0..16], hex. */
function lineageId(masterRaw: Uint8Array): string {
  const mac = createHmac('sha256', masterRaw).update('strongroom.shamir-seal.key-id').digest();
  const id = toHex(mac.subarray(0, 16));
  mac.fill(0);
  return id;
}

function exportKey(key: KeyObject): Uint8Array {
  const b = key.export();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function withoutMac(record: ShamirSealRecord): UnsignedRecord {
  const { mac: _mac, ...rest } = record;
  return rest;
}

function takeKey(bytes: Uint8Array, parameter: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must return ${KEY_BYTES} bytes`, {
      details: { parameter },
    });
  }
  return bytes;
}

function assertTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tenant)) {
    throw new StrongroomError(
      'E_VALIDATION',
      'tenant must be 1-64 letters, digits, dot, dash or underscore',
      { details: { parameter: 'tenant' } },
    );
  }
  assertStorageName(tenant, 'tenant');
}

function assertStorage(storage: unknown): asserts storage is SealStorage {
  const s = storage as Partial<SealStorage> | undefined;
  if (!s || typeof s.get !== 'function' || typeof s.put !== 'function' || typeof s.delete !== 'function') {
    throw new StrongroomError('E_VALIDATION', 'storage must implement SealStorage', {
      details: { parameter: 'storage' },
    });
  }
}

function assertCustodians(custodians: readonly Custodian[], threshold: number): void {
  if (!Array.isArray(custodians) || custodians.length < 2 || custodians.length > 255) {
    throw new StrongroomError('E_VALIDATION', 'a ceremony needs 2 to 255 custodians', {
      details: { parameter: 'custodians' },
    });
  }
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > custodians.length) {
    throw new StrongroomError('E_VALIDATION', `threshold must be an integer from 2 to ${custodians.length}`, {
      details: { parameter: 'threshold' },
    });
  }
  const ids = new Set<string>();
  custodians.forEach((c, i) => {
    if (typeof c?.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(c.id)) {
      throw new StrongroomError('E_VALIDATION', 'custodian id must be 1-64 letters, digits or . _ @ -', {
        details: { parameter: `custodians[${i}].id` },
      });
    }
    if (ids.has(c.id))
      throw new StrongroomError('E_VALIDATION', `custodian ${c.id} is listed twice`, {
        details: { parameter: `custodians[${i}].id` },
      });
    ids.add(c.id);
    if (passphraseLength(c.passphrase) < 8) {
      throw new StrongroomError(
        'E_VALIDATION',
        `the passphrase of custodian ${c.id} must have at least 8 characters`,
        {
          details: { parameter: `custodians[${i}].passphrase`, custodian: c.id },
        },
      );
    }
  });
}

function assertBytes(value: unknown, parameter: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must be a Uint8Array`, {
      details: { parameter },
    });
  }
}

function sealedError(tenant: string): StrongroomError {
  return new StrongroomError('E_VAULT_SEALED', 'the vault is sealed', {
    details: { tenant },
    hints: ['custodians unseal it with their share files'],
  });
}

function zeroizedError(tenant: string): StrongroomError {
  return new StrongroomError('E_VAULT_ZEROIZED', 'the master keys were zeroized', {
    details: { tenant },
    hints: ['custodians restore them with their share files: strongroom restore'],
  });
}
