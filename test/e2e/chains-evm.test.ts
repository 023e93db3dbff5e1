/**
 * End to end on a real anvil node: a wallet derived from a fixed test mnemonic receives ETH and a freshly
 * deployed ERC-20 (compiled by solc, loaded from the committed artifact), the scanner finds both deposits,
 * and the wallet sends ETH and tokens through the real builder → vault signer → idempotent broadcast path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, devSigner, type AnvilDevnet, type DevSigner } from '../../src/chains/devnet/index.ts';
import { createEvmRpc, type EvmRpc } from '../../src/chains/evm/rpc.ts';
import { broadcastEvm, trackEvmTransaction } from '../../src/chains/evm/broadcast.ts';
import { evmCredits, initialEvmScanState, scanEvm, type EvmScanState } from '../../src/chains/evm/scanner.ts';
import { buildErc20Transfer, buildEthTransfer } from '../../src/chains/evm/tx.ts';
import { deriveEvmAddress } from '../../src/chains/evm/address.ts';
import { accountXpubs, masterFromSeed, seedFromMnemonic, type HDKey } from '../../src/vault/hd.ts';
import { signEvmTransaction } from '../../src/vault/signers/evm-signer.ts';
import type { EvmTransferIntent } from '../../src/vault/signers/intent.ts';
import { ERC20_ARTIFACT } from '../../src/chains/evm/erc20/artifact.ts';
import { isStrongroomError } from '../../src/domain/errors.ts';

const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const ETH = 10n ** 18n;
const DEST = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

let devnet: AnvilDevnet;
let dev: DevSigner;
let rpc: EvmRpc;
let master: HDKey;
let wallet: `0x${string}`;
let token: `0x${string}`;
let scan: EvmScanState;

async function waitForReceipt(hash: string) {
  for (let i = 0; i < 100; i++) {
    const receipt = await rpc.getTransactionReceipt(hash);
    if (receipt) return receipt;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no receipt for ${hash}`);
}

beforeAll(async () => {
  devnet = await startAnvil();
  rpc = createEvmRpc(devnet.rpcUrl, { expectedChainId: devnet.chainId });
  dev = devSigner(devnet, devnet.accounts[0]!);
  const seed = seedFromMnemonic(MNEMONIC);
  master = masterFromSeed(seed, 'regtest-bcoin');
  seed.fill(0);
  wallet = deriveEvmAddress(accountXpubs(master, 'regtest-bcoin').bip44eth.xpub, 0).address;
  scan = initialEvmScanState(await rpc.getBlockNumber());
});

afterAll(async () => {
  master?.wipePrivateData();
  rpc?.destroy();
  dev?.close();
  await devnet?.stop();
});

describe('EVM on anvil', () => {
  it('refuses a node on another chain id before sending anything', async () => {
    const wrong = createEvmRpc(devnet.rpcUrl, { expectedChainId: 1n, retries: 0 });
    const err = await wrong.getBlockNumber().catch((e: unknown) => e);
    expect(isStrongroomError(err, 'E_CHAIN_RPC')).toBe(true);
    expect((err as { details: { reason: string } }).details.reason).toBe('chain-id-mismatch');
    wrong.destroy();
  });

  it('funds the wallet with ETH and a solc-compiled ERC-20, and the scanner credits both', async () => {
    token = await dev.deployErc20({ name: 'Test Dollar', symbol: 'TUSD', decimals: 6 });
    // Same length as the artifact's runtime code (immutables are filled in at deployment, so not byte-equal).
    expect((await rpc.call('eth_getCode', [token, 'latest'], String)).length).toBe(
      ERC20_ARTIFACT.deployedBytecode.length,
    );
    await dev.sendEth(wallet, 2n * ETH);
    await dev.mint(token, wallet, 5_000_000n);
    expect(await rpc.getBalance(wallet)).toBe(2n * ETH);
    expect(await rpc.erc20BalanceOf(token, wallet)).toBe(5_000_000n);

    const r = await scanEvm(rpc, scan, { addresses: [wallet], tokens: [token] });
    scan = r.state;
    const credits = evmCredits(scan);
    expect(credits.map((c) => [c.kind, c.value])).toEqual([
      ['native', 2n * ETH],
      ['token', 5_000_000n],
    ]);
    expect(credits.every((c) => c.to === wallet && c.confirmations >= 1)).toBe(true);
  });

  it('sends ETH: build → sign (intent checked) → broadcast → receipt; a re-broadcast changes nothing', async () => {
    const fees = await rpc.getFeeData();
    const nonce = await rpc.getTransactionCount(wallet, 'pending');
    const gasLimit = await rpc.estimateGas({ from: wallet, to: DEST, value: ETH / 2n });
    const { unsignedTx } = buildEthTransfer({
      chainId: devnet.chainId,
      nonce,
      to: DEST,
      amount: ETH / 2n,
      fees: { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas, gasLimit },
    });
    const intent: EvmTransferIntent = {
      chain: 'ethereum',
      network: 'anvil',
      chainId: devnet.chainId,
      asset: 'ETH',
      destination: DEST,
      amount: ETH / 2n,
      feeCap: gasLimit * fees.maxFeePerGas,
      addressIndex: 0,
    };
    const signed = signEvmTransaction({ master, unsignedTx, intent });
    expect(signed.from).toBe(wallet);

    const sent = await broadcastEvm(rpc, signed.rawTx);
    expect(sent).toMatchObject({ hash: signed.hash, from: wallet, nonce, alreadyKnown: false });
    const receipt = await waitForReceipt(signed.hash);
    expect(receipt.status).toBe(1);
    const fee = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(await rpc.getBalance(DEST)).toBe(ETH / 2n);
    expect(await rpc.getBalance(wallet)).toBe(2n * ETH - ETH / 2n - fee);

    // Same bytes again: recognised, not re-sent; the nonce was consumed once.
    const again = await broadcastEvm(rpc, signed.rawTx);
    expect(again).toMatchObject({ hash: signed.hash, state: 'mined', alreadyKnown: true });
    expect(await rpc.getTransactionCount(wallet, 'latest')).toBe(nonce + 1);
    expect(await rpc.getBalance(DEST)).toBe(ETH / 2n);
  });

  it('sends tokens the same way, and a conflicting transaction on a consumed nonce is refused as a conflict', async () => {
    const fees = await rpc.getFeeData();
    const nonce = await rpc.getTransactionCount(wallet, 'pending');
    const gasLimit = 100_000n;
    const build = (amount: bigint, n: number) =>
      buildErc20Transfer({
        chainId: devnet.chainId,
        nonce: n,
        token,
        to: DEST,
        amount,
        fees: { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas, gasLimit },
      }).unsignedTx;
    const intent = (amount: bigint): EvmTransferIntent => ({
      chain: 'ethereum',
      network: 'anvil',
      chainId: devnet.chainId,
      asset: { symbol: 'TUSD', contract: token },
      destination: DEST,
      amount,
      feeCap: gasLimit * fees.maxFeePerGas,
      addressIndex: 0,
    });
    const signed = signEvmTransaction({
      master,
      unsignedTx: build(1_250_000n, nonce),
      intent: intent(1_250_000n),
    });
    await broadcastEvm(rpc, signed.rawTx);
    expect((await waitForReceipt(signed.hash)).status).toBe(1);
    expect(await rpc.erc20BalanceOf(token, DEST)).toBe(1_250_000n);
    expect(await rpc.erc20BalanceOf(token, wallet)).toBe(3_750_000n);

    expect((await broadcastEvm(rpc, signed.rawTx)).alreadyKnown).toBe(true);
    expect(await rpc.erc20BalanceOf(token, DEST)).toBe(1_250_000n);

    // A different transaction with the same (sender, nonce): the nonce is taken, so it is a conflict.
    const other = signEvmTransaction({ master, unsignedTx: build(7n, nonce), intent: intent(7n) });
    const err = await broadcastEvm(rpc, other.rawTx).catch((e: unknown) => e);
    expect(isStrongroomError(err, 'E_CHAIN_RPC')).toBe(true);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({
      reason: 'conflict',
      nonceConsumed: true,
    });
    expect(await trackEvmTransaction(rpc, { hash: other.hash, from: wallet, nonce })).toEqual({
      state: 'replaced',
    });
    expect(await rpc.erc20BalanceOf(token, DEST)).toBe(1_250_000n);
  });

  it('rolls back credits of blocks that a reorg removed', async () => {
    const before = evmCredits(scan).length;
    const snapshot = await rpc.call('evm_snapshot', [], String);
    await dev.sendEth(wallet, ETH);
    let r = await scanEvm(rpc, scan, { addresses: [wallet], tokens: [token] });
    expect(r.added.map((c) => c.value)).toEqual([ETH]);
    // Revert and mine other blocks past the old height: the block holding the deposit is gone.
    await rpc.call('evm_revert', [snapshot], Boolean);
    await rpc.call('anvil_mine', ['0x3'], () => null);
    r = await scanEvm(rpc, r.state, { addresses: [wallet], tokens: [token] });
    expect(r.removed.map((c) => c.value)).toEqual([ETH]);
    expect(evmCredits(r.state)).toHaveLength(before);
    scan = r.state;
  });
});
