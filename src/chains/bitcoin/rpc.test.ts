import { afterEach, describe, expect, it } from 'vitest';
import { startFakeJsonRpc, type FakeAnswer, type FakeJsonRpc } from '../../../test/support/fake-json-rpc.ts';
import { isStrongroomError, type StrongroomError } from '../../domain/errors.ts';
import { btcToSats, createBitcoinRpc } from './rpc.ts';

let server: FakeJsonRpc | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function rpcAnswering(
  handler: (method: string, params: unknown[], n: number) => FakeAnswer,
  timeoutMs = 2_000,
) {
  server = await startFakeJsonRpc(handler);
  const url = server.url.replace('http://', 'http://alice:s3cret-pass@');
  return createBitcoinRpc({ url, timeoutMs, retries: 2, backoffMs: 1 });
}

async function failure(p: Promise<unknown>): Promise<StrongroomError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isStrongroomError(e, 'E_CHAIN_RPC')).toBe(true);
  return e as StrongroomError;
}

describe('bitcoin JSON-RPC client', () => {
  it('sends credentials as a Basic header and parses results', async () => {
    const rpc = await rpcAnswering(() => ({ result: 812 }));
    expect(await rpc.getBlockCount()).toBe(812);
    expect(server!.calls[0]!.authorization).toBe(
      'Basic ' + Buffer.from('alice:s3cret-pass').toString('base64'),
    );
    expect(rpc.endpoint).not.toContain('s3cret');
  });

  it('retries garbage a bounded number of times, then raises bad-response without leaking credentials', async () => {
    const rpc = await rpcAnswering(() => ({ raw: '<html>502 from a proxy</html>', status: 200 }));
    const e = await failure(rpc.getBlockCount());
    expect(e.details).toMatchObject({
      method: 'getblockcount',
      reason: 'bad-response',
      retriable: true,
      attempts: 3,
    });
    expect(server!.callsOf('getblockcount')).toHaveLength(3);
    const printed = JSON.stringify(e) + e.message + String(e.stack);
    expect(printed).not.toContain('s3cret-pass');
    expect(printed).not.toContain('alice');
  });

  it('treats a result of the wrong shape as garbage', async () => {
    const rpc = await rpcAnswering(() => ({ result: 'not-a-hash' }));
    const e = await failure(rpc.getBlockHash(5));
    expect(e.details.reason).toBe('bad-response');
  });

  it('times out a node that never answers, retries, then raises transport', async () => {
    const rpc = await rpcAnswering(() => 'hang', 100);
    const e = await failure(rpc.getBlockCount());
    expect(e.details).toMatchObject({ reason: 'transport', retriable: true, attempts: 3 });
    expect(server!.callsOf('getblockcount')).toHaveLength(3);
  });

  it('recovers when a transport failure is followed by a good answer', async () => {
    const rpc = await rpcAnswering((_m, _p, n) =>
      n === 1 ? { raw: 'Service Unavailable', status: 503 } : { result: 7 },
    );
    expect(await rpc.getBlockCount()).toBe(7);
    expect(server!.calls).toHaveLength(2);
  });

  it('never retries an answer the node gave on purpose (JSON-RPC error)', async () => {
    const rpc = await rpcAnswering(() => ({ error: { code: -8, message: 'Block height out of range' } }));
    const e = await failure(rpc.getBlockHash(10_000));
    expect(e.details).toMatchObject({ reason: 'rpc-error', rpcCode: -8, retriable: false, attempts: 1 });
    expect(server!.calls).toHaveLength(1);
  });

  it('refuses on wrong credentials without retrying', async () => {
    const rpc = await rpcAnswering(() => ({ raw: '', status: 401 }));
    const e = await failure(rpc.getBlockCount());
    expect(e.details).toMatchObject({ reason: 'unauthorized', retriable: false });
    expect(server!.calls).toHaveLength(1);
  });

  it('reports an unreachable node as transport', async () => {
    const rpc = createBitcoinRpc({ url: 'http://127.0.0.1:1/', retries: 1, backoffMs: 1, timeoutMs: 500 });
    const e = await failure(rpc.getBlockCount());
    expect(e.details).toMatchObject({ reason: 'transport', attempts: 2 });
  });

  it('floors a missing fee estimate (bcoin -1, Core errors) to undefined and converts BTC/kvB to sat/vB', async () => {
    const answers: FakeAnswer[] = [
      { result: { fee: -1, blocks: 2 } },
      { result: { errors: ['Insufficient data'], blocks: 2 } },
      { result: { feerate: 0.00012, blocks: 2 } },
    ];
    const rpc = await rpcAnswering((_m, _p, n) => answers[n - 1]!);
    expect(await rpc.estimateSmartFee(2)).toBeUndefined();
    expect(await rpc.estimateSmartFee(2)).toBeUndefined();
    expect(await rpc.estimateSmartFee(2)).toBe(12);
  });

  it('answers undefined for "not found" in both dialects (Core -5, bcoin -1 with a message)', async () => {
    const answers: FakeAnswer[] = [
      { error: { code: -5, message: 'Transaction not in mempool' } },
      { error: { code: -1, message: 'Transaction not in mempool.' } },
      { error: { code: -1, message: 'something else' } },
    ];
    const rpc = await rpcAnswering((_m, _p, n) => answers[n - 1]!);
    const txid = 'ab'.repeat(32);
    expect(await rpc.getMempoolEntry(txid)).toBeUndefined();
    expect(await rpc.getMempoolEntry(txid)).toBeUndefined();
    expect((await failure(rpc.getMempoolEntry(txid))).details.rpcCode).toBe(-1);
  });

  it('parses gettxout amounts exactly and answers undefined for a spent output', async () => {
    const answers: FakeAnswer[] = [
      {
        result: {
          bestblock: 'cd'.repeat(32),
          confirmations: 3,
          value: 20999999.9769,
          scriptPubKey: { hex: '0014' + '11'.repeat(20) },
          coinbase: false,
        },
      },
      { result: null },
    ];
    const rpc = await rpcAnswering((_m, _p, n) => answers[n - 1]!);
    expect((await rpc.getTxOut('ab'.repeat(32), 0))?.value).toBe(2_099_999_997_690_000n);
    expect(await rpc.getTxOut('ab'.repeat(32), 1)).toBeUndefined();
  });

  it('refuses bad arguments before calling the node', async () => {
    const rpc = await rpcAnswering(() => ({ result: null }));
    await expect(rpc.getBlockHash(-1)).rejects.toMatchObject({ code: 'E_VALIDATION' });
    await expect(rpc.getTxOut('zz', 0)).rejects.toMatchObject({ code: 'E_VALIDATION' });
    expect(server!.calls).toHaveLength(0);
  });

  it('converts BTC to satoshis exactly across the whole supply', () => {
    expect(btcToSats(0.00000001)).toBe(1n);
    expect(btcToSats(0.1 + 0.2)).toBe(30_000_000n);
    expect(btcToSats(21_000_000)).toBe(2_100_000_000_000_000n);
    expect(() => btcToSats(-1)).toThrow();
    expect(() => btcToSats('1')).toThrow();
  });
});
