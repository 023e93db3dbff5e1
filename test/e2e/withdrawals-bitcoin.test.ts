/**
 * Issue 5 end to end on a real bcoin regtest node, on both store dialects: a wallet funded at a P2WPKH and a
 * P2WPKH address (mined coinbases, matured) and paid to its own P2TR address, deposits credited by the scanner, a withdrawal that needs 2
 * approvals and both coins taken to a confirmed transaction (acceptance proven by mempool entry and block,
 * never by the node's answer to sendrawtransaction), balances right on chain and in Strongroom, and a BIP125
 * fee bump whose replacement spends the same inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { p2wpkh } from '@scure/btc-signer';
import { hexToBytes } from '@noble/hashes/utils.js';
import { startBitcoinRegtest, BCOIN_REGTEST_SEGWIT_HEIGHT, type BitcoinRegtestDevnet } from '../../src/chains/devnet/index.ts';
import { bitcoinNetwork } from '../../src/chains/bitcoin/network.ts';
import { parseRawTx } from '../../src/chains/bitcoin/raw-block.ts';
import type { PolicyDocument } from '../../src/policy/index.ts';
import { DIALECTS } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { send } from '../support/app.ts';
import { startGovernedApp, WALLET, type GovernedApp } from '../support/governed-app.ts';

const BTC = 100_000_000n;
const NET = 'regtest-bcoin' as const;
// Key 1's P2WPKH: blocks nobody needs go there; the payments go to key 2's.
const BURN = p2wpkh(hexToBytes('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'), bitcoinNetwork(NET)).address!;
const DEST = p2wpkh(hexToBytes('02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5'), bitcoinNetwork(NET)).address!;

const POLICY: PolicyDocument = {
  version: 1,
  name: 'withdrawals',
  rules: [{ id: 'two', when: { requestType: ['transfer'], asset: ['BTC'] }, action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } } }],
  tests: [],
};

let node: BitcoinRegtestDevnet;

beforeAll(async () => {
  node = await startBitcoinRegtest();
  await node.mine(BCOIN_REGTEST_SEGWIT_HEIGHT + 8, BURN);
});
afterAll(async () => node?.stop());

const DEST_SCRIPT = Buffer.from(p2wpkh(hexToBytes('02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5'), bitcoinNetwork(NET)).script).toString('hex');

/** Satoshis paid to DEST by transaction `txid`, read from the node. */
async function paidToDest(txid: string): Promise<bigint> {
  const tx = await node.rpc.getRawTransaction(txid);
  return parseRawTx(hexToBytes(tx!.hex)).outputs.filter((o) => o.script === DEST_SCRIPT).reduce((t, o) => t + o.value, 0n);
}

for (const dialect of DIALECTS) {
  describe.sequential(`Bitcoin withdrawals on ${dialect}`, () => {
    let g: GovernedApp;
    const stop = new AbortController();
    let worker: Promise<void>;
    let funded = 0n;

    beforeAll(async () => {
      g = await startGovernedApp(dialect, {
        chains: { bitcoin: { network: NET, rpc: { url: node.rpcUrl, username: node.rpcUser, password: node.rpcPassword }, confirmations: 1, feeRateFloor: 2, spendTaproot: false } },
      });
      expect((await g.publish(POLICY)).body.status).toBe('applied');
      worker = g.t.app.withdrawals.run({ workerId: `btc-${dialect}`, signal: stop.signal, sweepMs: 100 });
    });
    afterAll(async () => {
      stop.abort();
      await worker;
      await g?.t.close();
    });

    async function approved(body: Record<string, unknown>): Promise<string> {
      const r = await g.transfer(body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await g.approveTransfer(r.body.id, g.alice);
      expect((await g.approveTransfer(r.body.id, g.bob)).body.status).toBe('approved');
      return r.body.id as string;
    }
    const statusOf = async (id: string) => (await g.t.app.requests.get({ tenant: g.t.tenantId, userId: 'x', keyId: 'x' }, id)).status;
    async function broadcasted(id: string): Promise<void> {
      const st = await waitFor('broadcast', async () => {
        const x = await statusOf(id);
        return ['broadcast', 'confirmed', 'failed'].includes(x) ? x : undefined;
      });
      if (st === 'failed') throw new Error(`withdrawal failed: ${(await execution(id)).error}`);
    }
    const balance = async () => {
      const r = await send(g.t, 'GET', `/v1/wallets/${WALLET}/balances`, { signer: g.tina.signer });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return (r.body as Array<{ asset: string; available: string; pending: string; locked: string }>).find((b) => b.asset === 'BTC')!;
    };
    const execution = async (id: string) => (await send(g.t, 'GET', `/v1/requests/${id}/execution`, { signer: g.tina.signer })).body;

    let p2tr = '';
    it('funds a P2WPKH address of the wallet (a mined coinbase); the scanner credits it once mature', async () => {
      const addresses: string[] = [];
      for (const kind of ['p2wpkh', 'p2tr']) {
        const r = await send(g.t, 'POST', `/v1/wallets/${WALLET}/addresses`, { signer: g.tina.signer, body: { chain: 'bitcoin', kind } });
        expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
        addresses.push(r.body.address);
      }
      expect(addresses[0]!.startsWith('rb1q')).toBe(true);
      expect(addresses[1]!.startsWith('rb1p')).toBe(true);
      p2tr = addresses[1]!;
      // The scanner starts from where it first looks: before the funding.
      await g.t.app.deposits.scan('bitcoin');
      // bcoin mines only to pre-taproot addresses (the P2TR address is funded by a withdrawal below), and
      // relays no transaction spending a P2TR coin: P2TR spends are covered by the BIP341 vectors instead.
      await node.mine(1, addresses[0]!);
      await node.mine(1, addresses[0]!);
      await node.mine(100, BURN);
      await g.t.app.deposits.scan('bitcoin');
      const b = await balance();
      funded = BigInt(b.available);
      expect(funded).toBeGreaterThan(2n * BTC);
      expect(b.pending).toBe('0');
    });

    it('a 2-approval withdrawal to a P2TR address is signed, broadcast (mempool entry) and confirmed; balances right', async () => {
      const id = await approved({ asset: 'BTC', amount: '1', to: p2tr });
      await broadcasted(id);
      const e = await execution(id);
      expect(await node.rpc.getMempoolEntry(e.txid)).toBeTruthy();
      // The coin it spends is locked until the withdrawal settles.
      expect(BigInt((await balance()).locked)).toBeGreaterThan(BTC);
      await node.mine(1, BURN);
      await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
      await g.t.app.deposits.scan('bitcoin');
      const after = await balance();
      const done = await execution(id);
      // The payment came back to the wallet (its own P2TR address): only the fee left it.
      expect(BigInt(after.available)).toBe(funded - BigInt(done.fee));
      expect(after.locked).toBe('0');
      funded = BigInt(after.available);
    });

    it('a withdrawal spending two coins is confirmed; the destination is paid exactly; the P2TR coin stays (bcoin)', async () => {
      const amount = funded - 2n * BTC; // more than one coin holds: the P2WPKH change and the other coinbase
      const id = await approved({ asset: 'BTC', amount: (Number(amount) / 1e8).toFixed(8), to: DEST });
      await broadcasted(id);
      await node.mine(1, BURN);
      await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
      const done = await execution(id);
      expect(await paidToDest(done.txid)).toBe(amount);
      const tx = parseRawTx(hexToBytes((await node.rpc.getRawTransaction(done.txid))!.hex));
      expect(tx.inputs).toHaveLength(2);
      await g.t.app.deposits.scan('bitcoin');
      const after = await balance();
      expect(BigInt(after.available)).toBe(funded - amount - BigInt(done.fee));
      funded = BigInt(after.available);
    });

    it('BIP125 fee bump: the replacement spends the same inputs and pays more; whichever confirms, the destination is paid once', async () => {
      const amount = BTC / 100n;
      const id = await approved({ asset: 'BTC', amount: '0.01', to: DEST });
      await broadcasted(id);
      const first = await execution(id);
      const bumped = await send(g.t, 'POST', `/v1/requests/${id}/bump-fee`, { signer: g.tina.signer, body: { feeRate: 20 } });
      expect(bumped.status, JSON.stringify(bumped.body)).toBe(200);
      expect(bumped.body.replaced).toBe(first.txid);
      expect(BigInt(bumped.body.fee)).toBeGreaterThan(BigInt(first.fee));
      const replacement = parseRawTx(hexToBytes(await signedOf(g, id, bumped.body.txid)));
      const original = parseRawTx(hexToBytes(await signedOf(g, id, first.txid)));
      const inputs = (t: typeof original) => t.inputs.map((i) => `${i.txid}:${i.vout}`).sort();
      expect(inputs(replacement)).toEqual(inputs(original));
      expect(replacement.outputs.find((o) => o.script === DEST_SCRIPT)!.value).toBe(amount);
      // bcoin 1.0.2 implements no BIP125 replacement: it keeps the original. The tracker follows both, so
      // the withdrawal confirms with the original (on a node that replaces, with the replacement: see the EVM test).
      const inMempool = [await node.rpc.getMempoolEntry(first.txid), await node.rpc.getMempoolEntry(bumped.body.txid)].filter(Boolean);
      expect(inMempool).toHaveLength(1);
      await node.mine(1, BURN);
      await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
      const done = await execution(id);
      expect([first.txid, bumped.body.txid]).toContain(done.txid);
      expect(done.replaced).toHaveLength(1);
      expect(done.replaced[0]).not.toBe(done.txid);
      expect(await paidToDest(done.txid)).toBe(amount);
      await g.t.app.deposits.scan('bitcoin');
      expect(BigInt((await balance()).available)).toBe(funded - amount - BigInt(done.fee));
    });
  });
}

/** The signed bytes of one of a withdrawal's transactions (the current one, or one a bump replaced). */
async function signedOf(g: GovernedApp, id: string, txid: string): Promise<string> {
  const { sql } = await import('kysely');
  const r = await sql<{ tracking: string; txid: string; signed_tx: string }>`select tracking, txid, signed_tx from executions where request_id = ${id}`.execute(g.t.app.database.db);
  const row = r.rows[0]!;
  if (row.txid === txid) return row.signed_tx;
  const replaced = (JSON.parse(row.tracking) as { replaced?: Array<{ txid: string; signedTx: string }> }).replaced ?? [];
  return replaced.find((x) => x.txid === txid)!.signedTx;
}
