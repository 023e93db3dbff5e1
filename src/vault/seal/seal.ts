/**
 * A seal holds one tenant's master key and is the only place it is used. Implementations are named by
 * mechanism: `ShamirSeal` (software: master key encrypted under an unseal key split into custodian shares)
 * and `Pkcs11Seal` (the master key is a non-extractable AES-256 key inside an HSM token).
 *
 * Ceremonies (init, unseal, restore, rekey) take mechanism-specific material and so live on the
 * implementations; everything the vault needs after that is here.
 *
 * Every method that uses the master key throws `StrongroomError('E_VAULT_SEALED')` when sealed,
 * `E_VAULT_ZEROIZED` when zeroized and `E_VAULT_UNINITIALIZED` before init.
 */
export type SealState = 'uninitialized' | 'sealed' | 'unsealed' | 'zeroized';

export type SealMechanism = 'shamir' | 'pkcs11';

/** Identifies which master key encrypted a cryptogram (written into the cryptogram header). */
export interface MasterKeyRef {
  /** Stable id of the key lineage, e.g. a fingerprint of the first master key, hex. */
  readonly id: string;
  /** Incremented by each rotation. */
  readonly version: number;
}

export interface Seal {
  readonly mechanism: SealMechanism;
  readonly tenant: string;
  state(): SealState;
  /** The master key currently used for new cryptograms. */
  current(): MasterKeyRef;
  /**
   * AES-256-GCM under the master key `ref` (default: current). Returns nonce(12) || ciphertext || tag(16).
   * `aad` is bound into the tag. The caller owns `plaintext` and wipes it.
   */
  encrypt(plaintext: Uint8Array, aad: Uint8Array, ref?: MasterKeyRef): Promise<Uint8Array>;
  /** Inverse of encrypt; a wrong key, nonce, aad or tag fails with `E_CRYPTOGRAM_INVALID`. */
  decrypt(sealed: Uint8Array, aad: Uint8Array, ref: MasterKeyRef): Promise<Uint8Array>;
  /** Forget every plaintext key and cache (wiping buffers); state becomes `sealed`. Idempotent. */
  seal(): Promise<void>;
  /** Destroy the master key inside the seal. Wallet cryptograms stay, frozen, until a restore. */
  zeroize(): Promise<void>;
}
