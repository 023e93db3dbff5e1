/**
 * Transaction size and dust arithmetic for the inputs and outputs we build (P2WPKH and P2TR key-path
 * inputs; any standard output). Sizes are in weight units (BIP141); fees are paid on virtual bytes =
 * ceil(weight / 4). Signatures are counted at their maximum length so the estimate never undershoots.
 */

export type SpendKind = 'p2wpkh' | 'p2tr';

// Non-witness part of any input: outpoint (36) + empty scriptSig length (1) + sequence (4).
const INPUT_BASE_WU = 41 * 4;
const INPUT_WITNESS_WU: Record<SpendKind, number> = {
  // items count (1) + DER signature with sighash byte (1 + 72) + compressed pubkey (1 + 33)
  p2wpkh: 1 + 73 + 34,
  // items count (1) + Schnorr signature with SIGHASH_DEFAULT, no sighash byte (1 + 64)
  p2tr: 1 + 65,
};

export function inputWeight(kind: SpendKind): number {
  return INPUT_BASE_WU + INPUT_WITNESS_WU[kind];
}

export function outputWeight(scriptLength: number): number {
  return (8 + varIntSize(scriptLength) + scriptLength) * 4;
}

/** Weight of a segwit transaction with these inputs and output script lengths. */
export function txWeight(inputs: readonly SpendKind[], outputScriptLengths: readonly number[]): number {
  // version (4) + locktime (4) + input and output counts, all ×4; segwit marker + flag (2) count once.
  let w = (8 + varIntSize(inputs.length) + varIntSize(outputScriptLengths.length)) * 4 + 2;
  for (const k of inputs) w += inputWeight(k);
  for (const n of outputScriptLengths) w += outputWeight(n);
  return w;
}

export function vsizeOf(weight: number): number {
  return Math.ceil(weight / 4);
}

/** Fee in satoshis for `vbytes` at `feeRate` sat/vB (may be fractional), rounded up. */
export function feeFor(vbytes: number, feeRate: number): bigint {
  return BigInt(Math.ceil(vbytes * feeRate));
}

/**
 * Bitcoin Core's dust threshold (policy/policy.cpp GetDustThreshold) at the default dustrelayfee of
 * 3 sat/vB: the cost of creating and later spending the output. 294 sat for P2WPKH, 330 for P2TR, 546 for
 * P2PKH. An output below it would not be relayed.
 */
export function dustThreshold(script: Uint8Array, dustRelayFeeRate = 3): bigint {
  const outputBytes = 8 + varIntSize(script.length) + script.length;
  const isWitness =
    script.length >= 4 &&
    (script[0] === 0 || (script[0]! >= 0x51 && script[0]! <= 0x60)) &&
    script[1] === script.length - 2;
  // Spending input: 32+4+1+4 plus 107 bytes of scriptSig/witness, the witness discounted by 4.
  // (integer division, as in Core: 107 / 4 = 26)
  const spendBytes = isWitness ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt(Math.floor((outputBytes + spendBytes) * dustRelayFeeRate));
}

function varIntSize(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}
