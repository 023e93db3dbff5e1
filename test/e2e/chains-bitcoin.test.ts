/**
 * End to end on a real bcoin regtest node: mine to a BIP84 address of a wallet derived from a fixed test
 * mnemonic until segwit is active and coinbases have matured, find the UTXOs with the scanner, then spend
 * through the real builder → vault signer → broadcast (acceptance proven by mempool entry, then block), and
 * check balances, idempotent re-broadcast, a refused double spend and a real reorg (`invalidateblock`).
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startBitcoinRegtest,
  BCOIN_REGTEST_SEGWIT_HEIGHT,
  type BitcoinRegtestDevnet,
} from '../../src/chains/devnet/index.ts';
import { deriveP2wpkhAddress } from '../../src/chains/bitcoin/address.ts';
import { buildPsbt, type WalletUtxo } from '../../src/chains/bitcoin/psbt.ts';
import { broadcastBitcoin, bitcoinTxStatus } from '../../src/chains/bitcoin/broadcast.ts';
import {
  bitcoinCredits,
  initialBitcoinScanState,
  scanBitcoin,
  unspentCredits,
  watchAddresses,
  type BitcoinScanState,
  type BitcoinWatch,
} from '../../src/chains/bitcoin/scanner.ts';
import { accountXpubs, masterFromSeed, seedFromMnemonic, type HDKey } from '../../src/vault/hd.ts';
import { signBitcoinPsbt } from '../../src/vault/signers/bitcoin-signer.ts';
import type { BitcoinTransferIntent } from '../../src/vault/signers/intent.ts';
import { isStrongroomError } from '../../src/domain/errors.ts';

const NET = 'regtest-bcoin' as const;
const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const OTHER = 'legal winner thank year wave sausage worth useful legal winner thank yellow';
const BTC = 100_000_000n;
const WALLET_BIRTH = 341;

let node: BitcoinRegtestDevnet;
let master: HDKey;
let receive: ReturnType<typeof deriveP2wpkhAddress>;
let change: ReturnType<typeof deriveP2wpkhAddress>;
let destination: string;
let watch: BitcoinWatch;
let scan: BitcoinScanState;
let fingerprint: string;
let spentTx: { txid: string; rawTx: Uint8Array; inputs: WalletUtxo[]; fee: bigint };

const balance = (s: BitcoinScanState) => unspentCredits(s).reduce((t, c) => t + c.value, 0n);

function spendable(s: BitcoinScanState): WalletUtxo[] {
  // A coinbase output can be spent once it is 100 blocks deep (the spending tx goes in the next block).
  return unspentCredits(s)
    .filter((c) => !c.coinbase || c.confirmations >= 100)
    .map((c) => {
      const own = c.address === receive.address ? receive : change;
      return {
        txid: c.txid,
        vout: c.vout,
        amount: c.value,
        script: c.script,
        kind: 'p2wpkh' as const,
        publicKey: own.publicKey,
        path: `m/84'/1'/0'/${own.relativePath}`,
      };
    });
}

function intent(amount: bigint): BitcoinTransferIntent {
  return {
    chain: 'bitcoin',
    network: NET,
    asset: 'BTC',
    destination,
    amount,
    feeCap: 100_000n,
    changePolicy: 'same-wallet',
  };
}

beforeAll(async () => {
  node = await startBitcoinRegtest();
  const seed = seedFromMnemonic(MNEMONIC);
  master = masterFromSeed(seed, NET);
  seed.fill(0);
  const xpubs = accountXpubs(master, NET);
  fingerprint = xpubs.masterFingerprint;
  receive = deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 0, 0);
  change = deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 1, 0);
  const otherSeed = seedFromMnemonic(OTHER);
  const other = masterFromSeed(otherSeed, NET);
  otherSeed.fill(0);
  destination = deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 0, 0).address;
  other.wipePrivateData();
  watch = watchAddresses([receive.address, change.address], NET);
  // The wallet is "created" at height 341: the scanner starts there, as it would for a new wallet.
  scan = initialBitcoinScanState(WALLET_BIRTH);
});

afterAll(async () => {
  master?.wipePrivateData();
  await node?.stop();
});

describe('Bitcoin on bcoin regtest', () => {
  it("mines past segwit activation (partly to the wallet) and the scanner finds the wallet's coinbases", async () => {
    expect(receive.address.startsWith('rb1q')).toBe(true);
    await node.mine(WALLET_BIRTH - 1, destination);
    await node.mine(BCOIN_REGTEST_SEGWIT_HEIGHT + 18 - (WALLET_BIRTH - 1), receive.address);
    const r = await scanBitcoin(node.rpc, scan, watch);
    scan = r.state;
    expect(r.tip).toBe(450);
    const credits = bitcoinCredits(scan);
    expect(credits).toHaveLength(110);
    expect(
      credits.every((c) => c.coinbase && c.address === receive.address && c.height >= WALLET_BIRTH),
    ).toBe(true);
    // The scanner's view agrees with the node's UTXO set.
    const first = credits[0]!;
    expect((await node.rpc.getTxOut(first.txid, first.vout))?.value).toBe(first.value);
    expect(spendable(scan).length).toBe(11);
  });

  it('spends: build PSBT → sign (intent checked) → broadcast (mempool entry) → mine → confirmed, balances right', async () => {
    const before = balance(scan);
    const tip = await node.rpc.getBlockCount();
    const feeRate = (await node.rpc.estimateSmartFee(2)) ?? 0; // bcoin: no estimate on a quiet regtest
    const built = buildPsbt({
      network: NET,
      utxos: spendable(scan),
      outputs: [{ address: destination, amount: 3n * BTC }],
      change: { kind: 'p2wpkh', publicKey: change.publicKey, path: `m/84'/1'/0'/1/0`, script: change.script },
      masterFingerprint: fingerprint,
      feeRate,
      feeRateFloor: 2,
      feeRateCap: 50,
      tipHeight: tip,
    });
    const signed = signBitcoinPsbt({ master, psbt: built.psbt, intent: intent(3n * BTC) });
    spentTx = { txid: signed.txid, rawTx: signed.rawTx, inputs: [...built.selected], fee: built.fee };

    const sent = await broadcastBitcoin(node.rpc, signed.rawTx);
    expect(sent).toEqual({ txid: signed.txid, accepted: 'mempool', alreadyKnown: false });
    expect(await node.rpc.getMempoolEntry(signed.txid)).toBeDefined();
    // Same bytes again: recognised, not re-sent, still one transaction.
    expect(await broadcastBitcoin(node.rpc, bytesToHex(signed.rawTx))).toEqual({
      txid: signed.txid,
      accepted: 'mempool',
      alreadyKnown: true,
    });

    await node.mine(1, destination);
    const status = await bitcoinTxStatus(node.rpc, signed.txid);
    expect(status).toMatchObject({ state: 'block', confirmations: 1 });
    expect(await broadcastBitcoin(node.rpc, signed.rawTx)).toEqual({
      txid: signed.txid,
      accepted: 'block',
      alreadyKnown: true,
    });

    const r = await scanBitcoin(node.rpc, scan, watch);
    scan = r.state;
    const spends = r.added.filter((e) => e.kind === 'spend');
    expect(spends.map((s) => (s.kind === 'spend' ? s.spendingTxid : ''))).toEqual(
      built.selected.map(() => signed.txid),
    );
    const changeCredit = r.added.find((e) => e.kind === 'credit' && e.address === change.address);
    expect(changeCredit).toMatchObject({ txid: signed.txid, value: built.change });
    expect(balance(scan)).toBe(before - 3n * BTC - built.fee);
    // On chain: the destination output holds exactly the amount; every spent input is gone from the UTXO set.
    const destVout = signed.summary.outputs.findIndex((o) => o.address === destination);
    expect((await node.rpc.getTxOut(signed.txid, destVout))?.value).toBe(3n * BTC);
    for (const u of built.selected) expect(await node.rpc.getTxOut(u.txid, u.vout)).toBeUndefined();
  });

  it('refuses a double spend of the same inputs as a conflict, and nothing changes', async () => {
    const tip = await node.rpc.getBlockCount();
    const before = balance(scan);
    const built = buildPsbt({
      network: NET,
      utxos: spentTx.inputs,
      outputs: [{ address: destination, amount: 1n * BTC }],
      change: { kind: 'p2wpkh', publicKey: change.publicKey, path: `m/84'/1'/0'/1/0`, script: change.script },
      masterFingerprint: fingerprint,
      feeRate: 2,
      tipHeight: tip,
    });
    const signed = signBitcoinPsbt({ master, psbt: built.psbt, intent: intent(1n * BTC) });
    const err = await broadcastBitcoin(node.rpc, signed.rawTx, { acceptanceTimeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(isStrongroomError(err, 'E_CHAIN_RPC')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({
      reason: 'conflict',
      retriable: false,
    });
    expect(await bitcoinTxStatus(node.rpc, signed.txid)).toEqual({ state: 'unknown' });
    await node.mine(1, destination);
    const r = await scanBitcoin(node.rpc, scan, watch);
    scan = r.state;
    expect(r.added).toEqual([]);
    expect(balance(scan)).toBe(before);
  });

  it('follows a real reorg (invalidateblock): events of the removed block are rolled back, then found again', async () => {
    const { height } = bitcoinCredits(scan).find((c) => c.txid === spentTx.txid)!;
    const hash = await node.rpc.getBlockHash(height);
    const balanceBefore = balance(scan);
    await node.rpc.call('invalidateblock', [hash], () => null);
    // bcoin does not put the disconnected block's transactions back in its mempool: the spend is gone.
    let r = await scanBitcoin(node.rpc, scan, watch);
    scan = r.state;
    expect(r.tip).toBe(height - 1);
    expect(r.removed.length).toBe(spentTx.inputs.length + 1); // its spends and its change credit
    expect(r.removed.every((e) => e.blockHash === hash)).toBe(true);
    expect(balance(scan)).toBe(balanceBefore + 3n * BTC + spentTx.fee);

    // What a worker does for a withdrawal whose transaction vanished: re-broadcast the same bytes.
    expect(await broadcastBitcoin(node.rpc, spentTx.rawTx)).toMatchObject({
      txid: spentTx.txid,
      accepted: 'mempool',
    });
    await node.mine(3, destination);
    r = await scanBitcoin(node.rpc, scan, watch);
    scan = r.state;
    const again = bitcoinCredits(scan).find((c) => c.txid === spentTx.txid)!;
    expect(again.blockHash).not.toBe(hash);
    expect(await node.rpc.getBlockHash(again.height)).toBe(again.blockHash);
    expect(balance(scan)).toBe(balanceBefore);
  });
});
