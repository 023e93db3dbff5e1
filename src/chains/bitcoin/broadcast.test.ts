import { afterEach, describe, expect, it } from 'vitest';
import { Transaction, p2wpkh } from '@scure/btc-signer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { startFakeJsonRpc, type FakeAnswer, type FakeJsonRpc } from '../../../test/support/fake-json-rpc.ts';
import { isStrongroomError, type StrongroomError } from '../../domain/errors.ts';
import { broadcastBitcoin } from './broadcast.ts';
import { createBitcoinRpc } from './rpc.ts';

const priv = new Uint8Array(32).fill(9);
const pay = p2wpkh(secp256k1.getPublicKey(priv, true));
const tx = new Transaction();
tx.addInput({ txid: 'cd'.repeat(32), index: 0, witnessUtxo: { script: pay.script, amount: 50_000n } });
tx.addOutput({ script: pay.script, amount: 40_000n });
tx.sign(priv);
tx.finalize();
const RAW = tx.extract();
const TXID = tx.id;
const UTXO = {
  bestblock: '00'.repeat(32),
  confirmations: 5,
  value: 0.0005,
  scriptPubKey: { hex: bytesToHex(pay.script) },
  coinbase: false,
};
const NOT_IN_MEMPOOL: FakeAnswer = { error: { code: -1, message: 'Transaction not in mempool.' } };
const NOT_FOUND: FakeAnswer = { error: { code: -1, message: 'Transaction not found.' } };

let server: FakeJsonRpc | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type NodeScript = Partial<Record<string, (params: unknown[], n: number) => FakeAnswer>>;
async function node(script: NodeScript) {
  server = await startFakeJsonRpc(
    (method, params, n) =>
      script[method]?.(params, n) ?? { error: { code: -32601, message: 'Method not found' } },
  );
  return createBitcoinRpc({ url: server.url, retries: 2, backoffMs: 1, timeoutMs: 500 });
}
async function failure(p: Promise<unknown>): Promise<StrongroomError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isStrongroomError(e, 'E_CHAIN_RPC')).toBe(true);
  return e as StrongroomError;
}

describe('broadcastBitcoin against a misbehaving node', () => {
  it('confirms acceptance by mempool entry, not by the txid the node echoes', async () => {
    const rpc = await node({
      getmempoolentry: (_p, n) => (n === 1 ? NOT_IN_MEMPOOL : { result: { fee: 0.0001 } }),
      getrawtransaction: () => NOT_FOUND,
      sendrawtransaction: () => ({ result: TXID }),
    });
    expect(await broadcastBitcoin(rpc, RAW, { pollMs: 5 })).toEqual({
      txid: TXID,
      accepted: 'mempool',
      alreadyKnown: false,
    });
  });

  it('bcoin-style silent rejection: the node echoes the txid but never takes it → not-accepted, sent once', async () => {
    const rpc = await node({
      getmempoolentry: () => NOT_IN_MEMPOOL,
      getrawtransaction: () => NOT_FOUND,
      sendrawtransaction: () => ({ result: TXID }),
      gettxout: () => ({ result: UTXO }),
    });
    const e = await failure(broadcastBitcoin(rpc, RAW, { acceptanceTimeoutMs: 50, pollMs: 5 }));
    expect(e.details).toMatchObject({ reason: 'not-accepted', retriable: true, txid: TXID });
    expect(server!.callsOf('sendrawtransaction')).toHaveLength(1);
  });

  it('reports a conflict when an input is already spent elsewhere', async () => {
    const rpc = await node({
      getmempoolentry: () => NOT_IN_MEMPOOL,
      getrawtransaction: () => NOT_FOUND,
      sendrawtransaction: () => ({ error: { code: -26, message: 'txn-mempool-conflict' } }),
      gettxout: () => ({ result: null }),
    });
    const e = await failure(broadcastBitcoin(rpc, RAW));
    expect(e.details).toMatchObject({
      reason: 'conflict',
      retriable: false,
      spentInputs: [`${'cd'.repeat(32)}:0`],
    });
  });

  it('does not re-send what the node already has', async () => {
    const rpc = await node({ getmempoolentry: () => ({ result: { fee: 0.0001 } }) });
    expect(await broadcastBitcoin(rpc, RAW)).toEqual({ txid: TXID, accepted: 'mempool', alreadyKnown: true });
    expect(server!.callsOf('sendrawtransaction')).toHaveLength(0);
  });

  it('retries a send lost in transport with the very same bytes, and ends with one transaction', async () => {
    let sent = false;
    const rpc = await node({
      getmempoolentry: () => (sent ? { result: { fee: 0.0001 } } : NOT_IN_MEMPOOL),
      getrawtransaction: () => NOT_FOUND,
      sendrawtransaction: (_p, n) => {
        if (n === 1) return 'hang'; // the first attempt times out
        sent = true;
        return { result: TXID };
      },
    });
    expect(await broadcastBitcoin(rpc, RAW, { pollMs: 5 })).toMatchObject({
      txid: TXID,
      accepted: 'mempool',
    });
    const sends = server!.callsOf('sendrawtransaction');
    expect(sends).toHaveLength(2);
    expect(new Set(sends.map((c) => c.params[0])).size).toBe(1);
    expect(sends[0]!.params[0]).toBe(bytesToHex(RAW));
  });

  it('treats "already in block chain" (-27) as included', async () => {
    const rpc = await node({
      getmempoolentry: () => NOT_IN_MEMPOOL,
      getrawtransaction: () => NOT_FOUND, // Core without -txindex
      sendrawtransaction: () => ({ error: { code: -27, message: 'Transaction already in block chain' } }),
    });
    expect(await broadcastBitcoin(rpc, RAW)).toEqual({ txid: TXID, accepted: 'block', alreadyKnown: true });
  });

  it('refuses an answer that names another txid', async () => {
    const rpc = await node({
      getmempoolentry: () => NOT_IN_MEMPOOL,
      getrawtransaction: () => NOT_FOUND,
      sendrawtransaction: () => ({ result: 'ee'.repeat(32) }),
    });
    const e = await failure(broadcastBitcoin(rpc, RAW));
    expect(e.details.reason).toBe('bad-response');
  });

  it('refuses bytes that are not a transaction before talking to the node', async () => {
    const rpc = await node({});
    await expect(broadcastBitcoin(rpc, 'deadbeef')).rejects.toMatchObject({ code: 'E_VALIDATION' });
    expect(server!.calls).toHaveLength(0);
  });
});
