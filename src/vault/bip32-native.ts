/**
 * BIP32 child key derivation on native code: HMAC-SHA512 from node:crypto and the curve arithmetic from
 * libsecp256k1 (the `secp256k1` addon: `privateKeyTweakAdd`, `publicKeyCreate`, `publicKeyTweakAdd`). No
 * curve math of our own. @scure/bip32 stays the reference: the tests check this file against it on the
 * BIP32 vectors and on random seeds and paths.
 *
 * Why: @scure/bip32 is pure JavaScript and computes a public key at every level (~1 ms each); a wallet's
 * three account xpubs need nine hardened steps, and a hardened step needs no public key at all here.
 *
 * Nodes hold secrets as `Uint8Array`s owned by the caller: `wipeNode` them. Nothing here serialises a
 * private key.
 */
import { createHmac, hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createBase58check } from '@scure/base';
import { StrongroomError } from '../domain/errors.ts';

/** The subset of the `secp256k1` addon used here (its `lib` wrapper validates lengths and types). */
interface Secp256k1Addon {
  privateKeyVerify(privateKey: Uint8Array): boolean;
  /** Adds `tweak` to `privateKey` IN PLACE; throws if the tweak is ≥ n or the sum is zero. */
  privateKeyTweakAdd(privateKey: Uint8Array, tweak: Uint8Array): Uint8Array;
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyTweakAdd(publicKey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
}

// `secp256k1/bindings`, not the package entry, which silently falls back to pure-JS `elliptic`.
const secp = createRequire(import.meta.url)('secp256k1/bindings') as Secp256k1Addon;

export const HARDENED = 0x80000000;
const MASTER_HMAC_KEY = new TextEncoder().encode('Bitcoin seed');

/** An extended private key. `privateKey` and `chainCode` are secrets the caller wipes (`wipeNode`). */
export interface PrivateNode {
  readonly depth: number;
  readonly index: number;
  /** First 4 bytes of HASH160 of the parent's public key, as an unsigned integer (0 for a master). */
  readonly parentFingerprint: number;
  readonly chainCode: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** An extended public key: public data. */
export interface PublicNode {
  readonly depth: number;
  readonly index: number;
  readonly parentFingerprint: number;
  readonly chainCode: Uint8Array;
  /** Compressed, 33 bytes. */
  readonly publicKey: Uint8Array;
}

/** BIP32 master key: I = HMAC-SHA512("Bitcoin seed", seed); key = IL, chain code = IR. */
export function masterNodeFromSeed(seed: Uint8Array): PrivateNode {
  if (!(seed instanceof Uint8Array) || seed.length < 16 || seed.length > 64) {
    throw keyMaterialInvalid('seed must be 16 to 64 bytes', 'seed');
  }
  const i = createHmac('sha512', MASTER_HMAC_KEY).update(seed).digest();
  try {
    const privateKey = Uint8Array.from(i.subarray(0, 32));
    if (!secp.privateKeyVerify(privateKey)) {
      privateKey.fill(0);
      // BIP32: a master secret of 0 or ≥ n is invalid (probability < 2^-127).
      throw keyMaterialInvalid('seed does not yield a valid master key', 'seed');
    }
    return { depth: 0, index: 0, parentFingerprint: 0, chainCode: Uint8Array.from(i.subarray(32)), privateKey };
  } finally {
    i.fill(0);
  }
}

/** A node from its raw parts (e.g. an imported master xprv). Copies both secrets; checks the key. */
export function privateNode(parts: PrivateNode): PrivateNode {
  if (parts.chainCode?.length !== 32 || parts.privateKey?.length !== 32 || !secp.privateKeyVerify(parts.privateKey)) {
    throw keyMaterialInvalid('not a valid extended private key', 'privateKey');
  }
  return { ...parts, chainCode: Uint8Array.from(parts.chainCode), privateKey: Uint8Array.from(parts.privateKey) };
}

/**
 * CKDpriv. Hardened (index ≥ 2^31): HMAC-SHA512(c, 0x00 || k || index); normal: HMAC-SHA512(c, K || index).
 * Child key = IL + k (mod n), chain code = IR. `parentPublicKey` saves recomputing it when the caller has it.
 * Like @scure/bip32, an IL ≥ n or a zero child (probability < 2^-127) throws instead of skipping the index.
 */
export function childPrivate(parent: PrivateNode, index: number, parentPublicKey?: Uint8Array): PrivateNode {
  checkIndex(index);
  const parentPub = parentPublicKey ?? secp.publicKeyCreate(parent.privateKey, true);
  return { ...step(parent, index, parentPub), depth: parent.depth + 1, index, parentFingerprint: fingerprintOf(parentPub) };
}

/**
 * Public keys of nodes below one master, by path (indices joined with '/'; '' is the master itself): public
 * data a caller may keep for a master it derives from again and again, so that repeated derivations skip
 * their point multiplications. One memo belongs to one master: never share it between two.
 */
export type PublicKeyMemo = Map<string, Uint8Array>;

/**
 * Derives `indices` below `node`, wiping every intermediate node; `node` itself is left alone. Hardened
 * steps need no public key, so only the last step's parent costs a point multiplication (for the
 * fingerprint), plus one per non-hardened step; none of them when `memo` (of this `node`) already has them.
 */
export function derivePrivatePath(node: PrivateNode, indices: readonly number[], memo?: PublicKeyMemo): PrivateNode {
  if (indices.length === 0) throw new StrongroomError('E_VALIDATION', 'path must name a child key', { details: { parameter: 'path' } });
  indices.forEach(checkIndex);
  const publicAt = (key: Pick<PrivateNode, 'privateKey'>, depth: number): Uint8Array => {
    if (!memo) return secp.publicKeyCreate(key.privateKey, true);
    const id = indices.slice(0, depth).join('/');
    let pub = memo.get(id);
    if (pub === undefined) memo.set(id, (pub = secp.publicKeyCreate(key.privateKey, true)));
    return pub;
  };
  let key: Pick<PrivateNode, 'chainCode' | 'privateKey'> = node;
  for (let n = 0; n < indices.length - 1; n++) {
    const index = indices[n]!;
    const next = step(key, index, index >= HARDENED ? undefined : publicAt(key, n));
    if (key !== node) wipeParts(key);
    key = next;
  }
  const parent = { ...key, depth: node.depth + indices.length - 1, index: 0, parentFingerprint: 0 };
  const child = childPrivate(parent, indices[indices.length - 1]!, memo ? publicAt(key, indices.length - 1) : undefined);
  if (key !== node) wipeParts(key);
  return child;
}

/** CKDpub: non-hardened only. Child point = point(IL) + K, chain code = IR. */
export function childPublic(parent: PublicNode, index: number): PublicNode {
  checkIndex(index);
  if (index >= HARDENED) {
    throw new StrongroomError('E_VALIDATION', 'a hardened child cannot be derived from a public key', { details: { parameter: 'index' } });
  }
  const data = new Uint8Array(37);
  data.set(parent.publicKey, 0);
  new DataView(data.buffer).setUint32(33, index, false);
  const i = createHmac('sha512', parent.chainCode).update(data).digest();
  let publicKey: Uint8Array;
  try {
    publicKey = secp.publicKeyTweakAdd(parent.publicKey, i.subarray(0, 32), true);
  } catch (cause) {
    throw keyMaterialInvalid('this index yields an invalid child key (BIP32: use the next index)', 'index', cause);
  }
  return {
    depth: parent.depth + 1,
    index,
    parentFingerprint: fingerprintOf(parent.publicKey),
    chainCode: Uint8Array.from(i.subarray(32)),
    publicKey,
  };
}

/** The public half of a private node (the secret is not copied). */
export function neuter(node: PrivateNode): PublicNode {
  return {
    depth: node.depth,
    index: node.index,
    parentFingerprint: node.parentFingerprint,
    chainCode: Uint8Array.from(node.chainCode),
    publicKey: publicKeyOf(node.privateKey),
  };
}

/** Compressed public key (33 bytes) of a private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return secp.publicKeyCreate(privateKey, true);
}

/** BIP32 key identifier: RIPEMD160(SHA256(public key)). */
export function hash160(publicKey: Uint8Array): Buffer {
  // One-shot `hash` (no Hash objects): this runs several times per wallet created.
  return hash('ripemd160', hash('sha256', publicKey, 'buffer'), 'buffer');
}

/** BIP32 fingerprint: the first 4 bytes of HASH160, as an unsigned integer. */
export function fingerprintOf(publicKey: Uint8Array): number {
  return hash160(publicKey).readUInt32BE(0);
}

const base58check = createBase58check((bytes: Uint8Array) => hash('sha256', bytes, 'buffer'));

/** Serialises an extended PUBLIC key with the given version bytes (e.g. 0x0488b21e → xpub…). */
export function serializeXpub(node: PublicNode, version: number): string {
  if (node.depth > 255) throw new StrongroomError('E_VALIDATION', 'an extended key is at most 255 levels deep', { details: { parameter: 'depth' } });
  const out = new Uint8Array(78);
  const view = new DataView(out.buffer);
  view.setUint32(0, version, false);
  out[4] = node.depth;
  view.setUint32(5, node.parentFingerprint, false);
  view.setUint32(9, node.index, false);
  out.set(node.chainCode, 13);
  out.set(node.publicKey, 45);
  return base58check.encode(out);
}

/** Wipes a node's secrets. Idempotent. */
export function wipeNode(node: PrivateNode): void {
  wipeParts(node);
}

function wipeParts(node: Pick<PrivateNode, 'chainCode' | 'privateKey'>): void {
  node.privateKey.fill(0);
  node.chainCode.fill(0);
}

/** One CKDpriv step: the child's key and chain code. `parentPub` is needed for a non-hardened index only. */
function step(
  parent: Pick<PrivateNode, 'chainCode' | 'privateKey'>,
  index: number,
  parentPub: Uint8Array | undefined,
): { chainCode: Uint8Array; privateKey: Uint8Array } {
  const data = new Uint8Array(37);
  if (index >= HARDENED) data.set(parent.privateKey, 1);
  else data.set(parentPub!, 0);
  new DataView(data.buffer).setUint32(33, index, false);
  const i = createHmac('sha512', parent.chainCode).update(data).digest();
  data.fill(0);
  const privateKey = Uint8Array.from(parent.privateKey);
  try {
    secp.privateKeyTweakAdd(privateKey, i.subarray(0, 32));
  } catch (cause) {
    privateKey.fill(0);
    throw keyMaterialInvalid('this index yields an invalid child key (BIP32: use the next index)', 'index', cause);
  } finally {
    i.fill(0, 0, 32);
  }
  const chainCode = Uint8Array.from(i.subarray(32));
  i.fill(0);
  return { chainCode, privateKey };
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index > 0xffffffff) {
    throw new StrongroomError('E_VALIDATION', 'a BIP32 index is an integer in 0..2^32-1', { details: { parameter: 'index' } });
  }
}

function keyMaterialInvalid(message: string, parameter: string, cause?: unknown): StrongroomError {
  return new StrongroomError('E_KEY_MATERIAL_INVALID', message, { details: { parameter }, cause });
}
