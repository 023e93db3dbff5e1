/**
 * Issue 5 end to end, on real nodes started and stopped here (anvil with a solc-compiled ERC-20, bcoin
 * regtest) and on both store dialects: fund a wallet, submit withdrawals that need 2 approvals, approve, and
 * watch the executor take each through signing → signed → broadcast → confirmed, with the balances right on
 * chain, and each transition audited with an outbox event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startAnvil, devSigner, type AnvilDevnet, type DevSigner } from '../../src/chains/devnet/index.ts';
import { createEvmRpc, type EvmRpc } from '../../src/chains/evm/rpc.ts';
import type { PolicyDocument } from '../../src/policy/index.ts';
import { deriveWalletAddress } from '../../src/service/wallet-addresses.ts';
import { DIALECTS } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { fingerprint, send } from '../support/app.ts';
import { toChecksumAddress } from '../../src/chains/evm/address.ts';
import { startGovernedApp, WALLET, type GovernedApp } from '../support/governed-app.ts';

const ETH = 10n ** 18n;
const DEST = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

const POLICY: PolicyDocument = {
  version: 1,
  name: 'withdrawals',
  rules: [
    {
      id: 'two-of-treasury',
      when: { requestType: ['transfer'], asset: ['ETH', 'TUSD', 'BTC'] },
      action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } },
    },
  ],
  tests: [],
};

let anvil: AnvilDevnet;
let dev: DevSigner;
let rpc: EvmRpc;
let token: `0x${string}`;

beforeAll(async () => {
  anvil = await startAnvil();
  rpc = createEvmRpc(anvil.rpcUrl, { expectedChainId: anvil.chainId });
  dev = devSigner(anvil, anvil.accounts[0]!);
  token = await dev.deployErc20({ name: 'Test Dollar', symbol: 'TUSD', decimals: 6 });
});

afterAll(async () => {
  rpc?.destroy();
  dev?.close();
  await anvil?.stop();
});

for (const dialect of DIALECTS) {
  describe(`withdrawals on ${dialect}`, () => {
    let g: GovernedApp;
    let sender: string;
    const stop = new AbortController();
    let worker: Promise<void>;

    beforeAll(async () => {
      g = await startGovernedApp(dialect, {
        chains: {
          ethereum: {
            network: 'anvil', chainId: anvil.chainId.toString(), rpcUrl: anvil.rpcUrl, confirmations: 2,
            tokens: [{ symbol: 'TUSD', contract: token, decimals: 6 }],
          },
        },
      });
      expect((await g.publish(POLICY)).body.status).toBe('applied');
      const info = await g.t.app.vault.wallet(g.t.tenantId, WALLET);
      sender = deriveWalletAddress(g.t.tenantId, info, 'evm', 0, 0, 'mainnet', new Date().toISOString()).address;
      await dev.sendEth(sender, 2n * ETH);
      await dev.mint(token, sender, 5_000_000n);
      worker = g.t.app.withdrawals.run({ workerId: `w-${dialect}`, signal: stop.signal, sweepMs: 100 });
    });
    afterAll(async () => {
      stop.abort();
      await worker;
      await g?.t.close();
    });

    async function approved(body: Record<string, unknown>): Promise<string> {
      const r = await g.transfer(body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.status).toBe('pending_approval');
      expect((await g.approveTransfer(r.body.id, g.alice)).body.status).toBe('pending_approval');
      expect((await g.approveTransfer(r.body.id, g.bob)).body.status).toBe('approved');
      return r.body.id as string;
    }
    const statusOf = async (id: string) => (await g.t.app.requests.get({ tenant: g.t.tenantId, userId: 'x', keyId: 'x' }, id)).status;
    async function actions(id: string): Promise<string[]> {
      const rows = await sql<{ action: string }>`select action from audit_entries where tenant_id = ${g.t.tenantId} order by seq`.execute(g.t.app.database.db);
      void id;
      return rows.rows.map((r) => r.action);
    }

    it('ETH: approved → signing → signed → broadcast → confirmed after 2 blocks; the destination is paid once', async () => {
      const before = await rpc.getBalance(DEST);
      const id = await approved({ asset: 'ETH', amount: '0.25', to: DEST });
      await waitFor('broadcast', async () => ((await statusOf(id)) === 'broadcast' ? true : undefined));
      // One block so far (anvil mines each transaction): 2 confirmations need one more.
      expect(await statusOf(id)).toBe('broadcast');
      await rpc.call('anvil_mine', ['0x1'], () => null);
      await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
      expect((await rpc.getBalance(DEST)) - before).toBe(ETH / 4n);
      const exec = await sql<{ state: string; txid: string; fee: string }>`select state, txid, fee from executions where request_id = ${id}`.execute(g.t.app.database.db);
      expect(exec.rows[0]!.state).toBe('confirmed');
      const receipt = (await rpc.getTransactionReceipt(exec.rows[0]!.txid))!;
      expect(BigInt(exec.rows[0]!.fee)).toBe(receipt.gasUsed * receipt.effectiveGasPrice);
      expect((await rpc.getBalance(sender))).toBe(2n * ETH - ETH / 4n - BigInt(exec.rows[0]!.fee));
      const a = await actions(id);
      for (const step of ['request.signing', 'vault.sign', 'request.signed', 'request.broadcast', 'request.confirmed']) expect(a).toContain(step);
      const events = await sql<{ topic: string }>`select topic from outbox where tenant_id = ${g.t.tenantId}`.execute(g.t.app.database.db);
      const topics = events.rows.map((e) => e.topic);
      for (const t of ['request.signing', 'request.signed', 'request.broadcast', 'request.confirmed']) expect(topics).toContain(t);
    });

    it('ERC-20: a token transfer is confirmed and the token balance moves exactly once', async () => {
      const before = await rpc.erc20BalanceOf(token, DEST);
      const id = await approved({ asset: 'TUSD', amount: '1.5', to: DEST });
      await waitFor('broadcast', async () => ((await statusOf(id)) === 'broadcast' ? true : undefined));
      await rpc.call('anvil_mine', ['0x1'], () => null);
      await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
      expect((await rpc.erc20BalanceOf(token, DEST)) - before).toBe(1_500_000n);
      expect(await rpc.erc20BalanceOf(token, sender)).toBe(3_500_000n);
    });

    it('fee bump: a same-nonce replacement paying ≥10% more confirms instead, and the destination is paid once', async () => {
      await rpc.call('evm_setAutomine', [false], () => null);
      try {
        const before = await rpc.getBalance(DEST);
        const nonce = await rpc.getTransactionCount(sender, 'latest');
        const id = await approved({ asset: 'ETH', amount: '0.05', to: DEST });
        await waitFor('broadcast', async () => ((await statusOf(id)) === 'broadcast' ? true : undefined));
        const first = (await send(g.t, 'GET', `/v1/requests/${id}/execution`, { signer: g.tina.signer })).body;
        const bumped = await send(g.t, 'POST', `/v1/requests/${id}/bump-fee`, { signer: g.tina.signer, body: {} });
        expect(bumped.status, JSON.stringify(bumped.body)).toBe(200);
        expect(bumped.body.replaced).toBe(first.txid);
        const newTx = await rpc.getTransactionByHash(bumped.body.txid);
        expect(newTx, 'the replacement reached the node').toBeTruthy();
        expect(newTx!.nonce).toBe(nonce);
        // The node dropped the transaction it replaced (same sender and nonce).
        expect(await rpc.getTransactionByHash(first.txid)).toBeUndefined();
        await rpc.call('anvil_mine', ['0x2'], () => null);
        await waitFor('confirmed', async () => ((await statusOf(id)) === 'confirmed' ? true : undefined));
        const done = (await send(g.t, 'GET', `/v1/requests/${id}/execution`, { signer: g.tina.signer })).body;
        expect(done.txid).toBe(bumped.body.txid);
        expect(done.replaced).toEqual([first.txid]);
        expect(done.summary).toContain('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
        expect((await rpc.getBalance(DEST)) - before).toBe(ETH / 20n);
        expect(await rpc.getTransactionCount(sender, 'latest')).toBe(nonce + 1);
        expect(await rpc.getTransactionReceipt(first.txid)).toBeUndefined();
        expect(await actions(id)).toContain('request.fee_bumped');
      } finally {
        await rpc.call('evm_setAutomine', [true], () => null);
      }
    });

    it('refuses a look-alike of an address-book entry and a bad checksum before recording anything', async () => {
      const r = await g.govern('address_book_add', { entryId: 'exchange', alias: 'Exchange', chain: 'ethereum', address: DEST, trust: 'low' }, g.alice, [g.alice, g.bob]);
      expect(r.body.status, JSON.stringify(r.body)).toBe('applied');
      const lookalike = toChecksumAddress('0x5aae' + '1'.repeat(31) + 'beaed');
      const before = await fingerprint(g.t);
      const fake = await g.transfer({ asset: 'ETH', amount: '0.1', to: lookalike });
      expect(fake.status).toBe(400);
      expect(fake.body.code).toBe('E_ADDRESS_LOOKALIKE');
      const badChecksum = await g.transfer({ asset: 'ETH', amount: '0.1', to: DEST.replace('aAeb', 'AAeb') });
      expect(badChecksum.body.code).toBe('E_ADDRESS_INVALID');
      expect(await fingerprint(g.t)).toBe(before);
    });

    it('a fee cap the network fee does not fit (maxFee in the signed request) fails the withdrawal with E_FEE_TOO_HIGH', async () => {
      const nonce = await rpc.getTransactionCount(sender, 'latest');
      const id = await approved({ asset: 'ETH', amount: '0.01', to: DEST, maxFee: '0.0000000001' });
      await waitFor('failed', async () => ((await statusOf(id)) === 'failed' ? true : undefined));
      const view = (await send(g.t, 'GET', `/v1/requests/${id}/execution`, { signer: g.tina.signer })).body;
      expect(view.state).toBe('failed');
      expect(view.txid).toBeNull(); // refused before any payload was built
      expect(view.error).toMatch(/^E_FEE_TOO_HIGH: /);
      const audit = await sql<{ action: string }>`select action from audit_entries where tenant_id = ${g.t.tenantId} and action = 'request.failed'`.execute(g.t.app.database.db);
      expect(audit.rows.length).toBeGreaterThan(0);
      expect(await rpc.getTransactionCount(sender, 'latest')).toBe(nonce);
    });

    it('a withdrawal the wallet cannot pay fails with E_INSUFFICIENT_FUNDS, audited, and nothing is sent', async () => {
      const nonce = await rpc.getTransactionCount(sender, 'latest');
      const id = await approved({ asset: 'ETH', amount: '50', to: DEST });
      await waitFor('failed', async () => ((await statusOf(id)) === 'failed' ? true : undefined));
      expect(await rpc.getTransactionCount(sender, 'latest')).toBe(nonce);
      expect(await actions(id)).toContain('request.failed');
    });
  });
}
