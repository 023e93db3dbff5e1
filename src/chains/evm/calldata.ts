/**
 * Contract-call decoding, so approvers see what they sign and the policy can refuse what it does not allow.
 * Pure; shared by the builder and the vault signer.
 *
 * Only calls named in the caller's allow-list are decoded; anything else (unknown selector, or a known one
 * the policy does not allow) is refused with `E_POLICY_DENIED`. Decoding is strict: the calldata must be the
 * canonical ABI encoding (re-encoding it gives the same bytes), so trailing bytes or dirty address padding,
 * which some decoders ignore and some contracts read, cannot hide anything.
 */
import { Interface } from 'ethers';
import { StrongroomError } from '../../domain/errors.ts';
import { toChecksumAddress, type EvmAddress } from './address.ts';

export type KnownCall = 'transfer' | 'approve' | 'transferFrom' | 'mint';

const ERC20 = new Interface([
  'function transfer(address to, uint256 amount)',
  'function approve(address spender, uint256 amount)',
  'function transferFrom(address from, address to, uint256 amount)',
  'function mint(address to, uint256 amount)',
]);

/** 4-byte selectors, for reference and for tests. */
export const SELECTORS: Readonly<Record<KnownCall, string>> = Object.freeze({
  transfer: '0xa9059cbb',
  approve: '0x095ea7b3',
  transferFrom: '0x23b872dd',
  mint: '0x40c10f19',
});

export type DecodedCall =
  | { readonly name: 'transfer'; readonly to: EvmAddress; readonly amount: bigint }
  | { readonly name: 'approve'; readonly spender: EvmAddress; readonly amount: bigint }
  | {
      readonly name: 'transferFrom';
      readonly from: EvmAddress;
      readonly to: EvmAddress;
      readonly amount: bigint;
    }
  | { readonly name: 'mint'; readonly to: EvmAddress; readonly amount: bigint };

/**
 * Decodes `data` if its function is in `allowList`.
 * @example decodeCalldata(ERC20.encodeFunctionData('transfer', [to, 5n]), ['transfer']) → { name: 'transfer', to, amount: 5n }
 */
export function decodeCalldata(data: string, allowList: readonly KnownCall[]): DecodedCall {
  if (typeof data !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(data) || data.length < 10) {
    throw new StrongroomError('E_VALIDATION', 'calldata must be 0x-prefixed hex with a 4-byte selector', {
      details: { field: 'data' },
    });
  }
  const selector = data.slice(0, 10).toLowerCase();
  const name = (Object.keys(SELECTORS) as KnownCall[]).find((k) => SELECTORS[k] === selector);
  if (!name) {
    throw new StrongroomError('E_POLICY_DENIED', `calldata selector ${selector} is not a known call`, {
      details: { field: 'data', selector, reason: 'unknown-selector' },
    });
  }
  if (!allowList.includes(name)) {
    throw new StrongroomError('E_POLICY_DENIED', `contract call ${name} is not allowed here`, {
      details: { field: 'data', call: name, reason: 'not-allowed', allowed: [...allowList] },
    });
  }
  let args: readonly unknown[];
  let reencoded: string;
  try {
    // ethers defers per-argument decoding errors until an argument is read: spread to surface them here.
    args = [...ERC20.decodeFunctionData(name, data)];
    reencoded = ERC20.encodeFunctionData(name, args);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', `calldata is not a valid ${name} call`, {
      details: { field: 'data' },
      cause,
    });
  }
  if (reencoded.toLowerCase() !== data.toLowerCase()) {
    throw new StrongroomError('E_VALIDATION', `calldata of ${name} is not canonically encoded`, {
      details: { field: 'data', reason: 'non-canonical' },
    });
  }
  const addr = (i: number) => toChecksumAddress(args[i] as string);
  const amount = (i: number) => args[i] as bigint;
  switch (name) {
    case 'transfer':
      return { name, to: addr(0), amount: amount(1) };
    case 'approve':
      return { name, spender: addr(0), amount: amount(1) };
    case 'transferFrom':
      return { name, from: addr(0), to: addr(1), amount: amount(2) };
    case 'mint':
      return { name, to: addr(0), amount: amount(1) };
  }
}

/** Canonical ERC-20 `transfer(to, amount)` calldata. */
export function encodeErc20Transfer(to: EvmAddress, amount: bigint): `0x${string}` {
  if (typeof amount !== 'bigint' || amount < 0n || amount >= 2n ** 256n) {
    throw new StrongroomError('E_VALIDATION', 'amount must be a uint256', {
      details: { parameter: 'amount' },
    });
  }
  return ERC20.encodeFunctionData('transfer', [to, amount]) as `0x${string}`;
}

/** One line for approvers. */
export function describeCall(call: DecodedCall, contract: string): string {
  switch (call.name) {
    case 'transfer':
      return `transfer ${call.amount} token units of ${contract} to ${call.to}`;
    case 'approve':
      return `approve ${call.spender} to spend ${call.amount} token units of ${contract}`;
    case 'transferFrom':
      return `transfer ${call.amount} token units of ${contract} from ${call.from} to ${call.to}`;
    case 'mint':
      return `mint ${call.amount} token units of ${contract} to ${call.to}`;
  }
}
