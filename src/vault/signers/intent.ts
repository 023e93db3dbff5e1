/**
 * The approved intent a signer checks an unsigned payload against: what the initiator asked for and the
 * approvers signed. The vault's evidence check produces it from the verified request; the signers compare it
 * with what the payload itself does, field by field, and refuse any difference with `E_EVIDENCE_INVALID`
 * naming the field (`details.field`).
 */
import { StrongroomError } from '../../domain/errors.ts';
import type { BitcoinNetworkName } from '../../chains/bitcoin/network.ts';

export interface BitcoinTransferIntent {
  readonly chain: 'bitcoin';
  readonly network: BitcoinNetworkName;
  readonly asset: 'BTC';
  readonly destination: string;
  /** Satoshis to the destination. */
  readonly amount: bigint;
  /** Highest total fee in satoshis the approvers accepted. */
  readonly feeCap: bigint;
  /** 'same-wallet': at most one change output, to an internal (change-chain) address of the signing wallet. */
  readonly changePolicy: 'none' | 'same-wallet';
  /** BIP44 account of the wallet (default 0). */
  readonly account?: number;
}

export interface EvmAssetRef {
  readonly symbol: string;
  /** ERC-20 contract (EIP-55 or lowercase); absent for the chain's native coin. */
  readonly contract?: string;
}

export interface EvmTransferIntent {
  readonly chain: 'ethereum';
  /** Network name, for humans and logs (e.g. "mainnet", "sepolia", "anvil"). */
  readonly network: string;
  readonly chainId: bigint;
  /** 'ETH' (native) or an ERC-20 token with its contract address. */
  readonly asset: 'ETH' | EvmAssetRef;
  readonly destination: string;
  /** Base units (wei for ETH, token units for ERC-20). */
  readonly amount: bigint;
  /** Highest total fee in wei: gasLimit × maxFeePerGas must not exceed it. */
  readonly feeCap: bigint;
  /** Index of the sending address, m/44'/60'/<account>'/0/<addressIndex>. */
  readonly addressIndex: number;
  readonly account?: number;
}

export type EvidenceField =
  | 'chain'
  | 'network'
  | 'asset'
  | 'destination'
  | 'amount'
  | 'fee'
  | 'chainId'
  | 'change'
  | 'inputs'
  | 'sighash'
  | 'payload';

export function evidenceInvalid(
  field: EvidenceField,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): StrongroomError {
  return new StrongroomError('E_EVIDENCE_INVALID', `${field}: ${message}`, {
    details: { ...details, field },
    hints: ['the unsigned payload does not do what was approved; rebuild it from the approved request'],
    cause,
  });
}
