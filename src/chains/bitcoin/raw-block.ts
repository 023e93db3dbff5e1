/**
 * Parses a serialised block as a node sends it (untrusted bytes) into what the deposit scanner needs: the
 * block hash and parent, and per transaction its txid, the outpoints it spends and the outputs it creates.
 *
 * We parse ourselves rather than read the node's verbose JSON because that JSON differs between Bitcoin Core
 * and bcoin and carries amounts as float BTC. The header hash is recomputed (so a node cannot label one
 * block with another's hash) and the merkle root is checked against the txids we compute, so the
 * transactions we read are exactly those the header commits to (a garbled or doctored block is refused).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export interface RawOutpoint {
  readonly txid: string;
  readonly vout: number;
}

export interface RawTxOutput {
  readonly value: bigint;
  /** scriptPubKey, hex. */
  readonly script: string;
}

export interface ParsedTx {
  readonly txid: string;
  /** Empty for a coinbase. */
  readonly inputs: readonly RawOutpoint[];
  readonly outputs: readonly RawTxOutput[];
}

export interface ParsedBlock {
  readonly hash: string;
  readonly parentHash: string;
  readonly txs: readonly ParsedTx[];
}

const COINBASE_TXID = '0'.repeat(64);

export function parseRawBlock(bytes: Uint8Array): ParsedBlock {
  const r = new Reader(bytes);
  const header = r.take(80);
  const hash = reversedHex(sha256d(header));
  const parentHash = reversedHex(header.subarray(4, 36));
  const merkleRoot = bytesToHex(header.subarray(36, 68));
  const count = r.compactSize();
  if (count === 0 || count > bytes.length) throw new Error('block: bad transaction count');
  const txs: ParsedTx[] = [];
  const ids: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const { tx, id } = parseTx(r);
    txs.push(tx);
    ids.push(id);
  }
  if (!r.done()) throw new Error('block: trailing bytes');
  if (bytesToHex(merkle(ids)) !== merkleRoot)
    throw new Error('block: merkle root does not match its transactions');
  return { hash, parentHash, txs };
}

/** Parses one serialised transaction (legacy or segwit) and computes its txid. */
export function parseRawTx(bytes: Uint8Array): ParsedTx {
  const r = new Reader(bytes);
  const { tx } = parseTx(r);
  if (!r.done()) throw new Error('tx: trailing bytes');
  return tx;
}

/** Parses one transaction at the reader's position; `id` is the txid in internal byte order. */
function parseTx(r: Reader): { tx: ParsedTx; id: Uint8Array } {
  const start = r.pos;
  r.take(4); // version
  let segwit = false;
  if (r.peek() === 0) {
    // BIP144 marker 0x00 and flag 0x01: witness data follows the outputs.
    r.take(1);
    if (r.take(1)[0] !== 1) throw new Error('tx: bad segwit flag');
    segwit = true;
  }
  const bodyStart = r.pos;
  const inputs: RawOutpoint[] = [];
  const nIn = r.compactSize();
  for (let i = 0; i < nIn; i++) {
    const prev = r.take(32);
    const vout = r.u32();
    r.take(r.compactSize()); // scriptSig
    r.take(4); // sequence
    const txid = reversedHex(prev);
    if (!(txid === COINBASE_TXID && vout === 0xffffffff)) inputs.push({ txid, vout });
  }
  const outputs: RawTxOutput[] = [];
  const nOut = r.compactSize();
  for (let i = 0; i < nOut; i++) {
    const value = r.u64();
    outputs.push({ value, script: bytesToHex(r.take(r.compactSize())) });
  }
  const bodyEnd = r.pos;
  if (segwit) {
    for (let i = 0; i < nIn; i++) {
      const items = r.compactSize();
      for (let j = 0; j < items; j++) r.take(r.compactSize());
    }
  }
  const lockTime = r.take(4);
  // The txid commits to the legacy serialisation: version, inputs, outputs, lock time; no witness.
  const version = r.bytes.subarray(start, start + 4);
  const legacy = concat([version, r.bytes.subarray(bodyStart, bodyEnd), lockTime]);
  const id = sha256d(legacy);
  return { tx: { txid: reversedHex(id), inputs, outputs }, id };
}

function merkle(leaves: Uint8Array[]): Uint8Array {
  let level = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i]!;
      const b = level[i + 1] ?? a; // odd count: the last hash pairs with itself
      next.push(sha256d(concat([a, b])));
    }
    level = next;
  }
  return level[0]!;
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length) throw new Error('block: truncated');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  peek(): number | undefined {
    return this.bytes[this.pos];
  }
  done(): boolean {
    return this.pos === this.bytes.length;
  }
  u32(): number {
    const b = this.take(4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
  }
  u64(): bigint {
    const lo = BigInt(this.u32());
    const hi = BigInt(this.u32());
    return (hi << 32n) | lo;
  }
  compactSize(): number {
    const first = this.take(1)[0]!;
    if (first < 0xfd) return first;
    if (first === 0xfd) {
      const b = this.take(2);
      return b[0]! | (b[1]! << 8);
    }
    if (first === 0xfe) return this.u32();
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('block: size out of range');
    return Number(v);
  }
}

function sha256d(b: Uint8Array): Uint8Array {
  return sha256(sha256(b));
}

function reversedHex(b: Uint8Array): string {
  return bytesToHex(Uint8Array.from(b).reverse());
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
