/**
 * EIP-1559 transaction requests (untrusted side): build the unsigned payload of an ETH or ERC-20 transfer,
 * parse one back, and summarise it for approvers. The unsigned payload is the canonical unsigned
 * serialisation (0x02 || rlp([...])) so that exactly the stored bytes are what the vault signs.
 */
import { Transaction } from 'ethers';
import { StrongroomError } from '../../domain/errors.ts';
import { formatAmount } from '../../domain/amount.ts';
import { parseEvmAddress, type EvmAddress } from './address.ts';
import {
  decodeCalldata,
  describeCall,
  encodeErc20Transfer,
  type DecodedCall,
  type KnownCall,
} from './calldata.ts';

export interface EvmFees {
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  readonly gasLimit: bigint;
}

/** An EIP-1559 request as plain data (bigints, checksummed addresses). */
export interface EvmTxRequest extends EvmFees {
  readonly type: 2;
  readonly chainId: bigint;
  readonly nonce: number;
  readonly to: EvmAddress;
  readonly value: bigint;
  readonly data: `0x${string}`;
}

export interface EvmUnsignedTx {
  readonly request: EvmTxRequest;
  /** 0x02-prefixed unsigned serialisation: the payload stored before signing. */
  readonly unsignedTx: `0x${string}`;
}

export interface BuildEthTransferParameters {
  readonly chainId: bigint;
  readonly nonce: number;
  readonly to: string;
  readonly amount: bigint;
  readonly fees: EvmFees;
}

export interface BuildErc20TransferParameters extends Omit<BuildEthTransferParameters, 'to'> {
  readonly token: string;
  readonly to: string;
}

/** Plain ETH transfer (no calldata). */
export function buildEthTransfer(p: BuildEthTransferParameters): EvmUnsignedTx {
  return buildRequest({
    chainId: p.chainId,
    nonce: p.nonce,
    to: parseEvmAddress(p.to),
    value: p.amount,
    data: '0x',
    ...p.fees,
  });
}

/** ERC-20 `transfer(to, amount)` sent to the token contract, with no ETH value. */
export function buildErc20Transfer(p: BuildErc20TransferParameters): EvmUnsignedTx {
  const data = encodeErc20Transfer(parseEvmAddress(p.to), p.amount);
  return buildRequest({
    chainId: p.chainId,
    nonce: p.nonce,
    to: parseEvmAddress(p.token),
    value: 0n,
    data,
    ...p.fees,
  });
}

function buildRequest(r: Omit<EvmTxRequest, 'type'>): EvmUnsignedTx {
  checkUint('chainId', r.chainId, 64);
  if (r.chainId === 0n) throw invalid('chainId', 'chainId must be positive');
  if (!Number.isSafeInteger(r.nonce) || r.nonce < 0)
    throw invalid('nonce', 'nonce must be a non-negative integer');
  checkUint('value', r.value, 256);
  checkUint('gasLimit', r.gasLimit, 64);
  checkUint('maxFeePerGas', r.maxFeePerGas, 256);
  checkUint('maxPriorityFeePerGas', r.maxPriorityFeePerGas, 256);
  if (r.gasLimit < 21_000n) throw invalid('gasLimit', 'gasLimit must be at least 21000');
  if (r.maxPriorityFeePerGas > r.maxFeePerGas)
    throw invalid('maxPriorityFeePerGas', 'maxPriorityFeePerGas must not exceed maxFeePerGas');
  const tx = Transaction.from({
    type: 2,
    chainId: r.chainId,
    nonce: r.nonce,
    to: r.to,
    value: r.value,
    data: r.data,
    gasLimit: r.gasLimit,
    maxFeePerGas: r.maxFeePerGas,
    maxPriorityFeePerGas: r.maxPriorityFeePerGas,
    accessList: [],
  });
  return { request: { type: 2, ...r }, unsignedTx: tx.unsignedSerialized as `0x${string}` };
}

/**
 * Parses an unsigned EIP-1559 serialisation. Refuses other types, signed payloads, contract creation and
 * access lists (none of our flows needs one; they would only widen what a payload can hide).
 */
export function parseUnsignedEvmTx(unsignedTx: string): { request: EvmTxRequest; tx: Transaction } {
  if (typeof unsignedTx !== 'string' || !/^0x02([0-9a-fA-F]{2})+$/.test(unsignedTx)) {
    throw invalid('unsignedTx', 'unsignedTx must be a 0x02-prefixed EIP-1559 serialisation');
  }
  let tx: Transaction;
  try {
    tx = Transaction.from(unsignedTx);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'unsignedTx does not decode as an EIP-1559 transaction', {
      details: { parameter: 'unsignedTx' },
      cause,
    });
  }
  if (tx.type !== 2) throw invalid('unsignedTx', 'only EIP-1559 (type 2) transactions are accepted');
  if (tx.signature) throw invalid('unsignedTx', 'payload is already signed');
  if (!tx.to) throw invalid('unsignedTx', 'contract creation is not a transfer');
  if (tx.accessList && tx.accessList.length > 0) throw invalid('unsignedTx', 'access lists are not accepted');
  // Round trip: the payload must be exactly the canonical serialisation of what it decodes to.
  if (tx.unsignedSerialized.toLowerCase() !== unsignedTx.toLowerCase())
    throw invalid('unsignedTx', 'unsignedTx is not canonically encoded');
  const request: EvmTxRequest = {
    type: 2,
    chainId: tx.chainId,
    nonce: tx.nonce,
    to: parseEvmAddress(tx.to),
    value: tx.value,
    data: tx.data as `0x${string}`,
    gasLimit: tx.gasLimit,
    maxFeePerGas: tx.maxFeePerGas ?? 0n,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? 0n,
  };
  return { request, tx };
}

export interface EvmTxSummary {
  readonly request: EvmTxRequest;
  /** Decoded contract call, or undefined for a plain ETH transfer. */
  readonly call: DecodedCall | undefined;
  /** Worst-case fee: gasLimit × maxFeePerGas, wei. */
  readonly maxFee: bigint;
  readonly text: string;
}

/** Summary of an unsigned payload; calls outside `allowList` are refused (`E_POLICY_DENIED`). */
export function summarizeEvmTx(unsignedTx: string, allowList: readonly KnownCall[]): EvmTxSummary {
  return summarizeParsedEvmTx(parseUnsignedEvmTx(unsignedTx).request, allowList);
}

/** `summarizeEvmTx` of a payload already parsed by `parseUnsignedEvmTx` (a signer parses it once). */
export function summarizeParsedEvmTx(request: EvmTxRequest, allowList: readonly KnownCall[]): EvmTxSummary {
  const call = request.data === '0x' ? undefined : decodeCalldata(request.data, allowList);
  const maxFee = request.gasLimit * request.maxFeePerGas;
  const what = call
    ? describeCall(call, request.to)
    : `send ${formatAmount(request.value, 18)} ETH to ${request.to}`;
  const value = call && request.value > 0n ? ` with ${formatAmount(request.value, 18)} ETH attached` : '';
  const text =
    `EVM chain ${request.chainId}, nonce ${request.nonce}: ${what}${value}; ` +
    `max fee ${formatAmount(maxFee, 18)} ETH (gas ${request.gasLimit} × ${request.maxFeePerGas} wei, tip ${request.maxPriorityFeePerGas})`;
  return { request, call, maxFee, text };
}

function checkUint(parameter: string, v: bigint, bits: number): void {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << BigInt(bits))
    throw invalid(parameter, `${parameter} must be a uint${bits} bigint`);
}

function invalid(parameter: string, message: string): StrongroomError {
  return new StrongroomError('E_VALIDATION', message, { details: { parameter } });
}

/** Smallest bump a node accepts for a same-nonce replacement (geth and anvil: 10% on both fee fields). */
export const REPLACEMENT_BUMP_PERCENT = 10n;

/**
 * A same-nonce replacement of `unsignedTx` that pays more: both fee fields raised by at least 10% (12.5% by
 * default) and to at least the `current` network fees. Everything else (nonce, recipient, value, calldata,
 * gas limit) is unchanged, so only one of the two can ever be mined.
 */
export function bumpEvmFees(unsignedTx: string, current: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }, bumpPercent = 12n): EvmUnsignedTx {
  if (bumpPercent < REPLACEMENT_BUMP_PERCENT) throw invalid('bumpPercent', `a replacement must raise fees by at least ${REPLACEMENT_BUMP_PERCENT}%`);
  const { request } = parseUnsignedEvmTx(unsignedTx);
  const raise = (v: bigint) => (v * (100n + bumpPercent) + 99n) / 100n;
  const maxPriorityFeePerGas = [raise(request.maxPriorityFeePerGas), current.maxPriorityFeePerGas].reduce((a, b) => (a > b ? a : b));
  const maxFeePerGas = [raise(request.maxFeePerGas), current.maxFeePerGas, maxPriorityFeePerGas].reduce((a, b) => (a > b ? a : b));
  return buildRequest({ ...request, maxFeePerGas, maxPriorityFeePerGas });
}
