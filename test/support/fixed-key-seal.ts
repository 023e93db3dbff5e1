import type { KeyObject } from 'node:crypto';
import { StrongroomError } from '../../src/domain/errors.ts';
import { gcmDecrypt, gcmEncrypt, gcmKey } from '../../src/vault/seal/aes-gcm.ts';
import type { MasterKeyRef, Seal, SealState } from '../../src/vault/seal/seal.ts';

/**
 * A `Seal` over one fixed raw key and, optionally, a fixed nonce: for known-answer tests of formats built
 * on a seal (the cryptogram vector). Never a model for production code: a fixed nonce breaks GCM.
 */
export class FixedKeySeal implements Seal {
  readonly mechanism = 'shamir' as const;
  readonly tenant: string;
  readonly #ref: MasterKeyRef;
  readonly #key: KeyObject;
  readonly #nonce: Uint8Array | undefined;

  constructor(params: { tenant: string; key: Uint8Array; ref: MasterKeyRef; nonce?: Uint8Array }) {
    this.tenant = params.tenant;
    this.#ref = params.ref;
    this.#key = gcmKey(params.key);
    this.#nonce = params.nonce;
  }

  state(): SealState {
    return 'unsealed';
  }

  current(): MasterKeyRef {
    return this.#ref;
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return gcmEncrypt(this.#key, plaintext, aad, this.#nonce);
  }

  async decrypt(sealed: Uint8Array, aad: Uint8Array, ref: MasterKeyRef): Promise<Uint8Array> {
    const out =
      ref.id === this.#ref.id && ref.version === this.#ref.version
        ? gcmDecrypt(this.#key, sealed, aad)
        : undefined;
    if (!out) throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'does not open');
    return out;
  }

  async seal(): Promise<void> {}
  async zeroize(): Promise<void> {}
}
