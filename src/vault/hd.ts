/**
 * HD wallets inside the vault (trusted): BIP39 mnemonics and seeds, BIP32 master keys, and the account
 * extended public keys that are the only thing about a wallet allowed to leave the vault.
 *
 * An `HDKey` holding a private key must never escape the vault: `HDKey#toJSON()` returns the xprv, so a
 * logger or `JSON.stringify` would leak it. Callers outside src/vault get `AccountXpubs` (plain strings of
 * public data) and nothing else. Seeds are `Uint8Array`s that the caller wipes; `wipeKey` wipes an HDKey.
 * Mnemonic strings cannot be wiped in JavaScript (strings are immutable); they exist only during import
 * or the creation ceremony, which is why SECURITY.md scopes memory dumps out.
 */
import { HDKey } from '@scure/bip32';
import * as bip39 from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { StrongroomError } from '../domain/errors.ts';
import { bitcoinNetwork, type BitcoinNetwork, type BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import {
  derivePrivatePath,
  fingerprintOf,
  publicKeyOf,
  serializeXpub,
  wipeNode,
  type PrivateNode,
} from './bip32-native.ts';

export type { HDKey };

/** BIP39 entropy sizes in bits (12, 15, 18, 21 or 24 words). */
export type MnemonicStrength = 128 | 160 | 192 | 224 | 256;

const STRENGTHS: readonly number[] = [128, 160, 192, 224, 256];

/** Generates a fresh English BIP39 mnemonic from the CSPRNG. Default 24 words. */
export function generateMnemonic(strength: MnemonicStrength = 256): string {
  if (!STRENGTHS.includes(strength)) {
    throw new StrongroomError('E_VALIDATION', 'strength must be one of 128, 160, 192, 224, 256', {
      details: { parameter: 'strength' },
    });
  }
  return bip39.generateMnemonic(english, strength);
}

/**
 * BIP39 seed (64 bytes, PBKDF2-HMAC-SHA512) of an English mnemonic after checking its checksum.
 * The caller owns the returned seed and wipes it (`seed.fill(0)`).
 */
export function seedFromMnemonic(mnemonic: unknown, passphrase: unknown = ''): Uint8Array {
  if (typeof mnemonic !== 'string' || typeof passphrase !== 'string') {
    throw keyMaterialInvalid('mnemonic and passphrase must be strings', 'mnemonic');
  }
  // BIP39 mnemonics are NFKD-normalised single-space-separated words; be lenient only about whitespace.
  const words = mnemonic.normalize('NFKD').trim().toLowerCase().split(/\s+/);
  if (![12, 15, 18, 21, 24].includes(words.length)) {
    throw keyMaterialInvalid(`a mnemonic has 12, 15, 18, 21 or 24 words, not ${words.length}`, 'mnemonic');
  }
  const normalized = words.join(' ');
  // Never echo the words in the error: they are the key.
  if (!bip39.validateMnemonic(normalized, english)) {
    throw keyMaterialInvalid('mnemonic has an unknown word or a wrong checksum', 'mnemonic');
  }
  return bip39.mnemonicToSeedSync(normalized, passphrase);
}

/** BIP32 master key from a seed (16..64 bytes). The caller wipes the seed and later the key (`wipeKey`). */
export function masterFromSeed(
  seed: Uint8Array,
  network: BitcoinNetworkName | BitcoinNetwork = 'mainnet',
): HDKey {
  if (!(seed instanceof Uint8Array) || seed.length < 16 || seed.length > 64) {
    throw keyMaterialInvalid('seed must be 16 to 64 bytes', 'seed');
  }
  try {
    return HDKey.fromMasterSeed(seed, bitcoinNetwork(network).bip32);
  } catch (cause) {
    // BIP32: a master secret of 0 or ≥ n is invalid (probability < 2^-127).
    throw keyMaterialInvalid('seed does not yield a valid master key', 'seed', cause);
  }
}

/**
 * Imports a master extended private key (xprv… for mainnet, tprv… for test networks), depth 0 only:
 * account paths are derived from the master, so an account-level key would silently give other addresses.
 */
export function masterFromXprv(xprv: unknown): HDKey {
  if (typeof xprv !== 'string' || xprv.length > 200)
    throw keyMaterialInvalid('xprv must be a base58 string', 'xprv');
  let key: HDKey | undefined;
  for (const net of ['mainnet', 'testnet'] as const) {
    try {
      key = HDKey.fromExtendedKey(xprv, bitcoinNetwork(net).bip32);
      break;
    } catch {
      // try the next version bytes
    }
  }
  if (!key) throw keyMaterialInvalid('xprv is not a valid extended private key', 'xprv');
  if (!key.privateKey)
    throw keyMaterialInvalid('xprv is an extended public key; a private key is required', 'xprv');
  if (key.depth !== 0 || key.parentFingerprint !== 0 || key.index !== 0) {
    key.wipePrivateData();
    throw keyMaterialInvalid('xprv must be a master key (depth 0)', 'xprv');
  }
  return key;
}

export interface AccountXpub {
  /** Full derivation path of the account key, e.g. "m/84'/0'/0'". */
  readonly path: string;
  /** Account extended public key, serialised with the network's version bytes (xpub… / tpub…). */
  readonly xpub: string;
}

/** Everything about a wallet that may leave the vault. Plain public data; safe to store and log. */
export interface AccountXpubs {
  /** Fingerprint of the master key (BIP32, first 4 bytes of HASH160(master pubkey)), 8 hex digits. */
  readonly masterFingerprint: string;
  readonly network: BitcoinNetworkName;
  readonly bip84: AccountXpub;
  readonly bip86: AccountXpub;
  /** m/44'/60'/0' serialised as xpub on every network (EVM has no test version bytes). */
  readonly bip44eth: AccountXpub;
}

/** Account paths: Bitcoin uses coin type 0 on mainnet and 1 on test networks (SLIP-44); EVM always 60. */
export function accountPaths(network: BitcoinNetworkName | BitcoinNetwork, account = 0) {
  const net = bitcoinNetwork(network);
  if (!Number.isSafeInteger(account) || account < 0 || account >= 0x80000000) {
    throw new StrongroomError('E_VALIDATION', 'account must be an integer in 0..2^31-1', {
      details: { parameter: 'account' },
    });
  }
  return {
    bip84: `m/84'/${net.coinType}'/${account}'`,
    bip86: `m/86'/${net.coinType}'/${account}'`,
    bip44eth: `m/44'/60'/${account}'`,
  } as const;
}

/** The account extended public keys of a master key. Only public data is returned. */
export function accountXpubs(
  master: HDKey,
  network: BitcoinNetworkName | BitcoinNetwork = 'mainnet',
  account = 0,
): AccountXpubs {
  assertMaster(master);
  return accountXpubsOfNode(nodeOf(master), network, account);
}

/**
 * `accountXpubs` of a native master node (bip32-native.ts: libsecp256k1 and node:crypto, no HDKey). The
 * node is left for the caller to wipe. Used by wallet creation, where @scure/bip32's pure-JS public keys
 * would cost more than the BIP39 PBKDF2 itself.
 */
export function accountXpubsOfNode(
  master: PrivateNode,
  network: BitcoinNetworkName | BitcoinNetwork = 'mainnet',
  account = 0,
): AccountXpubs {
  if (master.depth !== 0) throw keyMaterialInvalid('expected a master key (depth 0)', 'master');
  const net = bitcoinNetwork(network);
  const paths = accountPaths(net, account);
  const mainnet = bitcoinNetwork('mainnet').bip32;
  return {
    masterFingerprint: fingerprintHex(fingerprintOf(publicKeyOf(master.privateKey))),
    network: net.name,
    bip84: { path: paths.bip84, xpub: publicOnly(master, paths.bip84, net.bip32) },
    bip86: { path: paths.bip86, xpub: publicOnly(master, paths.bip86, net.bip32) },
    bip44eth: { path: paths.bip44eth, xpub: publicOnly(master, paths.bip44eth, mainnet) },
  };
}

/**
 * Derives the private key at `path` (absolute, from the master) and returns a copy of its 32 bytes.
 * The caller wipes the copy; the intermediate keys are wiped here.
 */
export function derivePrivateKey(master: HDKey, path: string): Uint8Array {
  assertMaster(master);
  const child = deriveChecked(nodeOf(master), path);
  const out = Uint8Array.from(child.privateKey);
  wipeNode(child);
  return out;
}

/** Derives the public key at `path` (33 bytes, compressed). */
export function derivePublicKey(master: HDKey, path: string): Uint8Array {
  assertMaster(master);
  const child = deriveChecked(nodeOf(master), path);
  try {
    return Uint8Array.from(publicKeyOf(child.privateKey));
  } finally {
    wipeNode(child);
  }
}

/** Wipes an HDKey's private key bytes. Idempotent. */
export function wipeKey(key: HDKey): void {
  key.wipePrivateData();
}

/** Parses "m/84'/0'/0'/1/5" strictly (apostrophe or h for hardened) into BIP32 indices. */
export function parsePath(path: string): number[] {
  if (typeof path !== 'string' || !/^m(\/\d{1,10}['h]?)*$/.test(path)) {
    throw new StrongroomError('E_VALIDATION', `not a BIP32 path: ${JSON.stringify(path)}`, {
      details: { parameter: 'path' },
    });
  }
  return path
    .split('/')
    .slice(1)
    .map((part) => {
      const hardened = part.endsWith("'") || part.endsWith('h');
      const n = Number(hardened ? part.slice(0, -1) : part);
      if (n >= 0x80000000)
        throw new StrongroomError('E_VALIDATION', 'path index out of range', {
          details: { parameter: 'path' },
        });
      return hardened ? n + 0x80000000 : n;
    });
}

/** Inverse of parsePath, with apostrophes. */
export function formatPath(indices: readonly number[]): string {
  return ['m', ...indices.map((i) => (i >= 0x80000000 ? `${i - 0x80000000}'` : String(i)))].join('/');
}

export function fingerprintHex(fingerprint: number): string {
  return (fingerprint >>> 0).toString(16).padStart(8, '0');
}

function deriveChecked(master: PrivateNode, path: string): PrivateNode {
  const indices = parsePath(path);
  // Returning the master itself would let a caller wipe it by accident.
  if (indices.length === 0)
    throw new StrongroomError('E_VALIDATION', 'path must name a child key', {
      details: { parameter: 'path' },
    });
  return derivePrivatePath(master, indices);
}

// Serialise from public fields only, with the requested version bytes: the result cannot carry a private key.
function publicOnly(master: PrivateNode, path: string, versions: { public: number; private: number }): string {
  const child = deriveChecked(master, path);
  try {
    const { depth, index, parentFingerprint, chainCode } = child;
    return serializeXpub({ depth, index, parentFingerprint, chainCode, publicKey: publicKeyOf(child.privateKey) }, versions.public);
  } finally {
    wipeNode(child);
  }
}

/** A view of an HDKey's master secret as a native node (no copy: the HDKey still owns and wipes it). */
function nodeOf(master: HDKey): PrivateNode {
  return { depth: 0, index: 0, parentFingerprint: 0, chainCode: master.chainCode!, privateKey: master.privateKey! };
}

function assertMaster(master: HDKey): void {
  if (!(master instanceof HDKey) || master.depth !== 0 || !master.privateKey) {
    throw keyMaterialInvalid('expected a master key with its private key (was it wiped?)', 'master');
  }
}

function keyMaterialInvalid(message: string, parameter: string, cause?: unknown): StrongroomError {
  return new StrongroomError('E_KEY_MATERIAL_INVALID', message, { details: { parameter }, cause });
}
