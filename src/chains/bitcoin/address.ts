/**
 * Bitcoin addresses, public data only (untrusted side): parse and check a destination, encode an output
 * script as an address, and derive our own receive/change addresses from an account extended public key.
 *
 * Parsing follows BIP173/BIP350 to the letter, because a wrong answer here sends money nowhere: bech32 for
 * witness version 0 and bech32m for 1..16, a program of 2..40 bytes (20 or 32 for v0), one case only, and
 * the network's own prefix. Legacy base58check P2PKH/P2SH destinations are accepted too (version byte must
 * be the network's). Every refusal is `E_ADDRESS_INVALID` with a machine-readable `details.reason`.
 */
import { assertPublicAccountKey } from '../account-xpub.ts';
import { HDKey } from '@scure/bip32';
import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { p2tr, p2wpkh } from '@scure/btc-signer';
import { StrongroomError } from '../../domain/errors.ts';
import { BITCOIN_NETWORKS, bitcoinNetwork, type BitcoinNetwork, type BitcoinNetworkName } from './network.ts';

export type BitcoinAddressType = 'p2wpkh' | 'p2wsh' | 'p2tr' | 'witness-unknown' | 'p2pkh' | 'p2sh';

export type AddressInvalidReason =
  | 'not-a-string'
  | 'empty'
  | 'mixed-case'
  | 'too-long'
  | 'checksum'
  | 'wrong-checksum-variant'
  | 'network-mismatch'
  | 'witness-version'
  | 'program-length'
  | 'base58-version'
  | 'unrecognized';

export interface ParsedBitcoinAddress {
  /** Canonical form (lowercase for bech32). */
  readonly address: string;
  readonly type: BitcoinAddressType;
  readonly network: BitcoinNetworkName;
  /** Witness version for segwit addresses, undefined for base58. */
  readonly witnessVersion?: number;
  /** Witness program, or the 20-byte hash of a base58 address. */
  readonly program: Uint8Array;
  /** The scriptPubKey that pays this address. */
  readonly script: Uint8Array;
}

const BECH32_LIMIT = 90; // BIP173: an address is at most 90 characters
const base58check = createBase58check(sha256);

/**
 * Parses and validates `address` for `network`; throws `E_ADDRESS_INVALID` with `details.reason`.
 * @example parseBitcoinAddress('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'mainnet').type === 'p2wpkh'
 */
export function parseBitcoinAddress(
  address: unknown,
  network: BitcoinNetworkName | BitcoinNetwork,
): ParsedBitcoinAddress {
  const net = bitcoinNetwork(network);
  if (typeof address !== 'string') throw invalid('not-a-string', 'address must be a string');
  if (address.length === 0) throw invalid('empty', 'address is empty');
  const lower = address.toLowerCase();
  const hrpOwner = ownerOfHrp(lower);
  if (hrpOwner !== undefined) {
    if (address !== lower && address !== address.toUpperCase()) {
      throw invalid('mixed-case', 'a bech32 address must be all lowercase or all uppercase');
    }
    if (lower.length > BECH32_LIMIT)
      throw invalid('too-long', `a bech32 address has at most ${BECH32_LIMIT} characters`);
    if (hrpOwner.bech32 !== net.bech32) {
      throw invalid(
        'network-mismatch',
        `address is for prefix "${hrpOwner.bech32}", network ${net.name} uses "${net.bech32}"`,
      );
    }
    return parseSegwit(lower, net);
  }
  return parseBase58(address, net);
}

/** True when `address` is valid for `network`; never throws. */
export function isBitcoinAddress(address: unknown, network: BitcoinNetworkName | BitcoinNetwork): boolean {
  try {
    parseBitcoinAddress(address, network);
    return true;
  } catch {
    return false;
  }
}

// The longest matching prefix wins, so "bcrt1…" is regtest and not mainnet's "bc".
function ownerOfHrp(lower: string): BitcoinNetwork | undefined {
  let best: BitcoinNetwork | undefined;
  for (const n of Object.values(BITCOIN_NETWORKS)) {
    if (lower.startsWith(n.bech32 + '1') && (!best || n.bech32.length > best.bech32.length)) best = n;
  }
  return best;
}

function parseSegwit(lower: string, net: BitcoinNetwork): ParsedBitcoinAddress {
  const asM = bech32m.decodeUnsafe(lower, BECH32_LIMIT);
  const asV0 = asM ? undefined : bech32.decodeUnsafe(lower, BECH32_LIMIT);
  const decoded = asM ?? asV0;
  if (!decoded || decoded.prefix !== net.bech32) throw invalid('checksum', 'bech32 checksum does not match');
  const [version, ...data] = decoded.words;
  if (version === undefined || version > 16)
    throw invalid('witness-version', 'witness version must be 0..16');
  // BIP350: v0 keeps the original bech32 checksum, v1+ must use bech32m.
  if ((version === 0) !== (asV0 !== undefined)) {
    throw invalid(
      'wrong-checksum-variant',
      `witness v${version} must use ${version === 0 ? 'bech32' : 'bech32m'}`,
    );
  }
  let program: Uint8Array;
  try {
    program = bech32.fromWords(data);
  } catch (cause) {
    throw invalid('program-length', 'witness program has invalid padding', cause);
  }
  if (program.length < 2 || program.length > 40)
    throw invalid('program-length', 'witness program must be 2..40 bytes');
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    throw invalid('program-length', 'a v0 witness program must be 20 or 32 bytes');
  }
  const type: BitcoinAddressType =
    version === 0
      ? program.length === 20
        ? 'p2wpkh'
        : 'p2wsh'
      : version === 1 && program.length === 32
        ? 'p2tr'
        : 'witness-unknown';
  const script = new Uint8Array([version === 0 ? 0 : 0x50 + version, program.length, ...program]);
  return { address: lower, type, network: net.name, witnessVersion: version, program, script };
}

function parseBase58(address: string, net: BitcoinNetwork): ParsedBitcoinAddress {
  let payload: Uint8Array;
  try {
    payload = base58check.decode(address);
  } catch (cause) {
    // Not base58check at all: either garbage or a bech32 string with an unknown prefix.
    throw invalid(
      /^[1-9A-HJ-NP-Za-km-z]+$/.test(address) ? 'checksum' : 'unrecognized',
      'not a valid bitcoin address',
      cause,
    );
  }
  const [version, ...rest] = payload;
  const hash = Uint8Array.from(rest);
  if (hash.length !== 20) throw invalid('unrecognized', 'a base58 address carries a 20-byte hash');
  if (version === net.pubKeyHash) {
    return {
      address,
      type: 'p2pkh',
      network: net.name,
      program: hash,
      script: new Uint8Array([0x76, 0xa9, 0x14, ...hash, 0x88, 0xac]),
    };
  }
  if (version === net.scriptHash) {
    return {
      address,
      type: 'p2sh',
      network: net.name,
      program: hash,
      script: new Uint8Array([0xa9, 0x14, ...hash, 0x87]),
    };
  }
  throw invalid('base58-version', `base58 version byte ${version} is not a ${net.name} address`);
}

/** The address that an output script pays on `network`, or undefined for scripts without one (OP_RETURN…). */
export function addressFromScript(
  script: Uint8Array,
  network: BitcoinNetworkName | BitcoinNetwork,
): string | undefined {
  const net = bitcoinNetwork(network);
  const s = script;
  const n = s.length;
  // Witness program: OP_0 or OP_1..OP_16, then one push of 2..40 bytes that fills the script.
  if (n >= 4 && n <= 42 && (s[0] === 0 || (s[0]! >= 0x51 && s[0]! <= 0x60)) && s[1] === n - 2) {
    const version = s[0] === 0 ? 0 : s[0]! - 0x50;
    if (version === 0 && n - 2 !== 20 && n - 2 !== 32) return undefined;
    const words = [version, ...bech32.toWords(s.subarray(2))];
    return (version === 0 ? bech32 : bech32m).encode(net.bech32, words, BECH32_LIMIT);
  }
  if (n === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) {
    return base58check.encode(new Uint8Array([net.pubKeyHash, ...s.subarray(3, 23)]));
  }
  if (n === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) {
    return base58check.encode(new Uint8Array([net.scriptHash, ...s.subarray(2, 22)]));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Derivation from account extended public keys (BIP84 P2WPKH, BIP86 P2TR).

export interface DerivedBitcoinAddress {
  readonly address: string;
  readonly script: Uint8Array;
  /** Path below the account key: `<change>/<index>`. */
  readonly relativePath: string;
  /** Compressed (33-byte) public key of the child. */
  readonly publicKey: Uint8Array;
  /** P2TR only: x-only internal key (the untweaked child key) and tweaked output key. */
  readonly internalKey?: Uint8Array;
  readonly outputKey?: Uint8Array;
}

/**
 * Parses an account-level extended public key (depth 3, e.g. m/84'/0'/0') for `network`.
 * Private extended keys are refused: they must never reach this side of the vault.
 */
export function parseAccountXpub(xpub: unknown, network: BitcoinNetworkName | BitcoinNetwork): HDKey {
  const net = bitcoinNetwork(network);
  if (typeof xpub !== 'string' || xpub.length > 200) {
    throw new StrongroomError('E_VALIDATION', 'xpub must be a base58 extended public key', {
      details: { parameter: 'xpub' },
    });
  }
  let key: HDKey;
  try {
    key = HDKey.fromExtendedKey(xpub, net.bip32);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', `xpub is not an extended public key for ${net.name}`, {
      details: { parameter: 'xpub' },
      hints: ['mainnet uses xpub…, test networks use tpub…'],
      cause,
    });
  }
  return assertPublicAccountKey(key);
}

/** Derives the child public key at `<change>/<index>` (both non-hardened) of an account key. */
export function deriveChildPublicKey(account: HDKey, change: number, index: number): Uint8Array {
  if (change !== 0 && change !== 1) {
    throw new StrongroomError('E_VALIDATION', 'change must be 0 (receive) or 1 (change)', {
      details: { parameter: 'change' },
    });
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= 0x80000000) {
    throw new StrongroomError('E_VALIDATION', 'index must be an integer in 0..2^31-1', {
      details: { parameter: 'index' },
    });
  }
  const pub = account.deriveChild(change).deriveChild(index).publicKey;
  if (!pub) throw new StrongroomError('E_INTERNAL', 'derived key has no public key');
  return pub;
}

/** BIP84 receive (change 0) or change (1) address: P2WPKH of the child key. */
export function deriveP2wpkhAddress(
  accountXpub: string | HDKey,
  network: BitcoinNetworkName | BitcoinNetwork,
  change: number,
  index: number,
): DerivedBitcoinAddress {
  const net = bitcoinNetwork(network);
  const account = typeof accountXpub === 'string' ? parseAccountXpub(accountXpub, net) : accountXpub;
  const publicKey = deriveChildPublicKey(account, change, index);
  const pay = p2wpkh(publicKey, net);
  return { address: pay.address!, script: pay.script, relativePath: `${change}/${index}`, publicKey };
}

/**
 * BIP86 address: P2TR whose output key is the child key tweaked with an empty script tree
 * (Q = P + int(hashTapTweak(P))·G, BIP341), so it can only be spent by the key path.
 */
export function deriveP2trAddress(
  accountXpub: string | HDKey,
  network: BitcoinNetworkName | BitcoinNetwork,
  change: number,
  index: number,
): DerivedBitcoinAddress {
  const net = bitcoinNetwork(network);
  const account = typeof accountXpub === 'string' ? parseAccountXpub(accountXpub, net) : accountXpub;
  const publicKey = deriveChildPublicKey(account, change, index);
  const internalKey = publicKey.slice(1);
  const pay = p2tr(internalKey, undefined, net);
  return {
    address: pay.address!,
    script: pay.script,
    relativePath: `${change}/${index}`,
    publicKey,
    internalKey,
    outputKey: pay.tweakedPubkey,
  };
}

function invalid(reason: AddressInvalidReason, message: string, cause?: unknown): StrongroomError {
  return new StrongroomError('E_ADDRESS_INVALID', message, { details: { field: 'address', reason }, cause });
}
