/**
 * The trusted half of a Bitcoin withdrawal. Given the unsigned PSBT and the approved intent, it re-derives
 * from the PSBT alone what the transaction does (outputs, amounts, fee, change), checks every input and the
 * change against keys it derives itself from the wallet's master key, compares all of it with the intent, and
 * only then signs: P2WPKH inputs with a BIP143 sighash (SIGHASH_ALL), P2TR key-path inputs with a BIP341
 * sighash (SIGHASH_DEFAULT), through @scure/btc-signer (RFC 6979, low-S ECDSA; BIP340 Schnorr).
 *
 * Any mismatch throws `E_EVIDENCE_INVALID` with `details.field`, before any key is derived for signing.
 * Private keys are derived per input and wiped right after use.
 *
 * Known limit: a segwit v0 sighash commits only to the amount of the input it signs, so a payload whose
 * witnessUtxo amounts lie could overstate inputs (the 2020 "segwit fee" issue). Exactly-once signing per
 * request bounds this; requiring nonWitnessUtxo for v0 inputs would close it (left for the node adapter,
 * which has the previous transactions).
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { p2tr, p2wpkh, SigHash } from '@scure/btc-signer';
import type { HDKey } from '@scure/bip32';
import { parseBitcoinAddress } from '../../chains/bitcoin/address.ts';
import { bitcoinNetwork, type BitcoinNetwork } from '../../chains/bitcoin/network.ts';
import {
  parsePsbt,
  summarizePsbt,
  type KeyOrigin,
  type PsbtSummary,
} from '../../chains/bitcoin/psbt-summary.ts';
import { derivePrivateKey, derivePublicKey, fingerprintHex, formatPath } from '../hd.ts';
import { evidenceInvalid, type BitcoinTransferIntent } from './intent.ts';

export interface SignBitcoinParameters {
  /** The wallet's master key (vault-internal; never leaves src/vault). Not wiped here: the caller owns it. */
  readonly master: HDKey;
  readonly psbt: Uint8Array;
  readonly intent: BitcoinTransferIntent;
}

export interface SignBitcoinReturnType {
  /** Fully signed raw transaction, ready to broadcast. */
  readonly rawTx: Uint8Array;
  readonly txid: string;
  /** Recomputed from the payload by the vault, not taken from the builder. */
  readonly summary: PsbtSummary;
}

const H = 0x80000000;
const PURPOSE = { p2wpkh: 84 + H, p2tr: 86 + H } as const;

export function signBitcoinPsbt({ master, psbt, intent }: SignBitcoinParameters): SignBitcoinReturnType {
  if (intent.chain !== 'bitcoin')
    throw evidenceInvalid('chain', `intent is for chain ${String(intent.chain)}, not bitcoin`);
  if (intent.asset !== 'BTC')
    throw evidenceInvalid('asset', `intent asset ${String(intent.asset)} is not BTC`);
  let net: BitcoinNetwork;
  try {
    net = bitcoinNetwork(intent.network);
  } catch (cause) {
    throw evidenceInvalid('network', 'unknown bitcoin network', {}, cause);
  }
  const account = intent.account ?? 0;
  let destinationScript: string;
  try {
    destinationScript = bytesToHex(parseBitcoinAddress(intent.destination, net).script);
  } catch (cause) {
    throw evidenceInvalid(
      'destination',
      'intent destination is not a valid address on this network',
      {},
      cause,
    );
  }

  let tx;
  let summary: PsbtSummary;
  try {
    tx = parsePsbt(psbt);
    summary = summarizePsbt(tx, net);
  } catch (cause) {
    throw evidenceInvalid('payload', 'unsigned payload is not a usable PSBT', {}, cause);
  }
  const ourFingerprint = fingerprintHex(master.fingerprint);

  // Inputs: every one must be ours, with a key we derive ourselves matching the script it spends.
  const inputKeys: { path: string; kind: 'p2wpkh' | 'p2tr' }[] = [];
  for (const [i, input] of summary.inputs.entries()) {
    if (input.kind === 'other')
      throw evidenceInvalid('inputs', `input ${i} spends a script type we do not sign`, { input: i });
    const path = ownPath(input.origins, ourFingerprint, input.kind, net.coinType, account, [0, 1]);
    if (!path || ownScript(master, path, input.kind, net) !== input.script) {
      throw evidenceInvalid('inputs', `input ${i} is not spendable by this wallet`, { input: i });
    }
    const allowed: number[] = input.kind === 'p2wpkh' ? [SigHash.ALL] : [SigHash.DEFAULT, SigHash.ALL];
    if (input.sighashType !== undefined && !allowed.includes(input.sighashType)) {
      throw evidenceInvalid('sighash', `input ${i} asks for sighash type ${input.sighashType}`, { input: i });
    }
    inputKeys.push({ path, kind: input.kind });
  }

  // Outputs: exactly one pays the destination the approved amount; every other one is our own change.
  const toDestination = summary.outputs.filter((o) => o.script === destinationScript);
  if (toDestination.length === 0)
    throw evidenceInvalid('destination', 'no output pays the approved destination');
  if (toDestination.length > 1)
    throw evidenceInvalid('destination', 'more than one output pays the destination');
  const paid = toDestination[0]!.amount;
  if (paid !== intent.amount) {
    throw evidenceInvalid('amount', `payload pays ${paid} sat, approved ${intent.amount}`, {
      payload: paid.toString(),
      approved: intent.amount.toString(),
    });
  }
  const others = summary.outputs.filter((o) => o.script !== destinationScript);
  if (others.length > 0 && intent.changePolicy !== 'same-wallet')
    throw evidenceInvalid('change', 'payload has a change output; the intent allows none');
  if (others.length > 1) throw evidenceInvalid('change', 'payload has more than one change output');
  for (const o of others) {
    const kind = o.script.startsWith('5120') ? 'p2tr' : 'p2wpkh';
    const path = ownPath(o.origins, ourFingerprint, kind, net.coinType, account, [1]);
    if (!path || ownScript(master, path, kind, net) !== o.script) {
      throw evidenceInvalid(
        'change',
        `output ${o.index} (${o.address ?? 'non-standard'}) is not an internal address of this wallet`,
        { output: o.index },
      );
    }
  }

  if (summary.fee < 0n) throw evidenceInvalid('fee', 'outputs exceed inputs');
  if (summary.fee > intent.feeCap) {
    throw evidenceInvalid('fee', `fee ${summary.fee} sat exceeds the approved cap ${intent.feeCap}`, {
      payload: summary.fee.toString(),
      approved: intent.feeCap.toString(),
    });
  }

  // Everything matches: sign each input with its own freshly derived key, then wipe it.
  for (const [i, k] of inputKeys.entries()) {
    const priv = derivePrivateKey(master, k.path);
    try {
      tx.signIdx(priv, i, k.kind === 'p2wpkh' ? [SigHash.ALL] : [SigHash.DEFAULT]);
    } finally {
      priv.fill(0);
    }
  }
  tx.finalize();
  return { rawTx: tx.extract(), txid: tx.id, summary };
}

/** The origin path if it is ours: our fingerprint, purpose/coin/account of this wallet, allowed chain. */
function ownPath(
  origins: readonly KeyOrigin[],
  fingerprint: string,
  kind: 'p2wpkh' | 'p2tr',
  coinType: number,
  account: number,
  chains: readonly number[],
): string | undefined {
  for (const o of origins) {
    const [purpose, coin, acct, chain, index, ...rest] = o.path;
    if (
      o.fingerprint === fingerprint &&
      rest.length === 0 &&
      purpose === PURPOSE[kind] &&
      coin === coinType + H &&
      acct === account + H &&
      chain !== undefined &&
      chains.includes(chain) &&
      index !== undefined &&
      index < H
    ) {
      return formatPath(o.path);
    }
  }
  return undefined;
}

function ownScript(master: HDKey, path: string, kind: 'p2wpkh' | 'p2tr', net: BitcoinNetwork): string {
  const pub = derivePublicKey(master, path);
  return bytesToHex(
    kind === 'p2wpkh' ? p2wpkh(pub, net).script : p2tr(pub.subarray(1), undefined, net).script,
  );
}
