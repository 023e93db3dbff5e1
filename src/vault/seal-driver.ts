/**
 * The vault runs ceremonies through one shape whatever the mechanism: a `TenantSeal` adapts a seal
 * implementation's own ceremony API (Pkcs11Seal, ShamirSeal) to the vault's parameter types. A
 * `SealDriver` opens the seal of a tenant; which mechanism a tenant uses is configuration.
 */
import { StrongroomError } from '../domain/errors.ts';
import type { MasterKeyRef, Seal, SealMechanism, SealState } from './seal/seal.ts';
import type {
  InitializeParameters,
  QuorumParameters,
  InitializeReturnType,
  RekeyParameters,
  RekeyReturnType,
  RestoreParameters,
  RotateParameters,
  RotateReturnType,
  UnsealParameters,
  ZeroizeParameters,
} from './vault.ts';

export type { QuorumParameters };

export type CeremonyOutcome = Omit<InitializeReturnType, 'status' | 'auditPublicKey'>;

export interface TenantSeal {
  readonly mechanism: SealMechanism;
  readonly tenant: string;
  /** The seal itself, once initialized (encrypt/decrypt/current/state). */
  readonly seal: Seal | undefined;
  state(): SealState;
  initialize(params: InitializeParameters): Promise<CeremonyOutcome>;
  unseal(params: UnsealParameters): Promise<void>;
  lock(): Promise<void>;
  zeroize(params: ZeroizeParameters): Promise<void>;
  restore(params: RestoreParameters): Promise<void>;
  rekey(params: RekeyParameters): Promise<RekeyReturnType>;
  rotate(params: RotateParameters): Promise<RotateReturnType>;
  /** Zeroizes an old key version for good (after a verified rewrap). */
  retire(ref: MasterKeyRef): Promise<void>;
  /** Throws unless `params` is a valid quorum for this seal's current master key; changes nothing. */
  checkQuorum(params: QuorumParameters): Promise<void>;
  close(): Promise<void>;
}

export interface SealDriver {
  readonly mechanism: SealMechanism;
  open(tenant: string): Promise<TenantSeal>;
}

export function wrongMechanism(expected: SealMechanism, got: unknown): StrongroomError {
  return new StrongroomError(
    'E_VALIDATION',
    `this tenant's seal is ${expected}; the material given is for ${String(got)}`,
    {
      details: { parameter: 'mechanism', expected },
    },
  );
}

export function unsupported(mechanism: SealMechanism, ceremony: string): StrongroomError {
  return new StrongroomError('E_BAD_REQUEST', `the ${mechanism} seal has no ${ceremony} ceremony`, {
    details: { mechanism, ceremony },
  });
}
