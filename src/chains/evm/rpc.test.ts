import { afterEach, describe, expect, it } from 'vitest';
import { startFakeJsonRpc, type FakeAnswer, type FakeJsonRpc } from '../../../test/support/fake-json-rpc.ts';
import { isStrongroomError, type StrongroomError } from '../../domain/errors.ts';
import { createEvmRpc, type EvmRpc } from './rpc.ts';
import { broadcastEvm } from './broadcast.ts';
import { Transaction, Wallet } from 'ethers';

const CHAIN = 31337n;
let server: FakeJsonRpc | undefined;
let rpc: EvmRpc | undefined;
afterEach(async () => {
  rpc?.destroy();
  await server?.close();
  server = rpc = undefined;
});

type Script = Partial<Record<string, (params: unknown[], n: number) => FakeAnswer>>;
async function node(script: Script, timeoutMs = 1_000) {
  server = await startFakeJsonRpc(
    (method, params, n) =>
      method === 'eth_chainId' && !script.eth_chainId
        ? { result: '0x7a69' }
        : (script[method]?.(params, n) ?? { error: { code: -32601, message: 'method not found' } }),
    { errorStatus: 200 },
  );
  rpc = createEvmRpc(server.url.replace('http://', 'http://bob:t0ps3cret@'), {
    expectedChainId: CHAIN,
    retries: 2,
    backoffMs: 1,
    timeoutMs,
  });
  return rpc;
}
async function failure(p: Promise<unknown>): Promise<StrongroomError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isStrongroomError(e, 'E_CHAIN_RPC')).toBe(true);
  return e as StrongroomError;
}

// A throwaway key for building signed test transactions (not a custody key).
const dev = new Wallet('0x' + '11'.repeat(32));
async function signedTx(nonce: number, chainId = CHAIN) {
  const raw = await dev.signTransaction({
    type: 2,
    chainId,
    nonce,
    to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    value: 1n,
    gasLimit: 21_000n,
    maxFeePerGas: 2n,
    maxPriorityFeePerGas: 1n,
  });
  return { raw, hash: Transaction.from(raw).hash! };
}

describe('EVM JSON-RPC client', () => {
  it('checks the chain id before the first call and refuses another chain', async () => {
    const r = await node({
      eth_chainId: () => ({ result: '0x1' }),
      eth_blockNumber: () => ({ result: '0x10' }),
    });
    const e = await failure(r.getBlockNumber());
    expect(e.details).toMatchObject({
      reason: 'chain-id-mismatch',
      expected: '31337',
      actual: '1',
      retriable: false,
    });
    expect(server!.callsOf('eth_blockNumber')).toHaveLength(0);
  });

  it('sends credentials as Basic auth on loopback and keeps them out of errors', async () => {
    const r = await node({ eth_blockNumber: () => ({ raw: 'not json' }) });
    const e = await failure(r.getBlockNumber());
    expect(server!.calls[0]!.authorization).toBe('Basic ' + Buffer.from('bob:t0ps3cret').toString('base64'));
    expect(JSON.stringify(e) + e.message + String(e.stack)).not.toContain('t0ps3cret');
  });

  it('retries garbage then raises a typed error', async () => {
    const r = await node({ eth_blockNumber: () => ({ raw: '<html>oops</html>' }) });
    const e = await failure(r.getBlockNumber());
    expect(e.details).toMatchObject({ retriable: true, attempts: 3 });
    expect(['bad-response', 'transport']).toContain(e.details.reason);
    expect(server!.callsOf('eth_blockNumber')).toHaveLength(3);
  });

  it('treats a result of the wrong shape as garbage', async () => {
    const r = await node({ eth_getBalance: () => ({ result: 12 }) });
    const e = await failure(r.getBalance('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'));
    expect(e.details).toMatchObject({ reason: 'bad-response', attempts: 3 });
  });

  it('times out a hanging node, retries, then raises transport', async () => {
    const r = await node({ eth_blockNumber: () => 'hang' }, 100);
    const e = await failure(r.getBlockNumber());
    expect(e.details).toMatchObject({ reason: 'transport', attempts: 3 });
  });

  it('never retries a JSON-RPC error', async () => {
    const r = await node({
      eth_estimateGas: () => ({ error: { code: -32000, message: 'execution reverted' } }),
    });
    const e = await failure(
      r.estimateGas({
        from: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
        to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      }),
    );
    expect(e.details).toMatchObject({ reason: 'rpc-error', rpcCode: -32000, attempts: 1 });
  });
});

describe('broadcastEvm against a misbehaving node', () => {
  it('treats "already known" as success when the node has our hash', async () => {
    const { raw, hash } = await signedTx(0);
    const r = await node({
      eth_getTransactionByHash: (_p, n) =>
        n === 1
          ? { result: null }
          : { result: { hash, from: dev.address, to: null, nonce: '0x0', value: '0x1', blockNumber: null } },
      eth_sendRawTransaction: () => ({ error: { code: -32000, message: 'already known' } }),
    });
    expect(await broadcastEvm(r, raw)).toMatchObject({
      hash,
      nonce: 0,
      state: 'pending',
      alreadyKnown: true,
    });
  });

  it('reports a conflict when the nonce is consumed by another transaction', async () => {
    const { raw } = await signedTx(3);
    const r = await node({
      eth_getTransactionByHash: () => ({ result: null }),
      eth_sendRawTransaction: () => ({ error: { code: -32003, message: 'nonce too low' } }),
      eth_getTransactionCount: () => ({ result: '0x4' }),
    });
    const e = await failure(broadcastEvm(r, raw));
    expect(e.details).toMatchObject({ reason: 'conflict', nonceConsumed: true, retriable: false, nonce: 3 });
  });

  it('retries a send lost in transport with the same bytes; the node sees one transaction', async () => {
    const { raw, hash } = await signedTx(1);
    const r = await node(
      {
        eth_getTransactionByHash: () => ({ result: null }),
        eth_sendRawTransaction: (_p, n) => (n === 1 ? 'hang' : { result: hash }),
      },
      150,
    );
    expect(await broadcastEvm(r, raw)).toMatchObject({ hash, alreadyKnown: false });
    const sends = server!.callsOf('eth_sendRawTransaction');
    expect(sends.length).toBe(2);
    expect(sends.every((c) => c.params[0] === raw)).toBe(true);
  });

  it('refuses a transaction signed for another chain without sending it', async () => {
    const { raw } = await signedTx(0, 1n);
    const r = await node({});
    const e = await failure(broadcastEvm(r, raw));
    expect(e.details.reason).toBe('chain-id-mismatch');
    expect(server!.callsOf('eth_sendRawTransaction')).toHaveLength(0);
  });
});
