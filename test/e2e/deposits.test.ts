/**
 * Deposits and balances end to end, on real nodes and on both databases: wallets created through the API
 * (signed, via the SDK), funded on anvil (ETH, a solc-compiled ERC-20 in the registry, and a spam token that
 * must be ignored) and on bcoin regtest (P2WPKH and P2TR), scanned into pending then credited deposits, with
 * balances compared to the nodes; real reorgs (anvil snapshot/revert, bcoin invalidateblock) un-credit with
 * an audit entry; a spend from the wallet marks its coin spent and books the change; and a restarted
 * Strongroom resumes scanning from the saved state without crediting anything twice.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.ts';
import { deriveP2wpkhAddress } from '../../src/chains/bitcoin/address.ts';
import { broadcastBitcoin } from '../../src/chains/bitcoin/broadcast.ts';
import { buildPsbt, type WalletUtxo } from '../../src/chains/bitcoin/psbt.ts';
import { initialBitcoinScanState, scanBitcoin, unspentCredits, watchAddresses } from '../../src/chains/bitcoin/scanner.ts';
import {
  BCOIN_REGTEST_SEGWIT_HEIGHT,
  devSigner,
  startAnvil,
  startBitcoinRegtest,
  type AnvilDevnet,
  type BitcoinRegtestDevnet,
} from '../../src/chains/devnet/index.ts';
import { createEvmRpc, type EvmRpc } from '../../src/chains/evm/rpc.ts';
import { createClient, type StrongroomClient, type WalletBalance } from '../../src/sdk/client.ts';
import { generateKeyFile, loadKeyFile } from '../../src/sdk/key-file.ts';
import { createStrongroom, type Strongroom } from '../../src/service/app.ts';
import type { ChainsConfig } from '../../src/service/chains-config.ts';
import { nextWalletAddress } from '../../src/service/wallet-addresses.ts';
import { utxoRepository } from '../../src/store/repositories/utxo-repository.ts';
import { walletAddressesRepository } from '../../src/store/repositories/wallet-addresses-repository.ts';
import { accountXpubs, generateMnemonic, masterFromSeed, seedFromMnemonic, type HDKey } from '../../src/vault/hd.ts';
import { signBitcoinPsbt } from '../../src/vault/signers/bitcoin-signer.ts';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../support/databases.ts';

const NET = 'regtest-bcoin' as const;
const ETH = 10n ** 18n;
const BTC = 100_000_000n;
const CLI = join(import.meta.dirname, '../../src/cli/main.ts');
const FUNDER_MNEMONIC = 'legal winner thank year wave sausage worth useful legal winner thank yellow';

let anvil: AnvilDevnet;
let evm: EvmRpc;
let bitcoin: BitcoinRegtestDevnet;
let token: `0x${string}`;
let spam: `0x${string}`;
let funder: { master: HDKey; fingerprint: string; receive: string; change: ReturnType<typeof deriveP2wpkhAddress>; coins: WalletUtxo[] };

const mineEvm = (n: number) => evm.call('anvil_mine', [`0x${n.toString(16)}`], () => null);
const mineBtc = (n: number) => bitcoin.mine(n, funder.receive);

/** Runs the CLI without blocking this process (the server under test answers it). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, STRONGROOM_SERVER: '', STRONGROOM_KEY: '' } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** Pays `amount` from a dev account on anvil (a fresh signer each time: reverts would confuse a nonce cache). */
async function sendEth(to: string, amount: bigint, account = 1): Promise<void> {
  const s = devSigner(anvil, anvil.accounts[account]!);
  try {
    await s.sendEth(to, amount);
  } finally {
    s.close();
  }
}

async function mint(contract: string, to: string, amount: bigint): Promise<void> {
  const s = devSigner(anvil, anvil.accounts[0]!);
  try {
    await s.mint(contract, to, amount);
  } finally {
    s.close();
  }
}

/** A Bitcoin transaction from the funder paying `amount` to `address`, accepted into bcoin's mempool. */
async function fundBtc(address: string, amount: bigint): Promise<string> {
  const coin = funder.coins.shift()!;
  const built = buildPsbt({
    network: NET, utxos: [coin], outputs: [{ address, amount }],
    change: { kind: 'p2wpkh', publicKey: funder.change.publicKey, path: "m/84'/1'/0'/1/0", script: funder.change.script },
    masterFingerprint: funder.fingerprint, feeRate: 2, tipHeight: await bitcoin.rpc.getBlockCount(),
  });
  const signed = signBitcoinPsbt({
    master: funder.master, psbt: built.psbt,
    intent: { chain: 'bitcoin', network: NET, asset: 'BTC', destination: address, amount, feeCap: 100_000n, changePolicy: 'same-wallet' },
  });
  expect((await broadcastBitcoin(bitcoin.rpc, signed.rawTx)).accepted).toBe('mempool');
  return signed.txid;
}

beforeAll(async () => {
  [anvil, bitcoin] = await Promise.all([startAnvil(), startBitcoinRegtest()]);
  evm = createEvmRpc(anvil.rpcUrl, { expectedChainId: anvil.chainId });
  const deployer = devSigner(anvil, anvil.accounts[0]!);
  token = await deployer.deployErc20({ name: 'Test Dollar', symbol: 'TUSD', decimals: 6 });
  spam = await deployer.deployErc20({ name: 'Free Money', symbol: 'SPAM', decimals: 18 });
  deployer.close();

  // A funder wallet with mature coinbases, past segwit activation, so it can pay P2WPKH and P2TR outputs.
  const seed = seedFromMnemonic(FUNDER_MNEMONIC);
  const master = masterFromSeed(seed, NET);
  seed.fill(0);
  const xpubs = accountXpubs(master, NET);
  const receive = deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 0, 0);
  const change = deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 1, 0);
  await bitcoin.mine(BCOIN_REGTEST_SEGWIT_HEIGHT + 110, receive.address);
  const scan = await scanBitcoin(bitcoin.rpc, initialBitcoinScanState(1, 1000), watchAddresses([receive.address], NET), { maxBlocks: 1000 });
  const coins = unspentCredits(scan.state)
    .filter((c) => c.confirmations >= 101)
    .map((c) => ({ txid: c.txid, vout: c.vout, amount: c.value, script: c.script, kind: 'p2wpkh' as const, publicKey: receive.publicKey, path: "m/84'/1'/0'/0/0" }));
  funder = { master, fingerprint: xpubs.masterFingerprint, receive: receive.address, change, coins };
}, 120_000);

afterAll(async () => {
  funder?.master.wipePrivateData();
  evm?.destroy();
  await Promise.all([anvil?.stop(), bitcoin?.stop()]);
});

for (const dialect of DIALECTS) {
  describe.sequential(`deposits and balances on ${dialect}`, () => {
    let tdb: TestDatabase;
    let dataDir: string;
    let chains: ChainsConfig;
    let app: Strongroom;
    let server: FastifyInstance;
    let client: StrongroomClient;
    let tenantId: string;
    let keyFile: string;
    let signer: ReturnType<typeof loadKeyFile>;
    let baseUrl: string;
    const wallet: { evm: string; p2wpkh: string; p2tr: string } = { evm: '', p2wpkh: '', p2tr: '' };

    async function start(): Promise<void> {
      app = await createStrongroom({ database: tdb.config, dataDir, vault: { placement: 'local', seal: 'shamir', scrypt: { N: 1024 } }, chains });
      server = await buildServer(app);
      await server.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = `http://localhost:${(server.server.address() as { port: number }).port}`;
      client = createClient({ baseUrl, signer });
    }
    async function stop(): Promise<void> {
      await server.close();
      await app.close();
    }
    const actions = async (action: string) =>
      Number((await sql<{ n: number }>`select count(*) as n from audit_entries where tenant_id = ${tenantId} and action = ${action}`.execute(app.database.db)).rows[0]!.n);
    const outbox = async (topic: string) =>
      Number((await sql<{ n: number }>`select count(*) as n from outbox where tenant_id = ${tenantId} and topic = ${topic}`.execute(app.database.db)).rows[0]!.n);
    const balance = async (walletId: string, asset: string): Promise<WalletBalance> =>
      (await client.walletBalances(walletId)).find((b) => b.asset === asset)!;
    /** The sum of the wallet's available coins, each checked against the node's UTXO set. */
    async function nodeBtcBalance(walletId: string): Promise<bigint> {
      let total = 0n;
      for (const c of await utxoRepository.available(app.database.db, { tenantId, walletId })) {
        const out = await bitcoin.rpc.getTxOut(c.txid, c.vout, false);
        expect(out?.value).toBe(c.value);
        total += c.value;
      }
      return total;
    }

    beforeAll(async () => {
      tdb = await createTestDatabase(dialect);
      await tdb.database.close(); // the app opens its own connection
      dataDir = mkdtempSync(join(tmpdir(), 'strongroom-deposits-'));
      keyFile = join(dataDir, 'alice.key');
      generateKeyFile(keyFile, { alg: 'ed25519' });
      signer = loadKeyFile(keyFile);
      chains = {
        bitcoin: { network: NET, rpc: { url: bitcoin.rpcUrl, username: bitcoin.rpcUser, password: bitcoin.rpcPassword }, confirmations: 2 },
        ethereum: { network: 'anvil', chainId: anvil.chainId.toString(), rpcUrl: anvil.rpcUrl, confirmations: 2, tokens: [{ symbol: 'TUSD', contract: token, decimals: 6 }] },
      };
      await start();
      const init = await app.initialize({ tenant: 'acme', admins: [{ name: 'alice', alg: signer.alg, publicKey: signer.publicKeySpki }] });
      tenantId = init.tenantId;
      await app.vault.initialize(tenantId, { mechanism: 'shamir', threshold: 2, custodians: ['c1', 'c2'].map((name) => ({ name, passphrase: `${name} passphrase` })) });
      // First scans record where each chain starts; what is paid afterwards is found.
      await app.deposits.scan('ethereum');
      await app.deposits.scan('bitcoin');
    }, 60_000);

    afterAll(async () => {
      await stop().catch(() => undefined);
      await tdb?.dispose().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('creates a wallet through the API with its first addresses, and derives more', async () => {
      const w = await client.createWallet({ walletId: 'hot-1', tier: 'hot', label: 'Hot' }, { idempotencyKey: 'create-hot-1' });
      expect(w).toMatchObject({ walletId: 'hot-1', tier: 'hot', label: 'Hot', network: NET });
      const by = (kind: string) => w.addresses.find((a) => a.kind === kind)!;
      expect(by('p2wpkh')).toMatchObject({ chain: 'bitcoin', change: 0, index: 0, path: "m/84'/1'/0'/0/0" });
      expect(by('p2tr')).toMatchObject({ chain: 'bitcoin', change: 0, index: 0, path: "m/86'/1'/0'/0/0" });
      expect(by('evm')).toMatchObject({ chain: 'ethereum', index: 0, path: "m/44'/60'/0'/0/0" });
      expect(by('p2wpkh').address.startsWith('rb1q')).toBe(true);
      expect(by('p2tr').address.startsWith('rb1p')).toBe(true);
      wallet.p2wpkh = by('p2wpkh').address;
      wallet.p2tr = by('p2tr').address;
      wallet.evm = by('evm').address;

      // The same Idempotency-Key answers the same; another create of the same id is a conflict.
      expect(await client.createWallet({ walletId: 'hot-1', tier: 'hot', label: 'Hot' }, { idempotencyKey: 'create-hot-1' })).toEqual(w);
      await expect(client.createWallet({ walletId: 'hot-1', tier: 'warm' })).rejects.toMatchObject({ code: 'E_CONFLICT' });
      await expect(client.createWallet({ walletId: 'bad id!', tier: 'hot' })).rejects.toMatchObject({ code: 'E_VALIDATION' });
      expect(await actions('wallet.create')).toBe(1);
      expect(await actions('vault.wallet.create')).toBe(1);

      const next = await client.newWalletAddress('hot-1', { chain: 'bitcoin', kind: 'p2wpkh' });
      expect(next).toMatchObject({ index: 1, path: "m/84'/1'/0'/0/1" });
      // EVM wallets have one address (account model): asking again answers it.
      expect((await client.newWalletAddress('hot-1', { chain: 'ethereum', kind: 'evm' })).address).toBe(wallet.evm);
      await expect(client.newWalletAddress('hot-1', { chain: 'ethereum', kind: 'p2tr' })).rejects.toMatchObject({ code: 'E_VALIDATION' });
      await expect(client.newWalletAddress('nope', { chain: 'bitcoin', kind: 'p2wpkh' })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      expect((await client.walletAddresses('hot-1')).map((a) => `${a.kind}/${a.index}`)).toEqual(['evm/0', 'p2tr/0', 'p2wpkh/0', 'p2wpkh/1']);
      expect((await client.getWallet('hot-1')).addresses).toHaveLength(4);
      expect((await client.listWallets()).map((x) => x.walletId)).toEqual(['hot-1']);
      await expect(client.walletBalances('nope')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      expect(await client.walletBalances('hot-1')).toEqual([
        { asset: 'BTC', chain: 'bitcoin', decimals: 8, available: '0', pending: '0', locked: '0' },
        { asset: 'ETH', chain: 'ethereum', decimals: 18, available: '0', pending: '0', locked: '0' },
        { asset: 'TUSD', chain: 'ethereum', decimals: 6, available: '0', pending: '0', locked: '0' },
      ]);
    });

    it('ETH: pending at 1 confirmation, credited at 2 with its audit entry and outbox event', async () => {
      await sendEth(wallet.evm, 2n * ETH);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 1, credited: 0 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ available: '0', pending: (2n * ETH).toString() });
      const [pending] = await client.walletDeposits('hot-1');
      expect(pending).toMatchObject({ asset: 'ETH', amount: (2n * ETH).toString(), state: 'pending', position: -1, address: wallet.evm });
      expect(await actions('deposit.detected')).toBe(1);

      await mineEvm(1);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 0, credited: 1 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ available: (2n * ETH).toString(), pending: '0', locked: '0' });
      expect(BigInt((await balance('hot-1', 'ETH')).available)).toBe(await evm.getBalance(wallet.evm));
      expect(await actions('deposit.credited')).toBe(1);
      expect(await outbox('deposit.credited')).toBe(1);
      // Scanning again changes nothing.
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 0, credited: 0 });
      expect(await actions('deposit.credited')).toBe(1);
    });

    it('ERC-20: registry tokens are credited, a spam token is ignored', async () => {
      await mint(token, wallet.evm, 5_000_000n);
      await mint(spam, wallet.evm, 10n ** 24n);
      await mineEvm(1);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ credited: 1 });
      expect(await balance('hot-1', 'TUSD')).toMatchObject({ available: '5000000', pending: '0' });
      expect(await evm.erc20BalanceOf(token, wallet.evm)).toBe(5_000_000n);
      expect(await evm.erc20BalanceOf(spam, wallet.evm)).toBe(10n ** 24n);
      const deposits = await client.walletDeposits('hot-1');
      expect(deposits.map((d) => d.asset).sort()).toEqual(['ETH', 'TUSD']);
      expect((await client.walletBalances('hot-1')).map((b) => b.asset)).toEqual(['BTC', 'ETH', 'TUSD']);
    });

    it('EVM reorg: a credited deposit whose block vanished is un-credited (audited); a pending one is dropped', async () => {
      const snapshot = await evm.call('evm_snapshot', [], String);
      await sendEth(wallet.evm, ETH, 2);
      await mineEvm(1);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ credited: 1 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ available: (3n * ETH).toString() });

      await evm.call('evm_revert', [snapshot], Boolean);
      await mineEvm(4);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ reorged: 1, credited: 0 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ available: (2n * ETH).toString(), pending: '0' });
      expect(BigInt((await balance('hot-1', 'ETH')).available)).toBe(await evm.getBalance(wallet.evm));
      expect(await actions('deposit.reorged')).toBe(1);
      expect(await outbox('deposit.reorged')).toBe(1);
      expect((await client.walletDeposits('hot-1')).filter((d) => d.state === 'reorged').map((d) => d.amount)).toEqual([ETH.toString()]);

      const again = await evm.call('evm_snapshot', [], String);
      await sendEth(wallet.evm, 3n * ETH, 3);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 1 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ pending: (3n * ETH).toString() });
      await evm.call('evm_revert', [again], Boolean);
      await mineEvm(3);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ dropped: 1 });
      expect(await balance('hot-1', 'ETH')).toMatchObject({ available: (2n * ETH).toString(), pending: '0' });
      expect(await actions('deposit.dropped')).toBe(1);
    });

    it('Bitcoin: P2WPKH and P2TR deposits go pending, then credited as coins; balances match the node', async () => {
      await fundBtc(wallet.p2wpkh, 3n * BTC / 2n);
      await mineBtc(1);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ detected: 1, credited: 0 });
      expect(await balance('hot-1', 'BTC')).toMatchObject({ available: '0', pending: (3n * BTC / 2n).toString() });

      await mineBtc(1);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ credited: 1 });
      expect(await balance('hot-1', 'BTC')).toMatchObject({ available: (3n * BTC / 2n).toString(), pending: '0', locked: '0' });

      await fundBtc(wallet.p2tr, BTC / 4n);
      await mineBtc(2);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ detected: 0, credited: 1 });
      const b = await balance('hot-1', 'BTC');
      expect(b.available).toBe((7n * BTC / 4n).toString());
      expect(await nodeBtcBalance('hot-1')).toBe(7n * BTC / 4n);
      // ETH, TUSD, the ETH a reorg took back, and these two.
      expect(await actions('deposit.credited')).toBe(5);
    });

    it('Bitcoin reorg (invalidateblock): the credited deposit is reorged, its coin removed', async () => {
      const [, second] = (await client.walletAddresses('hot-1')).filter((a) => a.kind === 'p2wpkh');
      const txid = await fundBtc(second!.address, BTC / 10n);
      const [blockHash] = await mineBtc(1);
      await mineBtc(1);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ credited: 1 });
      expect(await balance('hot-1', 'BTC')).toMatchObject({ available: (7n * BTC / 4n + BTC / 10n).toString() });

      await bitcoin.rpc.call('invalidateblock', [blockHash], () => null);
      // bcoin does not return the disconnected transaction to its mempool: the deposit is gone.
      await mineBtc(3);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ reorged: 1 });
      expect(await balance('hot-1', 'BTC')).toMatchObject({ available: (7n * BTC / 4n).toString(), pending: '0' });
      expect(await nodeBtcBalance('hot-1')).toBe(7n * BTC / 4n);
      expect((await utxoRepository.available(app.database.db, { tenantId, walletId: 'hot-1' })).some((c) => c.txid === txid)).toBe(false);
      expect(await actions('deposit.reorged')).toBe(2);
    });

    it('a spend of a wallet coin marks it spent and books the change as a coin, not a deposit', async () => {
      // A wallet whose seed the test knows, created in the vault and then adopted by the API (a create
      // interrupted before its addresses were stored completes this way).
      const mnemonic = generateMnemonic(128);
      await app.vault.importWallet(tenantId, { walletId: 'known', tier: 'hot', mnemonic });
      const w = await client.createWallet({ walletId: 'known', tier: 'hot' });
      const receive = w.addresses.find((a) => a.kind === 'p2wpkh')!;
      await fundBtc(receive.address, 2n * BTC);
      await mineBtc(2);
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ credited: 1 });

      // Spend it the way a withdrawal does: change to a fresh internal address of the same wallet.
      const info = await app.vault.wallet(tenantId, 'known');
      const change = await nextWalletAddress(app.database.db, tenantId, info, 'p2wpkh', 1, NET, new Date().toISOString());
      const [coin] = await utxoRepository.available(app.database.db, { tenantId, walletId: 'known' });
      const own = (await walletAddressesRepository.get(app.database.db, tenantId, 'bitcoin', coin!.address))!;
      const seed = seedFromMnemonic(mnemonic);
      const master = masterFromSeed(seed, NET);
      seed.fill(0);
      const built = buildPsbt({
        network: NET,
        utxos: [{ txid: coin!.txid, vout: coin!.vout, amount: coin!.value, script: coin!.script, kind: 'p2wpkh', publicKey: Buffer.from(own.publicKey, 'hex'), path: own.path }],
        outputs: [{ address: funder.receive, amount: BTC / 2n }],
        change: { kind: 'p2wpkh', publicKey: Buffer.from(change.publicKey, 'hex'), path: change.path, script: Buffer.from(change.script, 'hex') },
        masterFingerprint: info.fingerprint, feeRate: 2, tipHeight: await bitcoin.rpc.getBlockCount(),
      });
      const signed = signBitcoinPsbt({
        master, psbt: built.psbt,
        intent: { chain: 'bitcoin', network: NET, asset: 'BTC', destination: funder.receive, amount: BTC / 2n, feeCap: 100_000n, changePolicy: 'same-wallet' },
      });
      master.wipePrivateData();
      await broadcastBitcoin(bitcoin.rpc, signed.rawTx);
      await mineBtc(2);
      const depositsBefore = await outbox('deposit.credited');
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ coins: 1, credited: 1 });
      const [spent] = (await sql<{ state: string; spent_by: string }>`select state, spent_by from utxos where txid = ${coin!.txid} and vout = ${coin!.vout}`.execute(app.database.db)).rows;
      expect(spent).toEqual({ state: 'spent', spent_by: signed.txid });
      expect(await balance('known', 'BTC')).toMatchObject({ available: built.change.toString(), pending: '0' });
      expect(await nodeBtcBalance('known')).toBe(built.change);
      // The change is the wallet's coin but not a deposit: no deposit event, not listed.
      expect(await outbox('deposit.credited')).toBe(depositsBefore);
      expect(await actions('change.credited')).toBe(1);
      expect((await client.walletDeposits('known')).map((d) => d.amount)).toEqual([(2n * BTC).toString()]);
    });

    it('a scan whose state was never saved (a crash after booking) runs again without booking twice', async () => {
      const db = app.database.db;
      const saved = (await sql<{ state: string; tip: number }>`select state, tip from chain_scans where chain = 'ethereum'`.execute(db)).rows[0]!;
      await sendEth(wallet.evm, ETH / 4n, 5);
      await mineEvm(1);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ credited: 1 });
      const credited = await actions('deposit.credited');
      // Put the older state back, as if the process died before saving it: the same blocks are scanned again.
      await sql`update chain_scans set state = ${saved.state}, tip = ${saved.tip} where chain = 'ethereum'`.execute(db);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 0, credited: 0 });
      expect(await actions('deposit.credited')).toBe(credited);
      expect(BigInt((await balance('hot-1', 'ETH')).available)).toBe(await evm.getBalance(wallet.evm));
    });

    it('after a restart, scanning resumes from the saved state and credits nothing twice', async () => {
      const credited = await actions('deposit.credited');
      const before = { hot: await client.walletBalances('hot-1'), known: await client.walletBalances('known') };
      await stop();
      await start();
      expect(await app.deposits.scan('ethereum')).toMatchObject({ detected: 0, credited: 0, reorged: 0 });
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ detected: 0, credited: 0, reorged: 0, coins: 0 });
      expect(await actions('deposit.credited')).toBe(credited);
      expect(await client.walletBalances('hot-1')).toEqual(before.hot);
      expect(await client.walletBalances('known')).toEqual(before.known);

      // New deposits after the restart are found and credited once.
      await sendEth(wallet.evm, ETH / 2n, 4);
      await fundBtc(wallet.p2tr, BTC / 20n);
      await Promise.all([mineEvm(1), mineBtc(2)]);
      expect(await app.deposits.scan('ethereum')).toMatchObject({ credited: 1 });
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ credited: 1 });
      expect(await app.deposits.scan('bitcoin')).toMatchObject({ credited: 0 });
      expect(await actions('deposit.credited')).toBe(credited + 2);
      expect(BigInt((await balance('hot-1', 'ETH')).available)).toBe(await evm.getBalance(wallet.evm));
      expect(await nodeBtcBalance('hot-1')).toBe(7n * BTC / 4n + BTC / 20n);
      expect(BigInt((await balance('hot-1', 'BTC')).available)).toBe(7n * BTC / 4n + BTC / 20n);
    });

    it('the CLI lists wallets, derives an address and shows balances', async () => {
      const opts = ['--server', baseUrl, '--key', keyFile];
      const list = await cli(['wallets', 'list', ...opts]);
      expect(list.code, list.err).toBe(0);
      expect((JSON.parse(list.out) as Array<{ walletId: string }>).map((w) => w.walletId)).toEqual(['hot-1', 'known']);
      const next = await cli(['wallets', 'new-address', 'hot-1', '--chain', 'bitcoin', '--kind', 'p2tr', ...opts]);
      expect(next.code, next.err).toBe(0);
      expect(JSON.parse(next.out)).toMatchObject({ kind: 'p2tr', index: 1, path: "m/86'/1'/0'/0/1" });
      const balances = await cli(['wallets', 'balances', 'hot-1', ...opts]);
      expect(balances.code, balances.err).toBe(0);
      expect(JSON.parse(balances.out)).toEqual(await client.walletBalances('hot-1'));
      const missing = await cli(['wallets', 'balances', 'nope', ...opts]);
      expect(missing.code).toBe(1);
      expect(missing.err).toContain('E_NOT_FOUND');
    });

    it('the audit chain still verifies end to end', async () => {
      const report = await app.audit.verify(tenantId);
      expect(report.ok).toBe(true);
    });
  });
}
