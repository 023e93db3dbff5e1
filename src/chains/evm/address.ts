/**
 * EVM addresses, public data only (untrusted side): EIP-55 checksum encoding and checking, and derivation of
 * our own addresses (BIP44 m/44'/60'/0'/0/i) from the account extended public key m/44'/60'/0'.
 *
 * EIP-55 rule: an all-lowercase or all-uppercase address carries no checksum and is accepted; a mixed-case
 * address must match its checksum exactly, because a mixed-case typo is exactly what the checksum catches.
 */
import { assertPublicAccountKey } from '../account-xpub.ts';
import { HDKey } from '@scure/bip32';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { StrongroomError } from '../../domain/errors.ts';

/** A checksummed (EIP-55) 0x address. */
export type EvmAddress = `0x${string}`;

export type EvmAddressInvalidReason = 'not-a-string' | 'format' | 'checksum' | 'zero-address';

const HEX40 = /^0x[0-9a-fA-F]{40}$/;

/** EIP-55 checksum encoding of 20 address bytes or a 0x hex address of any case. */
export function toChecksumAddress(address: Uint8Array | string): EvmAddress {
  const lower =
    typeof address === 'string'
      ? HEX40.test(address)
        ? address.slice(2).toLowerCase()
        : undefined
      : address.length === 20
        ? bytesToHex(address)
        : undefined;
  if (lower === undefined) throw invalid('format', 'an EVM address is 20 bytes (0x + 40 hex digits)');
  const hash = bytesToHex(keccak_256(new TextEncoder().encode(lower)));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    // Letters are uppercased where the matching nibble of keccak256(lowercase hex) is ≥ 8.
    out += parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out as EvmAddress;
}

/**
 * Parses a destination address: 0x + 40 hex; mixed case must carry a valid EIP-55 checksum; the zero address
 * is refused (sending there burns funds). Returns the checksummed form.
 * @example parseEvmAddress('0x9858effd232b4033e47d90003d41ec34ecaeda94') === '0x9858EfFD232B4033E47d90003D41EC34EcaEda94'
 */
export function parseEvmAddress(address: unknown): EvmAddress {
  if (typeof address !== 'string') throw invalid('not-a-string', 'address must be a string');
  if (!HEX40.test(address)) throw invalid('format', 'an EVM address is 0x followed by 40 hex digits');
  const checksummed = toChecksumAddress(address);
  const body = address.slice(2);
  const singleCase = body === body.toLowerCase() || body === body.toUpperCase();
  if (!singleCase && address !== checksummed) {
    throw invalid('checksum', 'mixed-case address with a wrong EIP-55 checksum', [
      're-copy the address from its source',
    ]);
  }
  if (/^0x0{40}$/.test(address)) throw invalid('zero-address', 'the zero address cannot receive funds');
  return checksummed;
}

export function isEvmAddress(address: unknown): boolean {
  try {
    parseEvmAddress(address);
    return true;
  } catch {
    return false;
  }
}

/** Address of a secp256k1 public key (compressed or uncompressed): last 20 bytes of keccak256(X || Y). */
export function addressFromPublicKey(publicKey: Uint8Array): EvmAddress {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return toChecksumAddress(keccak_256(uncompressed.subarray(1)).subarray(12));
}

/** Parses the BIP44 account key m/44'/60'/<account>' (depth 3, public only). */
export function parseEvmAccountXpub(xpub: unknown): HDKey {
  if (typeof xpub !== 'string' || xpub.length > 200) {
    throw new StrongroomError('E_VALIDATION', 'xpub must be a base58 extended public key', {
      details: { parameter: 'xpub' },
    });
  }
  let key: HDKey;
  try {
    key = HDKey.fromExtendedKey(xpub);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'xpub is not an extended public key (xpub…)', {
      details: { parameter: 'xpub' },
      cause,
    });
  }
  return assertPublicAccountKey(key);
}

/** Address i of the external chain: m/44'/60'/0'/0/i, with the non-hardened part derived from the xpub. */
export function deriveEvmAddress(
  accountXpub: string | HDKey,
  index: number,
): { address: EvmAddress; publicKey: Uint8Array; relativePath: string } {
  if (!Number.isSafeInteger(index) || index < 0 || index >= 0x80000000) {
    throw new StrongroomError('E_VALIDATION', 'index must be an integer in 0..2^31-1', {
      details: { parameter: 'index' },
    });
  }
  const account = typeof accountXpub === 'string' ? parseEvmAccountXpub(accountXpub) : accountXpub;
  const publicKey = account.deriveChild(0).deriveChild(index).publicKey!;
  return { address: addressFromPublicKey(publicKey), publicKey, relativePath: `0/${index}` };
}

function invalid(reason: EvmAddressInvalidReason, message: string, hints: string[] = []): StrongroomError {
  return new StrongroomError('E_ADDRESS_INVALID', message, { details: { field: 'address', reason }, hints });
}
