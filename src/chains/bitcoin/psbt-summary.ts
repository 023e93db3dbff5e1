/**
 * What a PSBT actually does, read from its bytes alone: inputs with their amounts and owners' derivation
 * paths, outputs with their addresses, the fee, RBF and lock time, and one line of text for approvers.
 *
 * Pure and shared by both halves: the builder shows it to approvers, and the vault signer recomputes it from
 * the payload it is asked to sign (never trusting a summary handed to it) before comparing with the intent.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { StrongroomError } from '../../domain/errors.ts';
import { formatAmount } from '../../domain/amount.ts';
import { addressFromScript } from './address.ts';
import { bitcoinNetwork, type BitcoinNetwork, type BitcoinNetworkName } from './network.ts';
import { txWeight, vsizeOf, type SpendKind } from './size.ts';

export interface KeyOrigin {
  /** Master key fingerprint, 8 hex digits. */
  readonly fingerprint: string;
  /** Absolute BIP32 path as indices (hardened ≥ 2^31). */
  readonly path: readonly number[];
  /** 33-byte compressed key (P2WPKH) or 32-byte x-only internal key (P2TR), hex. */
  readonly publicKey: string;
}

export interface PsbtInputSummary {
  readonly txid: string;
  readonly vout: number;
  readonly sequence: number;
  readonly amount: bigint;
  readonly script: string;
  readonly kind: SpendKind | 'other';
  readonly address: string | undefined;
  readonly origins: readonly KeyOrigin[];
  readonly sighashType: number | undefined;
}

export interface PsbtOutputSummary {
  readonly index: number;
  readonly amount: bigint;
  readonly script: string;
  readonly address: string | undefined;
  readonly origins: readonly KeyOrigin[];
}

export interface PsbtSummary {
  readonly network: BitcoinNetworkName;
  readonly version: number;
  readonly lockTime: number;
  /** BIP125: some input signals replaceability (sequence < 0xfffffffe). */
  readonly rbf: boolean;
  readonly inputs: readonly PsbtInputSummary[];
  readonly outputs: readonly PsbtOutputSummary[];
  readonly totalIn: bigint;
  readonly totalOut: bigint;
  readonly fee: bigint;
  /** Estimated virtual size once signed (signatures at maximum length). */
  readonly vsize: number;
  readonly text: string;
}

/** Parses PSBT bytes; malformed input fails with `E_VALIDATION` (`details.parameter = 'psbt'`). */
export function parsePsbt(psbt: Uint8Array): Transaction {
  if (!(psbt instanceof Uint8Array) || psbt.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'psbt must be non-empty bytes', {
      details: { parameter: 'psbt' },
    });
  }
  try {
    return Transaction.fromPSBT(psbt);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'psbt is not a valid BIP174 PSBT', {
      details: { parameter: 'psbt' },
      cause,
    });
  }
}

export function summarizePsbt(
  psbt: Uint8Array | Transaction,
  network: BitcoinNetworkName | BitcoinNetwork,
): PsbtSummary {
  const net = bitcoinNetwork(network);
  const tx = psbt instanceof Transaction ? psbt : parsePsbt(psbt);
  const inputs: PsbtInputSummary[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (!input.txid || input.index === undefined || !input.witnessUtxo) {
      throw new StrongroomError('E_VALIDATION', `psbt input ${i} lacks its outpoint or witnessUtxo`, {
        details: { parameter: 'psbt', input: i },
      });
    }
    const script = input.witnessUtxo.script;
    const origins: KeyOrigin[] = [
      ...(input.bip32Derivation ?? []).map(([pub, d]) => origin(pub, d.fingerprint, d.path)),
      ...(input.tapBip32Derivation ?? []).map(([pub, d]) => origin(pub, d.der.fingerprint, d.der.path)),
    ];
    inputs.push({
      txid: bytesToHex(input.txid),
      vout: input.index,
      sequence: input.sequence ?? 0xffffffff,
      amount: input.witnessUtxo.amount,
      script: bytesToHex(script),
      kind: spendKind(script),
      address: addressFromScript(script, net),
      origins,
      sighashType: input.sighashType,
    });
  }
  const outputs: PsbtOutputSummary[] = [];
  for (let i = 0; i < tx.outputsLength; i++) {
    const out = tx.getOutput(i);
    if (!out.script || out.amount === undefined) {
      throw new StrongroomError('E_VALIDATION', `psbt output ${i} lacks script or amount`, {
        details: { parameter: 'psbt', output: i },
      });
    }
    outputs.push({
      index: i,
      amount: out.amount,
      script: bytesToHex(out.script),
      address: addressFromScript(out.script, net),
      origins: [
        ...(out.bip32Derivation ?? []).map(([pub, d]) => origin(pub, d.fingerprint, d.path)),
        ...(out.tapBip32Derivation ?? []).map(([pub, d]) => origin(pub, d.der.fingerprint, d.der.path)),
      ],
    });
  }
  const totalIn = inputs.reduce((s, x) => s + x.amount, 0n);
  const totalOut = outputs.reduce((s, x) => s + x.amount, 0n);
  const fee = totalIn - totalOut;
  const kinds = inputs.map((x) => (x.kind === 'other' ? 'p2wpkh' : x.kind));
  const vsize = vsizeOf(
    txWeight(
      kinds,
      outputs.map((o) => o.script.length / 2),
    ),
  );
  const rbf = inputs.some((x) => x.sequence < 0xfffffffe);
  const summary = {
    network: net.name,
    version: tx.version,
    lockTime: tx.lockTime,
    rbf,
    inputs,
    outputs,
    totalIn,
    totalOut,
    fee,
    vsize,
  };
  return { ...summary, text: describe(summary) };
}

/** Spend kind of a previous output script we know how to sign for. */
export function spendKind(script: Uint8Array): SpendKind | 'other' {
  if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) return 'p2wpkh';
  if (script.length === 34 && script[0] === 0x51 && script[1] === 0x20) return 'p2tr';
  return 'other';
}

function origin(publicKey: Uint8Array, fingerprint: number, path: number[]): KeyOrigin {
  return {
    fingerprint: (fingerprint >>> 0).toString(16).padStart(8, '0'),
    path: [...path],
    publicKey: bytesToHex(publicKey),
  };
}

function describe(s: Omit<PsbtSummary, 'text'>): string {
  const btc = (v: bigint) => `${formatAmount(v, 8)} BTC`;
  const outs = s.outputs
    .map(
      (o) =>
        `${btc(o.amount)} to ${o.address ?? 'script ' + o.script}${o.origins.length ? ' (own key)' : ''}`,
    )
    .join('; ');
  const rate = s.vsize > 0 ? (Number(s.fee) / s.vsize).toFixed(1) : '?';
  return (
    `Bitcoin ${s.network}: send ${outs}; fee ${s.fee} sat (~${rate} sat/vB, ~${s.vsize} vB); ` +
    `${s.inputs.length} input(s) totalling ${btc(s.totalIn)}; ${s.rbf ? 'replaceable (RBF)' : 'final'}; lock time ${s.lockTime}`
  );
}
