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
import type { HDKey } from '@scure/bip32';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { addressFromPublicKey, parseEvmAddress, type EvmAddress } from '../../chains/evm/address.ts';
import { summarizeEvmTx, type EvmTxSummary } from '../../chains/evm/tx.ts';
import { derivePrivateKey } from '../hd.ts';
import { ecdsaSignDigest, publicKeyOf } from './libsecp256k1.ts';
import { evidenceInvalid, type EvmTransferIntent } from './intent.ts';

export interface SignEvmParameters {
  /** The wallet's master key (vault-internal). Not wiped here: the caller owns it. */
  readonly master: HDKey;
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

export function signEvmTransaction({ master, unsignedTx, intent }: SignEvmParameters): SignEvmReturnType {
  if (intent.chain !== 'ethereum')
    throw evidenceInvalid('chain', `intent is for chain ${String(intent.chain)}, not an EVM chain`);
  const isNative = intent.asset === 'ETH';
  let summary: EvmTxSummary;
  try {
    // Plain transfers carry no calldata; token transfers may carry `transfer` only.
    summary = summarizeEvmTx(unsignedTx, isNative ? [] : ['transfer']);
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
  const tx = Transaction.from(unsignedTx);
  const digest = hexToBytes(tx.unsignedHash.slice(2));
  const priv = derivePrivateKey(master, `m/44'/60'/${account}'/0/${index}`);
  let from: EvmAddress;
  let sig: { signature: Uint8Array; recid: number };
  try {
    from = addressFromPublicKey(publicKeyOf(priv));
    sig = ecdsaSignDigest(digest, priv);
  } finally {
    priv.fill(0);
  }
  tx.signature = Signature.from({
    r: '0x' + bytesToHex(sig.signature.subarray(0, 32)),
    s: '0x' + bytesToHex(sig.signature.subarray(32)),
    yParity: (sig.recid & 1) as 0 | 1,
  });
  // ethers recovers the sender from the signature: it must be the key we meant to sign with.
  if (tx.from !== from) throw evidenceInvalid('payload', 'signature does not recover to the signing address');
  return { rawTx: tx.serialized as `0x${string}`, hash: tx.hash as `0x${string}`, from, summary };
}

function parseIntentAddress(address: unknown, field: 'destination' | 'asset'): EvmAddress {
  try {
    return parseEvmAddress(address);
  } catch (cause) {
    throw evidenceInvalid(field, `intent ${field} is not a valid EVM address`, {}, cause);
  }
}
