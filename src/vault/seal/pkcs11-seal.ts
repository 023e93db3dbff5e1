import { randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';
import pkcs11js from 'pkcs11js';
import { StrongroomError } from '../../domain/errors.ts';
import { toHex } from '../bytes.ts';
import type { MasterKeyRef, Seal, SealState } from './seal.ts';
import { checkComponents, importFromComponents, tokenKeyCheckValue } from './pkcs11/key-import.ts';
import { acquirePkcs11Module, type Pkcs11Module } from './pkcs11/module.ts';
import {
  SEAL_RECORD_FORMAT,
  decodeSealRecord,
  encodeSealRecord,
  masterKeyLabel,
  recordLabel,
  type KeyRecord,
  type SealRecord,
} from './pkcs11/seal-record.ts';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, TokenSession } from './pkcs11/token-session.ts';

export { generateKeyComponent, keyCheckValue } from './pkcs11/key-components.ts';

/** Where the token is. The user PIN is not configuration: it is presented at unseal and never kept. */
export interface Pkcs11SealConfig {
  /** Path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  modulePath: string;
  /** CKA label of the token (one token per tenant: PKCS#11 login is per token). */
  tokenLabel: string;
}

export interface Pkcs11SealOpenParameters {
  tenant: string;
  config: Pkcs11SealConfig;
}

export interface Pkcs11SealInitializeParameters extends Pkcs11SealOpenParameters {
  pin: string;
  /** One random 32-byte component per custodian (see `generateKeyComponent`); the caller wipes them. */
  components: readonly Uint8Array[];
}

/** What every custodian sees at a ceremony: the combined key's KCV and each component's own KCV. */
export interface Pkcs11CeremonyReturnType {
  ref: MasterKeyRef;
  kcv: string;
  componentKcvs: string[];
}

export interface Pkcs11SealInitializeReturnType extends Pkcs11CeremonyReturnType {
  /** The new seal, `sealed` (as every seal starts): unseal it with the token PIN. */
  seal: Pkcs11Seal;
}

/** Non-secret facts about a seal, for `strongroom status` (mirrors `ShamirSealStatus`). */
export interface Pkcs11SealStatus {
  mechanism: 'pkcs11';
  tenant: string;
  state: SealState;
  tokenLabel: string;
  keyId?: string;
  current?: number;
  /** Every non-retired key version with its KCV and whether it is in the token or zeroized. */
  keys?: { version: number; kcv: string; state: 'active' | 'destroyed' }[];
}

export interface Pkcs11SealRestoreParameters {
  pin: string;
  components: readonly Uint8Array[];
  /** The key version to bring back; default the current one. */
  version?: number;
}

/** Block encrypted under the first master key to name the key lineage (a second, longer check value). */
const LINEAGE_BLOCK = new TextEncoder().encode('strongroom keyid');

/**
 * The master key is a non-extractable, sensitive AES-256 key object inside a PKCS#11 token, one object per
 * key version (`strongroom:<tenant>:master:<version>`); cryptograms are AES-256-GCM computed by the token.
 * States: uninitialized → sealed (no login) ⇄ unsealed (logged in, key handles found), and zeroized (key
 * objects destroyed; `restore` with the custodians' components re-imports exactly the same key).
 *
 * The IBM-style ceremony combines the custodians' components by XOR in this process, imports the result
 * and wipes it at once: SoftHSM 2.6 does not offer CKM_XOR_BASE_AND_DATA (CKR_MECHANISM_INVALID), which
 * would let the token do the combination.
 *
 * Every PKCS#11 call is synchronous and no method awaits between reading and writing the token, so calls
 * on one seal never interleave (no queue needed, unlike ShamirSeal's storage I/O).
 *
 * @example
 * const components = custodians.map(() => generateKeyComponent()); // one per custodian, in their hands
 * const { seal, kcv, componentKcvs } = await Pkcs11Seal.initialize({ tenant, config, pin, components });
 * await seal.unseal({ pin });
 * const c = await seal.encrypt(seed, aad);
 * await seal.seal();
 */
export class Pkcs11Seal implements Seal {
  readonly mechanism = 'pkcs11' as const;
  readonly tenant: string;
  readonly #module: Pkcs11Module;
  readonly #slot: pkcs11js.Handle;
  readonly #tokenLabel: string;
  #record: SealRecord | undefined;
  /** Present exactly while unsealed (or during a ceremony): a logged-in session. */
  #session: TokenSession | undefined;
  #keys = new Map<number, pkcs11js.Handle>();
  #closed = false;

  private constructor(tenant: string, module: Pkcs11Module, slot: pkcs11js.Handle, tokenLabel: string) {
    this.tenant = tenant;
    this.#module = module;
    this.#slot = slot;
    this.#tokenLabel = tokenLabel;
  }

  /** Opens the seal of `tenant` on the configured token, sealed (or uninitialized / zeroized). */
  static async open({ tenant, config }: Pkcs11SealOpenParameters): Promise<Pkcs11Seal> {
    assertTenant(tenant);
    assertConfig(config);
    const module = acquirePkcs11Module(config.modulePath);
    try {
      const seal = new Pkcs11Seal(tenant, module, module.findSlot(config.tokenLabel), config.tokenLabel);
      seal.#refreshRecord();
      return seal;
    } catch (e) {
      module.release();
      throw e;
    }
  }

  /**
   * Key ceremony: combines the custodians' components into the master key inside the token. Returns the
   * seal sealed, with the key check values every custodian must see and compare. Fails with
   * `E_VAULT_ALREADY_INITIALIZED`, `E_PIN_INCORRECT` or `E_KEY_MATERIAL_INVALID`, changing nothing.
   */
  static async initialize(params: Pkcs11SealInitializeParameters): Promise<Pkcs11SealInitializeReturnType> {
    const { tenant, config, pin, components } = params;
    assertTenant(tenant);
    assertConfig(config);
    const { kcv, componentKcvs } = checkComponents(components);
    const seal = await Pkcs11Seal.open({ tenant, config });
    try {
      if (seal.#record) {
        throw new StrongroomError(
          'E_VAULT_ALREADY_INITIALIZED',
          'this tenant already has a seal on this token',
          {
            details: { tenant },
          },
        );
      }
      const session = seal.#login(pin);
      const label = masterKeyLabel(tenant, 1);
      if (session.findSecretKey(label)) {
        // No record but a key: never overwrite it (the public record may have been deleted by someone
        // without the PIN); a human must look.
        throw new StrongroomError(
          'E_VAULT_ALREADY_INITIALIZED',
          'a master key object already exists on the token',
          {
            details: { label },
            hints: ['inspect the token; remove the stray key only if no cryptogram was ever made with it'],
          },
        );
      }
      const handle = importFromComponents(session, label, components, kcv);
      const id = toHex(session.encryptBlock(handle, LINEAGE_BLOCK).subarray(0, 8));
      try {
        seal.#writeRecord(session, {
          format: SEAL_RECORD_FORMAT,
          tenant,
          id,
          current: 1,
          keys: [{ version: 1, label, kcv, state: 'active' }],
        });
      } catch (e) {
        session.destroy(handle);
        throw e;
      }
      seal.#endSession();
      return { seal, ref: { id, version: 1 }, kcv, componentKcvs };
    } catch (e) {
      await seal.close();
      throw e;
    }
  }

  state(): SealState {
    const record = this.#record;
    if (!record) return 'uninitialized';
    if (record.keys.some((k) => k.state === 'destroyed')) return 'zeroized';
    return this.#session ? 'unsealed' : 'sealed';
  }

  current(): MasterKeyRef {
    const record = this.#requireRecord();
    return { id: record.id, version: record.current };
  }

  status(): Pkcs11SealStatus {
    const r = this.#record;
    const base = {
      mechanism: this.mechanism,
      tenant: this.tenant,
      state: this.state(),
      tokenLabel: this.#tokenLabel,
    };
    if (!r) return base;
    const keys = r.keys.flatMap((k) =>
      k.state === 'retired' ? [] : [{ version: k.version, kcv: k.kcv, state: k.state }],
    );
    return { ...base, keyId: r.id, current: r.current, keys };
  }

  /** The KCV of a key version (default current), as recorded at its ceremony. Not secret. */
  keyCheckValue(ref?: MasterKeyRef): string {
    return this.#keyRecord(ref ?? this.current()).kcv;
  }

  /** Logs in to the token and finds every live key, checking each one's KCV inside the token. */
  async unseal({ pin }: { pin: string }): Promise<void> {
    this.#assertOpen();
    if (this.#session) return;
    this.#refreshRecord();
    const record = this.#requireUsable();
    const session = this.#login(pin);
    try {
      this.#loadKeys(session, record);
    } catch (e) {
      this.#endSession();
      throw e;
    }
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array, ref?: MasterKeyRef): Promise<Uint8Array> {
    assertBytes(plaintext, 'plaintext');
    assertBytes(aad, 'aad');
    const { session, key } = this.#useKey(ref ?? this.current(), 'E_VALIDATION');
    const out = new Uint8Array(GCM_NONCE_BYTES + plaintext.length + GCM_TAG_BYTES);
    const nonce = randomFillSync(out.subarray(0, GCM_NONCE_BYTES));
    out.set(session.gcmEncrypt(key, nonce, aad, plaintext), GCM_NONCE_BYTES);
    return out;
  }

  async decrypt(sealed: Uint8Array, aad: Uint8Array, ref: MasterKeyRef): Promise<Uint8Array> {
    assertBytes(sealed, 'sealed');
    assertBytes(aad, 'aad');
    const { session, key } = this.#useKey(ref, 'E_CRYPTOGRAM_INVALID');
    if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) {
      throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the cryptogram is too short', {
        details: { length: sealed.length },
      });
    }
    return session.gcmDecrypt(
      key,
      sealed.subarray(0, GCM_NONCE_BYTES),
      aad,
      sealed.subarray(GCM_NONCE_BYTES),
    );
  }

  /** Logs out and forgets every key handle; nothing secret lives in this process. Idempotent. */
  async seal(): Promise<void> {
    this.#endSession();
  }

  /**
   * Destroys every live master key object in the token (C_DestroyObject). The record keeps each key's KCV
   * so `restore` can check the custodians' components. Needs a login: the seal's own when unsealed, or
   * `pin` when sealed.
   */
  async zeroize(options: { pin?: string } = {}): Promise<void> {
    this.#assertOpen();
    this.#refreshRecord();
    const record = this.#requireRecord();
    if (record.keys.every((k) => k.state !== 'active')) return; // idempotent
    const session = this.#session ?? (options.pin !== undefined ? this.#login(options.pin) : undefined);
    if (!session) {
      throw new StrongroomError('E_VAULT_SEALED', 'zeroizing a sealed PKCS#11 seal needs the token PIN', {
        hints: ['pass { pin } or unseal first'],
      });
    }
    try {
      // Record first: a crash in between leaves the seal marked zeroized with a key still present, which
      // restore cleans up; the other order could leave a seal that claims a key it no longer has.
      const live = record.keys.filter((k) => k.state !== 'retired');
      this.#writeRecord(session, {
        ...record,
        keys: record.keys.map((k) => (k.state === 'retired' ? k : { ...k, state: 'destroyed' })),
      });
      for (const key of live) {
        const handle = session.findSecretKey(key.label);
        if (handle) session.destroy(handle);
      }
    } finally {
      this.#endSession();
    }
  }

  /**
   * After a zeroize, re-imports one key version (default current) from the same components. A component
   * set whose KCV differs from the recorded one is refused before anything touches the token. Once every
   * live key is back, the seal is unsealed.
   */
  async restore(params: Pkcs11SealRestoreParameters): Promise<Pkcs11CeremonyReturnType> {
    this.#assertOpen();
    this.#refreshRecord();
    const record = this.#requireRecord();
    const version = params.version ?? record.current;
    const target = record.keys.find((k) => k.version === version);
    if (!target || target.state !== 'destroyed') {
      throw new StrongroomError(
        'E_CONFLICT',
        'this key version is not zeroized; there is nothing to restore',
        {
          details: { version, state: target?.state ?? 'unknown' },
        },
      );
    }
    const { kcv, componentKcvs } = checkComponents(params.components, target.kcv); // before any token call
    const session = this.#session ?? this.#login(params.pin);
    try {
      const stray = session.findSecretKey(target.label); // an interrupted zeroize
      if (stray) session.destroy(stray);
      const handle = importFromComponents(session, target.label, params.components, kcv);
      const keys: KeyRecord[] = record.keys.map((k) =>
        k.version === version ? { ...k, state: 'active' } : k,
      );
      try {
        this.#writeRecord(session, { ...record, keys });
      } catch (e) {
        session.destroy(handle);
        throw e;
      }
      if (this.state() === 'zeroized')
        this.#endSession(); // more versions to restore
      else this.#loadKeys(session, this.#requireRecord());
      return { ref: { id: record.id, version }, kcv, componentKcvs };
    } catch (e) {
      this.#endSession();
      throw e;
    }
  }

  /** A new key version from new components becomes current; older versions still open their cryptograms. */
  async rotate({ components }: { components: readonly Uint8Array[] }): Promise<Pkcs11CeremonyReturnType> {
    const session = this.#requireUnsealed();
    const { kcv, componentKcvs } = checkComponents(components);
    const record = this.#requireRecord();
    const version = Math.max(...record.keys.map((k) => k.version)) + 1;
    const label = masterKeyLabel(this.tenant, version);
    const stray = session.findSecretKey(label); // a rotation that crashed before writing the record
    if (stray) session.destroy(stray);
    const handle = importFromComponents(session, label, components, kcv);
    try {
      this.#writeRecord(session, {
        ...record,
        current: version,
        keys: [...record.keys, { version, label, kcv, state: 'active' }],
      });
    } catch (e) {
      session.destroy(handle);
      throw e;
    }
    this.#keys.set(version, handle);
    return { ref: { id: record.id, version }, kcv, componentKcvs };
  }

  /** Destroys an old key version for good, after a rewrap moved every cryptogram off it. */
  async retire(ref: MasterKeyRef): Promise<void> {
    const session = this.#requireUnsealed();
    const record = this.#requireRecord();
    const key = this.#keyRecord(ref);
    if (key.version === record.current) {
      throw new StrongroomError('E_CONFLICT', 'the current master key cannot be retired; rotate first', {
        details: { version: key.version },
      });
    }
    if (key.state === 'retired') return;
    this.#writeRecord(session, {
      ...record,
      keys: record.keys.map((k) => (k.version === key.version ? { ...k, state: 'retired' } : k)),
    });
    const handle = this.#keys.get(key.version) ?? session.findSecretKey(key.label);
    this.#keys.delete(key.version);
    if (handle) session.destroy(handle);
  }

  /** Seals and releases the PKCS#11 module (finalised when its last user closes). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#endSession();
    this.#closed = true;
    this.#module.release();
  }

  toJSON(): { mechanism: 'pkcs11'; tenant: string; state: SealState } {
    return { mechanism: this.mechanism, tenant: this.tenant, state: this.state() };
  }

  toString(): string {
    return `Pkcs11Seal(${this.tenant}, ${this.state()})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  // ---- internals ----

  #login(pin: string): TokenSession {
    this.#module.claimLogin(this.#slot, this);
    let session: TokenSession | undefined;
    try {
      session = new TokenSession(this.#module.p11, this.#slot);
      session.login(pin);
      this.#session = session;
      return session;
    } catch (e) {
      session?.close();
      this.#module.releaseLogin(this.#slot, this);
      throw e;
    }
  }

  /** Finds every active key object and checks its KCV inside the token against the record. */
  #loadKeys(session: TokenSession, record: SealRecord): void {
    this.#keys.clear();
    for (const key of record.keys.filter((k) => k.state === 'active')) {
      const handle = session.findSecretKey(key.label);
      if (!handle) {
        throw new StrongroomError('E_HSM', 'a master key recorded as active is missing from the token', {
          details: { version: key.version },
          hints: ['if it was destroyed outside Strongroom, zeroize and restore with the custodians'],
        });
      }
      const kcv = tokenKeyCheckValue(session, handle);
      if (kcv !== key.kcv) {
        throw new StrongroomError(
          'E_KEY_MATERIAL_INVALID',
          'a master key in the token does not match its recorded KCV',
          {
            details: { version: key.version, expectedKcv: key.kcv, actualKcv: kcv },
          },
        );
      }
      this.#keys.set(key.version, handle);
    }
  }

  #endSession(): void {
    this.#keys.clear();
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    try {
      session.close();
    } finally {
      this.#module.releaseLogin(this.#slot, this);
    }
  }

  /** Reads the record with the seal's session or a short public one (the record is a public object). */
  #refreshRecord(): void {
    const session = this.#session ?? new TokenSession(this.#module.p11, this.#slot);
    try {
      const records = session
        .findAll(recordQuery(this.tenant))
        .map((h) => decodeSealRecord(session.readData(h), this.tenant));
      this.#record = records.sort((a, b) => b.revision - a.revision)[0];
    } finally {
      if (session !== this.#session) session.close();
    }
  }

  /** Writes the next revision, then removes the older ones (see seal-record.ts for why). */
  #writeRecord(session: TokenSession, next: Omit<SealRecord, 'revision'>): void {
    const older = session.findAll(recordQuery(this.tenant));
    const record: SealRecord = { ...next, revision: (this.#record?.revision ?? 0) + 1 };
    session.createData(recordLabel(this.tenant), encodeSealRecord(record));
    this.#record = record;
    for (const handle of older) session.destroy(handle);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StrongroomError('E_CONFLICT', 'this seal has been closed');
  }

  #requireRecord(): SealRecord {
    if (!this.#record) {
      throw new StrongroomError('E_VAULT_UNINITIALIZED', 'this tenant has no seal yet', {
        details: { tenant: this.tenant },
        hints: ['run the key ceremony: strongroom ceremony init'],
      });
    }
    return this.#record;
  }

  /** The record, if the seal may be unsealed (initialized and not zeroized). */
  #requireUsable(): SealRecord {
    const record = this.#requireRecord();
    if (this.state() === 'zeroized') {
      throw new StrongroomError('E_VAULT_ZEROIZED', 'the master key was zeroized', {
        details: { tenant: this.tenant },
        hints: ['custodians restore it with their key components: strongroom restore'],
      });
    }
    return record;
  }

  #requireUnsealed(): TokenSession {
    this.#requireUsable();
    if (!this.#session) {
      throw new StrongroomError('E_VAULT_SEALED', 'the vault is sealed', {
        details: { tenant: this.tenant },
        hints: ['unseal with the token PIN'],
      });
    }
    return this.#session;
  }

  #keyRecord(ref: MasterKeyRef, code: 'E_VALIDATION' | 'E_CRYPTOGRAM_INVALID' = 'E_VALIDATION'): KeyRecord {
    const record = this.#requireRecord();
    const key = ref && ref.id === record.id ? record.keys.find((k) => k.version === ref.version) : undefined;
    if (!key) {
      throw new StrongroomError(code, 'unknown master key', {
        details: { parameter: 'ref', id: ref?.id, version: ref?.version },
      });
    }
    return key;
  }

  #useKey(
    ref: MasterKeyRef,
    code: 'E_VALIDATION' | 'E_CRYPTOGRAM_INVALID',
  ): { session: TokenSession; key: pkcs11js.Handle } {
    const session = this.#requireUnsealed();
    const entry = this.#keyRecord(ref, code);
    const key = this.#keys.get(entry.version);
    if (!key) {
      throw new StrongroomError(code, 'this master key version is retired', {
        details: { version: entry.version },
      });
    }
    return { session, key };
  }
}

function recordQuery(tenant: string): pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
    { type: pkcs11js.CKA_LABEL, value: recordLabel(tenant) },
  ];
}

function assertTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(tenant)) {
    throw new StrongroomError(
      'E_VALIDATION',
      'tenant must be 1-64 letters, digits, dot, dash or underscore',
      {
        details: { parameter: 'tenant' },
      },
    );
  }
}

function assertConfig(config: Pkcs11SealConfig): void {
  if (!config || typeof config.modulePath !== 'string' || config.modulePath.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'config.modulePath is required', {
      details: { parameter: 'config.modulePath' },
    });
  }
  if (
    typeof config.tokenLabel !== 'string' ||
    config.tokenLabel.length === 0 ||
    config.tokenLabel.length > 32
  ) {
    throw new StrongroomError('E_VALIDATION', 'config.tokenLabel must be 1-32 characters', {
      details: { parameter: 'config.tokenLabel' },
    });
  }
}

function assertBytes(value: unknown, parameter: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must be a Uint8Array`, {
      details: { parameter },
    });
  }
}
