/**
 * Issue 5 fault tests, on a real anvil node: a worker process SIGKILLed at each point between approved and
 * confirmed, then a fresh worker → exactly one transaction per request on chain and nothing left in
 * `signing`; two worker processes racing the same jobs → one transaction per request; a node that times out
 * or answers garbage → retries with typed errors, never a duplicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startAnvil, devSigner, type AnvilDevnet, type DevSigner } from '../../src/chains/devnet/index.ts';
import { createEvmRpc, type EvmRpc } from '../../src/chains/evm/rpc.ts';
import type { PolicyDocument } from '../../src/policy/index.ts';
import type { ChainsConfig } from '../../src/service/chains-config.ts';
import { deriveWalletAddress } from '../../src/service/wallet-addresses.ts';
import { startVaultServer, type VaultServer } from '../../src/vault/vault-server.ts';
import { DIALECTS } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { startGovernedApp, WALLET, type GovernedApp } from '../support/governed-app.ts';
import { startFaultyProxy, type FaultyProxy } from '../support/faulty-proxy.ts';

const ETH = 10n ** 18n;
const AMOUNT = 10n ** 16n; // 0.01 ETH
const DEST = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const POINTS = ['before-prepare-commit', 'after-prepare-commit', 'after-vault-sign', 'after-signed-commit', 'after-broadcast', 'after-broadcast-commit'];
const POLICY: PolicyDocument = {
  version: 1,
  name: 'withdrawals',
  rules: [{ id: 'two', when: { requestType: ['transfer'], asset: ['ETH'] }, action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } } }],
  tests: [],
};

let anvil: AnvilDevnet;
let dev: DevSigner;
let rpc: EvmRpc;

beforeAll(async () => {
  anvil = await startAnvil();
  rpc = createEvmRpc(anvil.rpcUrl, { expectedChainId: anvil.chainId });
  dev = devSigner(anvil, anvil.accounts[0]!);
});
afterAll(async () => {
  rpc?.destroy();
  dev?.close();
  await anvil?.stop();
});

for (const dialect of DIALECTS) {
  describe(`withdrawal faults on ${dialect}`, () => {
    let g: GovernedApp;
    let sender: string;
    let vaultServer: VaultServer;
    let dir: string;
    let chains: ChainsConfig;
    const children = new Set<ChildProcess>();

    beforeAll(async () => {
      chains = { ethereum: { network: 'anvil', chainId: anvil.chainId.toString(), rpcUrl: anvil.rpcUrl, confirmations: 1 } };
      g = await startGovernedApp(dialect, { chains });
      expect((await g.publish(POLICY)).body.status).toBe('applied');
      const info = await g.t.app.vault.wallet(g.t.tenantId, WALLET);
      sender = deriveWalletAddress(g.t.tenantId, info, 'evm', 0, 0, 'mainnet', new Date().toISOString()).address;
      await dev.sendEth(sender, 5n * ETH);
      dir = mkdtempSync(join(tmpdir(), 'strongroom-faults-'));
      vaultServer = await startVaultServer({ socketPath: join(dir, 'vault.sock'), vault: g.t.app.vault });
    });
    afterAll(async () => {
      for (const c of children) c.kill('SIGKILL');
      await vaultServer?.close();
      await g?.t.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function worker(opts: { killAt?: string; chains?: ChainsConfig } = {}): { child: ChildProcess; exited: Promise<NodeJS.Signals | number | null> } {
      const cfg = { database: g.t.tdb.config, dataDir: dir, socketPath: vaultServer.socketPath, chains: opts.chains ?? chains, killAt: opts.killAt, leaseMs: 1500 };
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/withdrawal-worker.ts', JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.stderr!.on('data', () => {});
      child.stdout!.on('data', () => {});
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => {
        children.delete(child);
        resolve(signal ?? code);
      }));
      return { child, exited };
    }
    async function stopWorker(w: ReturnType<typeof worker>): Promise<void> {
      w.child.kill('SIGTERM');
      const end = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (end === 'timeout') w.child.kill('SIGKILL');
      await w.exited;
    }

    async function approved(): Promise<string> {
      const r = await g.transfer({ asset: 'ETH', amount: '0.01', to: DEST });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await g.approveTransfer(r.body.id, g.alice);
      expect((await g.approveTransfer(r.body.id, g.bob)).body.status).toBe('approved');
      return r.body.id as string;
    }
    const statusOf = async (id: string) => (await g.t.app.requests.get({ tenant: g.t.tenantId, userId: 'x', keyId: 'x' }, id)).status;
    const confirmed = (id: string) => waitFor(`${id} confirmed`, async () => ((await statusOf(id)) === 'confirmed' ? true : undefined), 60_000);
    async function onChainState() {
      return { nonce: await rpc.getTransactionCount(sender, 'latest'), dest: await rpc.getBalance(DEST) };
    }

    for (const point of POINTS) {
      it(`SIGKILL at ${point}, then a fresh worker: exactly one transaction, nothing stuck`, async () => {
        const before = await onChainState();
        const id = await approved();
        const killer = worker({ killAt: point });
        expect(await killer.exited).toBe('SIGKILL');
        const w = worker();
        await confirmed(id);
        await stopWorker(w);
        const after = await onChainState();
        expect(after.nonce - before.nonce).toBe(1);
        expect(after.dest - before.dest).toBe(AMOUNT);
        const stuck = await sql<{ n: number }>`select count(*) as n from requests where status in ('signing', 'signed', 'approved')`.execute(g.t.app.database.db);
        expect(Number(stuck.rows[0]!.n)).toBe(0);
      }, 90_000);
    }

    it('two workers racing the same jobs: one transaction per request', async () => {
      const before = await onChainState();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await approved());
      const a = worker();
      const b = worker();
      for (const id of ids) await confirmed(id);
      await Promise.all([stopWorker(a), stopWorker(b)]);
      const after = await onChainState();
      expect(after.nonce - before.nonce).toBe(ids.length);
      expect(after.dest - before.dest).toBe(AMOUNT * BigInt(ids.length));
      const txids = await sql<{ txid: string }>`select txid from executions where request_id in (${sql.join(ids)})`.execute(g.t.app.database.db);
      expect(new Set(txids.rows.map((r) => r.txid)).size).toBe(ids.length);
    }, 120_000);

    it('a node that times out and answers garbage: retries with typed errors, never a duplicate', async () => {
      let proxy: FaultyProxy | undefined;
      try {
        proxy = await startFaultyProxy(anvil.rpcUrl);
        const before = await onChainState();
        const id = await approved();
        // Every third call hangs past the client's timeout, every third answers garbage, and the first
        // eth_sendRawTransaction reaches the node but its answer is lost.
        proxy.set({ hangEvery: 5, garbageEvery: 5, garbageOffset: 2, loseAnswerOf: 'eth_sendRawTransaction' });
        const w = worker({ chains: { ethereum: { ...chains.ethereum!, rpcUrl: proxy.url, timeoutMs: 400 } } });
        await confirmed(id);
        await stopWorker(w);
        const after = await onChainState();
        expect(after.nonce - before.nonce).toBe(1);
        expect(after.dest - before.dest).toBe(AMOUNT);
        expect(proxy.stats().hung + proxy.stats().garbage + proxy.stats().lost).toBeGreaterThan(2);
        const errors = await sql<{ last_error: string | null }>`select last_error from jobs where key = ${id}`.execute(g.t.app.database.db);
        // If the job had to retry, what it recorded is a typed chain error, not a crash.
        for (const e of errors.rows) if (e.last_error) expect(e.last_error).toMatch(/^E_[A-Z_]+: /);
      } finally {
        await proxy?.close();
      }
    }, 120_000);
  });
}
