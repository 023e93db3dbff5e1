/**
 * Builds the unsigned payload of a Bitcoin withdrawal: a BIP174 PSBT (untrusted side, public data only).
 *
 * Each input carries what the vault needs to find and check its key: the previous output (witnessUtxo,
 * which BIP143/BIP341 sighashes commit to) and the BIP32 origin of its key (bip32Derivation for P2WPKH,
 * tapInternalKey + tapBip32Derivation for P2TR); the change output carries its origin too, so the vault can
 * prove that change goes back to the same wallet. Transactions signal RBF (sequence 0xfffffffd, BIP125) so a
 * stuck withdrawal can be fee-bumped by a replacement spending the same inputs, and set nLockTime to the tip
 * height (anti fee-sniping, as Bitcoin Core does).
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { StrongroomError } from '../../domain/errors.ts';
import { parseBitcoinAddress } from './address.ts';
import { selectCoins } from './coin-selection.ts';
import { bitcoinNetwork, type BitcoinNetwork, type BitcoinNetworkName } from './network.ts';
import { summarizePsbt, type PsbtSummary } from './psbt-summary.ts';
import { dustThreshold, type SpendKind } from './size.ts';

/** BIP125 opt-in replaceability; also enables nLockTime (any sequence < 0xffffffff). */
export const RBF_SEQUENCE = 0xfffffffd;
/** Bitcoin Core's default minimum relay fee rate, sat/vB. */
export const MIN_RELAY_FEE_RATE = 1;

/** An unspent output of our wallet, with the origin of its key (public data). */
export interface WalletUtxo {
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
  /** scriptPubKey of the output, hex or bytes. */
  readonly script: Uint8Array | string;
  readonly kind: SpendKind;
  /** Compressed (33-byte) public key of the child key that owns the output. */
  readonly publicKey: Uint8Array;
  /** Absolute path from the master, e.g. "m/84'/1'/0'/0/7". */
  readonly path: string;
}

export interface ChangeDestination {
  readonly kind: SpendKind;
  readonly publicKey: Uint8Array;
  readonly path: string;
  readonly script: Uint8Array;
}

export interface BuildPsbtParameters {
  readonly network: BitcoinNetworkName | BitcoinNetwork;
  readonly utxos: readonly WalletUtxo[];
  readonly outputs: ReadonlyArray<{ readonly address: string; readonly amount: bigint }>;
  readonly change: ChangeDestination;
  /** Master key fingerprint, 8 hex digits (from the wallet's public data). */
  readonly masterFingerprint: string;
  /** Fee rate suggested by the node, sat/vB. */
  readonly feeRate: number;
  /** Policy floor: the fee rate actually used is max(feeRate, floor, MIN_RELAY_FEE_RATE). */
  readonly feeRateFloor?: number;
  /** Policy cap on the fee rate: refuse to build above it. */
  readonly feeRateCap?: number;
  /** Current chain tip height: becomes nLockTime. */
  readonly tipHeight: number;
  readonly strategy?: 'branch-and-bound' | 'largest-first';
}

export interface BuildPsbtReturnType {
  readonly psbt: Uint8Array;
  readonly selected: readonly WalletUtxo[];
  readonly fee: bigint;
  readonly feeRate: number;
  readonly change: bigint;
  readonly summary: PsbtSummary;
}

export function buildPsbt(p: BuildPsbtParameters): BuildPsbtReturnType {
  const net = bitcoinNetwork(p.network);
  if (!Number.isSafeInteger(p.tipHeight) || p.tipHeight < 0 || p.tipHeight >= 500_000_000) {
    throw invalidParam('tipHeight', 'tipHeight must be a block height (0..499,999,999)');
  }
  const fingerprint = parseFingerprint(p.masterFingerprint);
  const feeRate = Math.max(p.feeRate, p.feeRateFloor ?? 0, MIN_RELAY_FEE_RATE);
  if (!Number.isFinite(feeRate)) throw invalidParam('feeRate', 'feeRate must be a finite number');
  if (p.feeRateCap !== undefined && feeRate > p.feeRateCap) {
    throw invalidParam('feeRate', `fee rate ${feeRate} sat/vB is above the policy cap ${p.feeRateCap}`);
  }
  const outputs = p.outputs.map((o, i) => {
    const parsed = parseBitcoinAddress(o.address, net);
    if (typeof o.amount !== 'bigint' || o.amount < dustThreshold(parsed.script)) {
      throw invalidParam(
        `outputs[${i}].amount`,
        `amount is below the dust threshold (${dustThreshold(parsed.script)} sat)`,
      );
    }
    return { script: parsed.script, amount: o.amount };
  });
  const selection = selectCoins({
    coins: p.utxos,
    outputs: outputs.map((o) => ({ scriptLength: o.script.length, amount: o.amount })),
    changeScript: p.change.script,
    feeRate,
    ...(p.strategy ? { strategy: p.strategy } : {}),
  });

  const tx = new Transaction({ version: 2, lockTime: p.tipHeight });
  for (const u of selection.selected) {
    const script = typeof u.script === 'string' ? hexToBytes(u.script) : u.script;
    const path = pathIndices(u.path);
    const base = {
      txid: u.txid,
      index: u.vout,
      sequence: RBF_SEQUENCE,
      witnessUtxo: { script, amount: u.amount },
    };
    if (u.kind === 'p2wpkh') {
      tx.addInput({ ...base, bip32Derivation: [[u.publicKey, { fingerprint, path }]] });
    } else {
      const xonly = u.publicKey.subarray(1);
      tx.addInput({
        ...base,
        tapInternalKey: xonly,
        tapBip32Derivation: [[xonly, { hashes: [], der: { fingerprint, path } }]],
      });
    }
  }
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.amount });
  if (selection.change > 0n) {
    const path = pathIndices(p.change.path);
    if (p.change.kind === 'p2wpkh') {
      tx.addOutput({
        script: p.change.script,
        amount: selection.change,
        bip32Derivation: [[p.change.publicKey, { fingerprint, path }]],
      });
    } else {
      const xonly = p.change.publicKey.subarray(1);
      tx.addOutput({
        script: p.change.script,
        amount: selection.change,
        tapInternalKey: xonly,
        tapBip32Derivation: [[xonly, { hashes: [], der: { fingerprint, path } }]],
      });
    }
  }
  const psbt = tx.toPSBT();
  return {
    psbt,
    selected: selection.selected,
    fee: selection.fee,
    feeRate,
    change: selection.change,
    summary: summarizePsbt(psbt, net),
  };
}

function parseFingerprint(hex: string): number {
  if (typeof hex !== 'string' || !/^[0-9a-f]{8}$/.test(hex))
    throw invalidParam('masterFingerprint', 'masterFingerprint must be 8 lowercase hex digits');
  return parseInt(hex, 16);
}

function pathIndices(path: string): number[] {
  if (typeof path !== 'string' || !/^m(\/\d{1,10}'?)+$/.test(path))
    throw invalidParam('path', `not a BIP32 path: ${JSON.stringify(path)}`);
  return path
    .split('/')
    .slice(1)
    .map((s) => (s.endsWith("'") ? Number(s.slice(0, -1)) + 0x80000000 : Number(s)));
}

function invalidParam(parameter: string, message: string): StrongroomError {
  return new StrongroomError('E_VALIDATION', message, { details: { parameter } });
}

export interface BumpPsbtReturnType {
  readonly psbt: Uint8Array;
  readonly fee: bigint;
  readonly feeRate: number;
  readonly summary: PsbtSummary;
}

/**
 * A BIP125 replacement of `psbt` that pays `feeRate` (sat/vB): the same inputs and the same payment, the
 * difference taken from the change output (the output carrying the wallet's key origin). The new fee is at
 * least the old fee plus the minimum relay fee for the replacement's size (BIP125 rule 4). A bump that would
 * leave the change below dust is refused (`E_FEE_TOO_HIGH`).
 */
export function bumpPsbtFee(psbt: Uint8Array, network: BitcoinNetworkName | BitcoinNetwork, feeRate: number): BumpPsbtReturnType {
  const net = bitcoinNetwork(network);
  if (!Number.isFinite(feeRate) || feeRate <= 0) throw invalidParam('feeRate', 'feeRate must be a positive number of sat/vB');
  const old = summarizePsbt(psbt, net);
  if (!old.rbf) throw invalidParam('psbt', 'the transaction does not signal replaceability');
  const changeIndex = old.outputs.findIndex((o) => o.origins.length > 0);
  if (changeIndex < 0) throw new StrongroomError('E_FEE_TOO_HIGH', 'the transaction has no change output to pay a higher fee from');
  const target = BigInt(Math.ceil(Math.max(feeRate * old.vsize, Number(old.fee) + MIN_RELAY_FEE_RATE * old.vsize)));
  const tx = Transaction.fromPSBT(psbt);
  const change = tx.getOutput(changeIndex);
  const newChange = change.amount! - (target - old.fee);
  if (newChange < dustThreshold(change.script!)) {
    throw new StrongroomError('E_FEE_TOO_HIGH', 'the change cannot pay the higher fee', { details: { fee: target.toString() } });
  }
  tx.updateOutput(changeIndex, { amount: newChange });
  const out = tx.toPSBT();
  const summary = summarizePsbt(out, net);
  return { psbt: out, fee: summary.fee, feeRate: Number(summary.fee) / summary.vsize, summary };
}
