import { describe, expect, it } from 'vitest';
import { hexToBytes } from '@noble/hashes/utils.js';
import { Transaction, p2wpkh } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { parseRawBlock, parseRawTx } from './raw-block.ts';

// Bitcoin mainnet genesis block.
const GENESIS =
  '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c0101000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000';

describe('raw block parser', () => {
  it('parses the genesis block: hash, parent, coinbase txid and its 50 BTC output', () => {
    const b = parseRawBlock(hexToBytes(GENESIS));
    expect(b.hash).toBe('000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    expect(b.parentHash).toBe('0'.repeat(64));
    expect(b.txs).toHaveLength(1);
    expect(b.txs[0]!.txid).toBe('4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b');
    expect(b.txs[0]!.inputs).toEqual([]); // coinbase
    expect(b.txs[0]!.outputs[0]!.value).toBe(5_000_000_000n);
  });

  it('refuses a block whose transactions do not match its merkle root, and truncated or padded bytes', () => {
    const tampered = hexToBytes(GENESIS);
    tampered[tampered.length - 10] = tampered[tampered.length - 10]! ^ 1; // inside the coinbase output script
    expect(() => parseRawBlock(tampered)).toThrow(/merkle/);
    expect(() => parseRawBlock(hexToBytes(GENESIS).subarray(0, 200))).toThrow(/truncated/);
    expect(() => parseRawBlock(new Uint8Array([...hexToBytes(GENESIS), 0]))).toThrow(/trailing/);
  });

  it('computes the txid of a segwit transaction without its witness (matches @scure/btc-signer)', () => {
    const priv = new Uint8Array(32).fill(7);
    const pay = p2wpkh(secp256k1.getPublicKey(priv, true));
    const tx = new Transaction();
    tx.addInput({ txid: 'ab'.repeat(32), index: 1, witnessUtxo: { script: pay.script, amount: 10_000n } });
    tx.addOutput({ script: pay.script, amount: 9_000n });
    tx.sign(priv);
    tx.finalize();
    const parsed = parseRawTx(tx.extract());
    expect(parsed.txid).toBe(tx.id);
    expect(parsed.inputs).toEqual([{ txid: 'ab'.repeat(32), vout: 1 }]);
    expect(parsed.outputs).toEqual([{ value: 9_000n, script: Buffer.from(pay.script).toString('hex') }]);
  });
});
