import pkcs11js from 'pkcs11js';
import { StrongroomError } from '../../../domain/errors.ts';
import { ckrName, hsmCall, hsmError } from './hsm-error.ts';

type Handle = pkcs11js.Handle;

export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/** Mechanisms the master key may be used with: GCM for cryptograms, ECB only for check values. */
const MASTER_KEY_MECHANISMS = [pkcs11js.CKM_AES_GCM, pkcs11js.CKM_AES_ECB];

/** CKRs that mean "this ciphertext does not open" rather than "the HSM is unwell". */
const DATA_ERRORS = new Set([
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  'CKR_DATA_INVALID',
  'CKR_DATA_LEN_RANGE',
  'CKR_GENERAL_ERROR', // SoftHSM reports a GCM tag mismatch this way
]);

/**
 * One read/write session on a token and the handful of PKCS#11 calls the seal makes through it. All calls
 * are synchronous: a session runs one operation at a time, and JavaScript's single thread then guarantees
 * no two seal calls interleave inside a session.
 */
export class TokenSession {
  readonly #p11: pkcs11js.PKCS11;
  readonly #handle: Handle;
  #open = true;
  #loggedIn = false;

  constructor(p11: pkcs11js.PKCS11, slot: Handle) {
    this.#p11 = p11;
    this.#handle = hsmCall('open session', () =>
      p11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION),
    );
  }

  /** Logs the user in. A wrong PIN is `E_PIN_INCORRECT`; the PIN never appears in any error. */
  login(pin: string): void {
    if (typeof pin !== 'string' || pin.length === 0) {
      throw new StrongroomError('E_VALIDATION', 'pin must be a non-empty string', {
        details: { parameter: 'pin' },
      });
    }
    try {
      this.#p11.C_Login(this.#handle, pkcs11js.CKU_USER, pin);
      this.#loggedIn = true;
    } catch (e) {
      const ckr = ckrName(e);
      if (ckr === 'CKR_PIN_INCORRECT' || ckr === 'CKR_PIN_LEN_RANGE') {
        throw new StrongroomError('E_PIN_INCORRECT', 'the token refused the PIN', { details: { ckr } });
      }
      throw hsmError(e, 'login');
    }
  }

  /**
   * Logs out only if this session logged in: login is per token, so a logout from a read-only look at the
   * token would seal whoever else is logged in.
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#loggedIn) {
      this.#loggedIn = false;
      try {
        this.#p11.C_Logout(this.#handle);
      } catch {
        // already logged out (e.g. the token was removed): nothing to undo
      }
    }
    hsmCall('close session', () => this.#p11.C_CloseSession(this.#handle));
  }

  findOne(template: pkcs11js.Template): Handle | undefined {
    const found = this.findAll(template);
    if (found.length > 1) {
      throw new StrongroomError('E_HSM', 'more than one token object matches a unique label', {
        hints: ['remove the duplicate object with the HSM tooling'],
      });
    }
    return found[0];
  }

  findAll(template: pkcs11js.Template): Handle[] {
    return hsmCall('find objects', () => {
      this.#p11.C_FindObjectsInit(this.#handle, template);
      try {
        return this.#p11.C_FindObjects(this.#handle, 16);
      } finally {
        this.#p11.C_FindObjectsFinal(this.#handle);
      }
    });
  }

  findSecretKey(label: string): Handle | undefined {
    return this.findOne([
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
  }

  /**
   * Imports a master key: token object, private, sensitive, never extractable, not modifiable, usable
   * only for encrypt/decrypt with GCM and ECB. Wrap, unwrap, derive, sign are off, so it cannot be
   * wrapped out or used to bring other keys in. The caller wipes `value`; PKCS#11 copies it.
   */
  importMasterKey(label: string, id: string, value: Uint8Array): Handle {
    const allowed = Buffer.alloc(8 * MASTER_KEY_MECHANISMS.length);
    MASTER_KEY_MECHANISMS.forEach((m, i) => allowed.writeBigUInt64LE(BigInt(m), i * 8));
    return hsmCall('import master key', () =>
      this.#p11.C_CreateObject(this.#handle, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'utf8') },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        { type: pkcs11js.CKA_WRAP, value: false },
        { type: pkcs11js.CKA_UNWRAP, value: false },
        { type: pkcs11js.CKA_DERIVE, value: false },
        { type: pkcs11js.CKA_SIGN, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
        { type: pkcs11js.CKA_MODIFIABLE, value: false },
        { type: pkcs11js.CKA_ALLOWED_MECHANISMS, value: allowed },
      ]),
    );
  }

  destroy(object: Handle): void {
    hsmCall('destroy object', () => this.#p11.C_DestroyObject(this.#handle, object));
  }

  /** AES-ECB of one block inside the token: only used for key check values and the lineage id. */
  encryptBlock(key: Handle, block: Uint8Array): Buffer {
    return hsmCall('encrypt check block', () => {
      this.#p11.C_EncryptInit(this.#handle, { mechanism: pkcs11js.CKM_AES_ECB }, key);
      return this.#p11.C_Encrypt(this.#handle, Buffer.from(block), Buffer.alloc(16));
    });
  }

  /** AES-256-GCM inside the token; returns ciphertext || tag(16). */
  gcmEncrypt(key: Handle, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
    return hsmCall('encrypt', () => {
      this.#p11.C_EncryptInit(this.#handle, gcm(nonce, aad), key);
      const out = Buffer.alloc(plaintext.length + GCM_TAG_BYTES);
      return this.#p11.C_Encrypt(this.#handle, view(plaintext), out);
    });
  }

  /** Inverse of gcmEncrypt; a tag mismatch is `E_CRYPTOGRAM_INVALID`. Returns a view of a fresh buffer. */
  gcmDecrypt(key: Handle, nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array {
    try {
      this.#p11.C_DecryptInit(this.#handle, gcm(nonce, aad), key);
    } catch (e) {
      throw hsmError(e, 'decrypt');
    }
    // Sized to the input: some modules want room for the tag even though they never write it.
    const out = Buffer.alloc(ciphertextAndTag.length);
    try {
      const plain = this.#p11.C_Decrypt(this.#handle, view(ciphertextAndTag), out);
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    } catch (e) {
      out.fill(0);
      const ckr = ckrName(e);
      if (ckr && DATA_ERRORS.has(ckr)) {
        throw new StrongroomError(
          'E_CRYPTOGRAM_INVALID',
          'the cryptogram does not open under this key and associated data',
          {
            details: { ckr },
          },
        );
      }
      throw hsmError(e, 'decrypt');
    }
  }

  readData(object: Handle): Buffer {
    const [attr] = hsmCall('read data object', () =>
      this.#p11.C_GetAttributeValue(this.#handle, object, [{ type: pkcs11js.CKA_VALUE }]),
    );
    return attr?.value ?? Buffer.alloc(0);
  }

  createData(label: string, value: Buffer): Handle {
    return hsmCall('write data object', () =>
      this.#p11.C_CreateObject(this.#handle, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_APPLICATION, value: 'strongroom' },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_VALUE, value },
        { type: pkcs11js.CKA_MODIFIABLE, value: false },
      ]),
    );
  }
}

function gcm(nonce: Uint8Array, aad: Uint8Array): pkcs11js.Mechanism {
  const parameter: pkcs11js.AesGCM = {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv: view(nonce),
    aad: view(aad),
    ivBits: nonce.length * 8,
    tagBits: GCM_TAG_BYTES * 8,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

/** A Buffer over the same memory (no copy of secrets). */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
