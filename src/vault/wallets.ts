/**
 * Wallet secrets inside the vault: generation, import of a mnemonic or a master xprv, the byte encoding
 * sealed into a wallet's cryptogram, and the public facts (fingerprint, account xpubs) that are all that
 * leaves.
 *
 * Seeds of wallets the vault creates (`SeedSource`). By default ('csprng') a 256-bit BIP32 seed comes
 * straight from the CSPRNG: BIP32 takes a 128-512-bit seed "from a (P)RNG", and nobody ever sees a
 * mnemonic of a vault-created wallet: its backup is its cryptogram under the custodians' master key
 * (and the custodians' export file). BIP39's mnemonic and its PBKDF2-HMAC-SHA512 (2,048 rounds) exist to
 * let a human write a seed down and stretch an optional passphrase; here they would add no entropy and
 * cost more than everything else in a wallet creation together. 'bip39' keeps the mnemonic route (256
 * bits of BIP39 entropy → sentence → PBKDF2 seed) for deployments that want it. Imports
 * (bring-your-own-seed) always take a BIP39 mnemonic or a master xprv. Either way the BIP32 master key is
 * HMAC-SHA512("Bitcoin seed", seed), and the secret layout below is the same (the seed length differs).
 *
 * Mnemonics are handled as UTF-8 BYTES end to end (BIP39 checksum check and PBKDF2 seed), never as one JS
 * string: a string cannot be wiped and may linger in the heap. Only single words exist as strings, for the
 * wordlist lookup. A caller who passes a string at the API edge accepts that residual risk.
 */
import { createHash, pbkdf2, pbkdf2Sync, randomFillSync } from 'node:crypto';
import { promisify } from 'node:util';
import { HDKey } from '@scure/bip32';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { StrongroomError } from '../domain/errors.ts';
import { bitcoinNetwork, type BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import { accountXpubsOfNode, fingerprintHex, masterFromSeed, masterFromXprv, wipeKey } from './hd.ts';
import { fingerprintOf, masterNodeFromSeed, privateNode, publicKeyOf, wipeNode, type PrivateNode } from './bip32-native.ts';
import type { CryptogramBinding } from './cryptogram.ts';
import type { WalletXpubs } from './vault.ts';

const pbkdf2Async = promisify(pbkdf2);

/** Where a wallet's seed cryptogram belongs. The object's own key version is 0: a seed is never re-keyed. */
export function walletBinding(tenant: string, walletId: string): CryptogramBinding {
  return { tenant, objectId: walletId, keyVersion: 0, purpose: 'wallet-seed' };
}

/** Plaintext layout sealed into a wallet cryptogram (version 1). */
const SECRET_SEED = 0x01; // [0x01][len][BIP32 seed, 16..64 bytes: 32 from the CSPRNG, 64 from BIP39]
const SECRET_XPRV = 0x02; // [0x02][chain code 32][private key 32]: a depth-0 master key

const WORD_INDEX = new Map(english.map((w, i) => [w, i]));
/** UTF-8 bytes of every word, encoded once (public data). */
const WORD_BYTES = english.map((w) => new TextEncoder().encode(w));
const ENC = new TextEncoder();
const DEC = new TextDecoder('utf-8', { fatal: true });

/** Where the seed of a wallet the vault creates comes from (see the file comment). */
export type SeedSource = 'csprng' | 'bip39';

export const SEED_SOURCES: readonly SeedSource[] = ['csprng', 'bip39'];

/** Bytes of a seed drawn straight from the CSPRNG: 256 bits, the middle of BIP32's 128..512. */
const CSPRNG_SEED_BYTES = 32;

/**
 * A fresh wallet secret. 'bip39' runs PBKDF2 (2,048 rounds, mandated by BIP39) on the libuv pool, off the
 * event loop; 'csprng' is one CSPRNG draw. Worker threads use `newWalletSecretSync`.
 */
export async function generateWalletSecret(source: SeedSource = 'csprng'): Promise<Uint8Array> {
  if (source === 'csprng') return csprngSecret();
  checkSeedSource(source);
  const sentence = freshSentence();
  try {
    return await seedSecret(sentence, new Uint8Array(0));
  } finally {
    sentence.fill(0);
  }
}

/** `generateWalletSecret` on the calling thread (PBKDF2 included): for the vault's worker threads. */
export function newWalletSecretSync(source: SeedSource): Uint8Array {
  if (source === 'csprng') return csprngSecret();
  checkSeedSource(source);
  const sentence = freshSentence();
  const salt = ENC.encode('mnemonic');
  try {
    return seedLayout(pbkdf2Sync(sentence, salt, 2048, 64, 'sha512'));
  } finally {
    sentence.fill(0);
  }
}

function csprngSecret(): Uint8Array {
  const out = new Uint8Array(2 + CSPRNG_SEED_BYTES);
  out[0] = SECRET_SEED;
  out[1] = CSPRNG_SEED_BYTES;
  randomFillSync(out, 2, CSPRNG_SEED_BYTES);
  return out;
}

/** 256 bits of CSPRNG entropy as a BIP39 sentence (bytes); the caller wipes it. */
function freshSentence(): Uint8Array {
  const entropy = randomFillSync(new Uint8Array(32));
  try {
    return sentenceFromEntropy(entropy);
  } finally {
    entropy.fill(0);
  }
}

export function checkSeedSource(source: unknown): asserts source is SeedSource {
  if (!SEED_SOURCES.includes(source as SeedSource)) {
    throw new StrongroomError('E_VALIDATION', 'the seed source must be csprng or bip39', { details: { parameter: 'seeds' } });
  }
}

/** The wallet secret of a BIP39 mnemonic (+ optional passphrase), after checking words and checksum. */
export async function secretFromMnemonic(mnemonic: Uint8Array, passphrase: Uint8Array): Promise<Uint8Array> {
  const sentence = normalizeMnemonic(mnemonic);
  try {
    return await seedSecret(sentence, passphrase);
  } finally {
    sentence.fill(0);
  }
}

/** The wallet secret of a master extended private key (base58 `xprv…`/`tprv…`, depth 0). */
export function secretFromXprv(xprv: string): Uint8Array {
  const key = masterFromXprv(xprv);
  try {
    const out = new Uint8Array(65);
    out[0] = SECRET_XPRV;
    out.set(key.chainCode!, 1);
    out.set(key.privateKey!, 33);
    return out;
  } finally {
    wipeKey(key);
  }
}

/** The BIP32 master key of a wallet secret. The caller wipes it (`wipeKey`). */
export function masterOfSecret(secret: Uint8Array, network: BitcoinNetworkName): HDKey {
  const kind = secret[0];
  if (kind === SECRET_SEED && secret.length >= 18 && secret.length === 2 + secret[1]!) {
    return masterFromSeed(secret.subarray(2), network);
  }
  if (kind === SECRET_XPRV && secret.length === 65) {
    return new HDKey({
      versions: bitcoinNetwork(network).bip32,
      chainCode: secret.slice(1, 33),
      privateKey: secret.slice(33, 65),
    });
  }
  throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the wallet secret has an unknown layout');
}

export interface WalletPublicInfo {
  fingerprint: string;
  xpubs: WalletXpubs;
}

/**
 * Fingerprint and account xpubs: everything about a wallet that may leave the vault. Derived natively
 * (bip32-native.ts); equal to @scure/bip32's result (tests check it on vectors and random secrets).
 */
export function publicInfoOfSecret(secret: Uint8Array, network: BitcoinNetworkName): WalletPublicInfo {
  const master = masterNodeOfSecret(secret);
  try {
    const a = accountXpubsOfNode(master, network);
    return { fingerprint: a.masterFingerprint, xpubs: { bip84: a.bip84.xpub, bip86: a.bip86.xpub, bip44eth: a.bip44eth.xpub } };
  } finally {
    wipeNode(master);
  }
}

/**
 * The BIP32 master fingerprint (8 hex) of a wallet secret, computed with libsecp256k1 and node:crypto:
 * HMAC-SHA512("Bitcoin seed", seed) → master key → compressed public key → HASH160, first 4 bytes.
 * Equal to `publicInfoOfSecret(...).fingerprint` (a test checks it); used where millions are needed.
 */
export function fingerprintOfSecret(secret: Uint8Array): string {
  const key = masterKeyOfSecret(secret);
  try {
    return fingerprintOfMasterKey(key);
  } finally {
    key.fill(0);
  }
}

/**
 * The BIP32 master private key (32 bytes) of a wallet secret, without the chain code: what a fingerprint
 * is computed from. The caller wipes it.
 */
export function masterKeyOfSecret(secret: Uint8Array): Uint8Array {
  const master = masterNodeOfSecret(secret);
  const key = Uint8Array.from(master.privateKey);
  wipeNode(master);
  return key;
}

/** The BIP32 fingerprint (8 hex) of a master private key: HASH160 of its compressed public key, 4 bytes. */
export function fingerprintOfMasterKey(privateKey: Uint8Array): string {
  return fingerprintHex(fingerprintOf(publicKeyOf(privateKey)));
}

/** The BIP32 master fingerprint of a wallet secret as an unsigned 32-bit integer (rewrap compares these). */
export function fingerprintNumberOfSecret(secret: Uint8Array): number {
  const key = masterKeyOfSecret(secret);
  try {
    return fingerprintOf(publicKeyOf(key));
  } finally {
    key.fill(0);
  }
}

/** The native BIP32 master node of a wallet secret; the caller wipes it (`wipeNode`). */
export function masterNodeOfSecret(secret: Uint8Array): PrivateNode {
  const kind = secret[0];
  if (kind === SECRET_SEED && secret.length >= 18 && secret.length === 2 + secret[1]!) {
    return masterNodeFromSeed(secret.subarray(2));
  }
  if (kind === SECRET_XPRV && secret.length === 65) {
    return privateNode({ depth: 0, index: 0, parentFingerprint: 0, chainCode: secret.subarray(1, 33), privateKey: secret.subarray(33, 65) });
  }
  throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'the wallet secret has an unknown layout');
}

/**
 * UTF-8 bytes of a value given as bytes or string (strings only at the API edge; they cannot be wiped).
 * Strings are NFKD-normalised as BIP39 requires; bytes must already be.
 */
export function utf8Bytes(value: Uint8Array | string | undefined, parameter: string): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (typeof value === 'string') return ENC.encode(value.normalize('NFKD'));
  throw new StrongroomError('E_VALIDATION', `${parameter} must be bytes or a string`, { details: { parameter } });
}

// ---- BIP39 over bytes ----

async function seedSecret(sentence: Uint8Array, passphrase: Uint8Array): Promise<Uint8Array> {
  // BIP39 salt: "mnemonic" || passphrase (NFKD). We accept only ASCII passphrases as bytes here, where NFKD
  // is the identity; anything else must be normalised by the caller before it becomes bytes.
  const salt = new Uint8Array(8 + passphrase.length);
  salt.set(ENC.encode('mnemonic'), 0);
  salt.set(passphrase, 8);
  const seed = await pbkdf2Async(sentence, salt, 2048, 64, 'sha512');
  salt.fill(0);
  return seedLayout(seed);
}

/** [0x01][len][seed]; wipes `seed`. */
function seedLayout(seed: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + seed.length);
  out[0] = SECRET_SEED;
  out[1] = seed.length;
  out.set(seed, 2);
  seed.fill(0);
  return out;
}

function sentenceFromEntropy(entropy: Uint8Array): Uint8Array {
  const checksumBits = entropy.length / 4;
  const hash = createHash('sha256').update(entropy).digest();
  const words = (entropy.length * 8 + checksumBits) / 11;
  const parts: Uint8Array[] = [];
  let length = -1;
  for (let w = 0; w < words; w++) {
    let index = 0;
    for (let b = 0; b < 11; b++) {
      const bit = w * 11 + b;
      const byte = bit < entropy.length * 8 ? entropy[bit >> 3]! : hash[(bit - entropy.length * 8) >> 3]!;
      index = (index << 1) | ((byte >> (7 - (bit & 7))) & 1);
    }
    const word = WORD_BYTES[index]!;
    parts.push(word);
    length += word.length + 1;
  }
  hash.fill(0);
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    if (at > 0) out[at++] = 0x20;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Checks a mnemonic given as bytes (words, checksum) and returns its canonical sentence: lower-case words
 * joined by single spaces. Errors never include the words.
 */
function normalizeMnemonic(mnemonic: Uint8Array): Uint8Array {
  if (!(mnemonic instanceof Uint8Array) || mnemonic.length > 1024) throw invalidMnemonic('mnemonic must be bytes');
  const indices: number[] = [];
  let start = -1;
  for (let i = 0; i <= mnemonic.length; i++) {
    const c = i < mnemonic.length ? mnemonic[i]! : 0x20;
    const space = c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
    if (!space && (c < 0x41 || c > 0x7a || (c > 0x5a && c < 0x61))) {
      throw invalidMnemonic('mnemonic must be English BIP39 words (ASCII letters and spaces)');
    }
    if (space && start >= 0) {
      const word = DEC.decode(mnemonic.subarray(start, i)).toLowerCase();
      const index = WORD_INDEX.get(word);
      if (index === undefined) throw invalidMnemonic('mnemonic has a word that is not in the BIP39 English list');
      indices.push(index);
      start = -1;
    } else if (!space && start < 0) start = i;
  }
  if (![12, 15, 18, 21, 24].includes(indices.length)) {
    throw invalidMnemonic(`a mnemonic has 12, 15, 18, 21 or 24 words, not ${indices.length}`);
  }
  const entropyBytes = (indices.length * 11 * 32) / 33 / 8;
  const bits = new Uint8Array(Math.ceil((indices.length * 11) / 8));
  indices.forEach((index, w) => {
    for (let b = 0; b < 11; b++) {
      if ((index >> (10 - b)) & 1) {
        const bit = w * 11 + b;
        bits[bit >> 3]! |= 0x80 >> (bit & 7);
      }
    }
  });
  const entropy = bits.slice(0, entropyBytes);
  // Checksum: the bits after the entropy must equal the first bits of SHA-256(entropy).
  const hash = createHash('sha256').update(entropy).digest();
  let diff = 0;
  for (let b = 0; b < indices.length * 11 - entropyBytes * 8; b++) {
    const bit = entropyBytes * 8 + b;
    diff |= ((bits[bit >> 3]! >> (7 - (bit & 7))) & 1) ^ ((hash[b >> 3]! >> (7 - (b & 7))) & 1);
  }
  indices.fill(0);
  bits.fill(0);
  hash.fill(0);
  if (diff !== 0) {
    entropy.fill(0);
    throw invalidMnemonic('mnemonic checksum does not match');
  }
  const sentence = sentenceFromEntropy(entropy);
  entropy.fill(0);
  return sentence;
}

function invalidMnemonic(message: string): StrongroomError {
  return new StrongroomError('E_KEY_MATERIAL_INVALID', message, { details: { parameter: 'mnemonic' } });
}
