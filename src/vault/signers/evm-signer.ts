/**
 * The trusted half of an EVM withdrawal. From the unsigned EIP-1559 payload alone it re-derives recipient,
 * asset, amount, fee and chain id (decoding ERC-20 `transfer(address,uint256)` calldata), compares them with
 * the approved intent, and only then signs keccak256(payload) with libsecp256k1 (native addon: RFC 6979,
 * low-S), assembling the signed transaction with ethers' serialisation.
 *
 * Any mismatch throws `E_EVIDENCE_INVALID` naming the field, before a private key is derived. The private key
 * is derived for this one signature and wiped right after.
 */
import { Signature, Transaction } from 'ethers';
import { HDKey } from '@scure/bip32';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { parseEvmAddress, toChecksumAddress, type EvmAddress } from '../../chains/evm/address.ts';
import { parseUnsignedEvmTx, summarizeParsedEvmTx, type EvmTxSummary } from '../../chains/evm/tx.ts';
import { derivePrivatePath, wipeNode, type PrivateNode, type PublicKeyMemo } from '../bip32-native.ts';
import { derivePrivateKey, parsePath } from '../hd.ts';
import { ecdsaRecoverDigest, ecdsaSignDigest, publicKeyOf } from './libsecp256k1.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { evidenceInvalid, type EvmTransferIntent } from './intent.ts';

export interface SignEvmParameters {
  /**
   * The wallet's master key (vault-internal), as an HDKey or a native node (bip32-native.ts, which spares
   * the pure-JavaScript public key an HDKey computes). Not wiped here: the caller owns it.
   */
  readonly master: HDKey | PrivateNode;
  /**
   * Public keys already derived below this same `master` (bip32-native.ts `PublicKeyMemo`), kept by a caller
   * that signs for one wallet again and again; filled here. A wrong entry cannot yield a signature: the
   * signature must recover to the public key of the address it is made for.
   */
  readonly publicKeys?: PublicKeyMemo;
  /** 0x02-prefixed unsigned EIP-1559 serialisation (the stored payload). */
  readonly unsignedTx: string;
  readonly intent: EvmTransferIntent;
}

export interface SignEvmReturnType {
  /** Signed raw transaction, 0x-hex, ready for eth_sendRawTransaction. */
  readonly rawTx: `0x${string}`;
  readonly hash: `0x${string}`;
  readonly from: EvmAddress;
  readonly summary: EvmTxSummary;
}

export function signEvmTransaction({ master, unsignedTx, intent, publicKeys }: SignEvmParameters): SignEvmReturnType {
  if (intent.chain !== 'ethereum')
    throw evidenceInvalid('chain', `intent is for chain ${String(intent.chain)}, not an EVM chain`);
  const isNative = intent.asset === 'ETH';
  let summary: EvmTxSummary;
  let tx: Transaction;
  try {
    // Parsed once, here: the same object is signed below. Plain transfers carry no calldata; token transfers
    // may carry `transfer` only.
    const parsed = parseUnsignedEvmTx(unsignedTx);
    tx = parsed.tx;
    summary = summarizeParsedEvmTx(parsed.request, isNative ? [] : ['transfer']);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    // A call other than the one approved is an asset mismatch: the payload does something else.
    throw evidenceInvalid(
      code === 'E_POLICY_DENIED' ? 'asset' : 'payload',
      'unsigned payload does not decode to the approved kind of transfer',
      {},
      cause,
    );
  }
  const r = summary.request;
  if (r.chainId !== intent.chainId) {
    throw evidenceInvalid('chainId', `payload is for chain id ${r.chainId}, approved ${intent.chainId}`, {
      payload: r.chainId.toString(),
      approved: intent.chainId.toString(),
    });
  }
  const destination = parseIntentAddress(intent.destination, 'destination');
  if (isNative) {
    if (summary.call)
      throw evidenceInvalid('asset', 'payload calls a contract; the intent is a plain ETH transfer');
    if (r.to !== destination)
      throw evidenceInvalid('destination', `payload pays ${r.to}, approved ${destination}`);
    if (r.value !== intent.amount)
      throw evidenceInvalid('amount', `payload sends ${r.value} wei, approved ${intent.amount}`);
  } else {
    const asset = intent.asset as Exclude<EvmTransferIntent['asset'], 'ETH'>;
    const contract = parseIntentAddress(asset.contract, 'asset');
    if (r.to !== contract)
      throw evidenceInvalid(
        'asset',
        `payload calls ${r.to}, approved token contract ${contract} (${asset.symbol})`,
      );
    if (!summary.call || summary.call.name !== 'transfer')
      throw evidenceInvalid('asset', 'payload is not an ERC-20 transfer');
    if (r.value !== 0n) throw evidenceInvalid('amount', 'a token transfer must not carry ETH value');
    if (summary.call.to !== destination)
      throw evidenceInvalid(
        'destination',
        `payload transfers to ${summary.call.to}, approved ${destination}`,
      );
    if (summary.call.amount !== intent.amount) {
      throw evidenceInvalid(
        'amount',
        `payload transfers ${summary.call.amount} token units, approved ${intent.amount}`,
      );
    }
  }
  if (summary.maxFee > intent.feeCap) {
    throw evidenceInvalid(
      'fee',
      `worst-case fee ${summary.maxFee} wei exceeds the approved cap ${intent.feeCap}`,
      {
        payload: summary.maxFee.toString(),
        approved: intent.feeCap.toString(),
      },
    );
  }

  const account = intent.account ?? 0;
  const index = intent.addressIndex;
  if (
    !Number.isSafeInteger(index) ||
    index < 0 ||
    index >= 0x80000000 ||
    !Number.isSafeInteger(account) ||
    account < 0 ||
    account >= 0x80000000
  ) {
    throw evidenceInvalid('payload', 'address index or account out of range');
  }
  // The payload is the canonical unsigned serialisation (parseUnsignedEvmTx checked the round trip), so its
  // keccak256 is the transaction's signing hash (ethers' `unsignedHash`), without serialising it again.
  const digest = keccak_256(hexToBytes(unsignedTx.slice(2)));
  const path = `m/44'/60'/${account}'/0/${index}`;
  const memo = master instanceof HDKey ? undefined : publicKeys;
  const priv = deriveKey(master, path, memo);
  let publicKey: Uint8Array;
  let sig: { signature: Uint8Array; recid: number };
  try {
    publicKey = memo?.get(`${path} uncompressed`) ?? publicKeyOf(priv, false);
    memo?.set(`${path} uncompressed`, publicKey);
    sig = ecdsaSignDigest(digest, priv);
  } finally {
    priv.fill(0);
  }
  const from = addressOf(publicKey);
  tx.signature = Signature.from({
    r: '0x' + bytesToHex(sig.signature.subarray(0, 32)),
    s: '0x' + bytesToHex(sig.signature.subarray(32)),
    yParity: (sig.recid & 1) as 0 | 1,
  });
  // The sender recovered from the signature as the transaction carries it (r, s, y-parity) must be the key we
  // meant to sign with. Recovered with libsecp256k1: ethers' own recovery (tx.from) is pure JavaScript.
  const carried = hexToBytes(tx.signature.r.slice(2) + tx.signature.s.slice(2));
  const recovered = ecdsaRecoverDigest(carried, tx.signature.yParity, digest);
  if (!recovered || !sameBytes(recovered, publicKey)) throw evidenceInvalid('payload', 'signature does not recover to the signing address');
  const rawTx = tx.serialized as `0x${string}`;
  // ethers' `hash` would serialise the transaction once more.
  return { rawTx, hash: `0x${bytesToHex(keccak_256(hexToBytes(rawTx.slice(2))))}`, from, summary };
}

/** The private key at `path` below the master; the caller wipes it. */
function deriveKey(master: HDKey | PrivateNode, path: string, memo: PublicKeyMemo | undefined): Uint8Array {
  if (master instanceof HDKey) return derivePrivateKey(master, path);
  if (master?.depth !== 0 || master.privateKey?.length !== 32 || master.chainCode?.length !== 32) {
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'expected a master key with its private key', { details: { parameter: 'master' } });
  }
  const child = derivePrivatePath(master, parsePath(path), memo);
  try {
    return Uint8Array.from(child.privateKey);
  } finally {
    wipeNode(child);
  }
}

/** Addresses of recently used public keys (public data: the same sending address signs again and again). */
const addresses = new Map<string, EvmAddress>();

/** EIP-55 address of an uncompressed (65-byte) public key. */
function addressOf(uncompressed: Uint8Array): EvmAddress {
  const key = bytesToHex(uncompressed);
  let address = addresses.get(key);
  if (address === undefined) {
    address = toChecksumAddress(keccak_256(uncompressed.subarray(1)).subarray(12));
    if (addresses.size >= 1024) addresses.clear();
    addresses.set(key, address);
  }
  return address;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseIntentAddress(address: unknown, field: 'destination' | 'asset'): EvmAddress {
  try {
    return parseEvmAddress(address);
  } catch (cause) {
    throw evidenceInvalid(field, `intent ${field} is not a valid EVM address`, {}, cause);
  }
}
