/**
 * The local development chains of the demo (`./scripts/start` runs `start`):
 *
 *   node --import tsx src/chains/devnet/cli.ts start --data ./data
 *     starts anvil and bcoin regtest, mines bcoin past segwit activation, deploys a demo ERC-20 (TUSD, 6
 *     decimals), writes <data>/chains.json (what `strongroom serve` executes withdrawals on) and
 *     <data>/devnet.json (the faucet's dev key and endpoints; throwaway dev material only), and runs until
 *     Ctrl-C / SIGTERM.
 *   node --import tsx src/chains/devnet/cli.ts fund --data ./data --asset ETH|TUSD|BTC --amount 1 --to ADDRESS
 *     the faucet: sends ETH, mints TUSD, or mines a (matured) coinbase to a Bitcoin address.
 *   node --import tsx src/chains/devnet/cli.ts mine --data ./data [--blocks N]
 *     mines N blocks on both chains (confirmations).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { p2wpkh } from '@scure/btc-signer';
import { hexToBytes } from '@noble/hashes/utils.js';
import { parseAmount } from '../../domain/amount.ts';
import { createBitcoinRpc } from '../bitcoin/rpc.ts';
import { bitcoinNetwork } from '../bitcoin/network.ts';
import { createEvmRpc } from '../evm/rpc.ts';
import { devSigner, startDevnets, BCOIN_REGTEST_SEGWIT_HEIGHT } from './index.ts';

interface DevnetFile {
  ethereum: { rpcUrl: string; chainId: string; faucet: { address: `0x${string}`; privateKey: `0x${string}` }; token: string };
  bitcoin: { rpcUrl: string; username: string; password: string };
}

// P2WPKH of the generator point's key (private key 1): a well-known throwaway for blocks nobody needs.
const BURN = p2wpkh(hexToBytes('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'), bitcoinNetwork('regtest-bcoin')).address!;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: process.env.STRONGROOM_DATA ?? './data' },
    asset: { type: 'string' },
    amount: { type: 'string' },
    to: { type: 'string' },
    blocks: { type: 'string', default: '1' },
  },
});
const dataDir = resolve(values.data!);
const command = positionals[0] ?? 'start';

function readDevnet(): DevnetFile {
  return JSON.parse(readFileSync(join(dataDir, 'devnet.json'), 'utf8')) as DevnetFile;
}

async function mineBitcoin(d: DevnetFile, n: number, address: string): Promise<string[]> {
  const rpc = createBitcoinRpc({ url: d.bitcoin.rpcUrl, username: d.bitcoin.username, password: d.bitcoin.password, timeoutMs: 60_000 });
  return rpc.call('generatetoaddress', [n, address], (r) => r as string[]);
}

if (command === 'start') {
  // The chains live in <data>/devnets, so wallets, deposits and withdrawals survive a restart of the demo.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const devnets = await startDevnets({ stateDir: join(dataDir, 'devnets') });
  const eth = devnets.ethereum;
  const btc = devnets.bitcoin;
  const height = await btc.rpc.getBlockCount();
  if (height < BCOIN_REGTEST_SEGWIT_HEIGHT + 8) await btc.mine(BCOIN_REGTEST_SEGWIT_HEIGHT + 8 - height, BURN);
  const faucet = eth.accounts[0]!;
  const rpc = createEvmRpc(eth.rpcUrl, { expectedChainId: eth.chainId });
  let token = existsSync(join(dataDir, 'devnet.json')) ? readDevnet().ethereum.token : '';
  if (!token || (await rpc.call('eth_getCode', [token, 'latest'], String)) === '0x') {
    const dev = devSigner(eth, faucet);
    token = await dev.deployErc20({ name: 'Test Dollar', symbol: 'TUSD', decimals: 6 });
    dev.close();
  }
  rpc.destroy();
  const chains = {
    bitcoin: { network: 'regtest-bcoin', rpc: { url: btc.rpcUrl, username: btc.rpcUser, password: btc.rpcPassword }, confirmations: 1, feeRateFloor: 2, spendTaproot: false },
    ethereum: { network: 'anvil', chainId: eth.chainId.toString(), rpcUrl: eth.rpcUrl, confirmations: 1, tokens: [{ symbol: 'TUSD', contract: token, decimals: 6 }] },
  };
  const devnet: DevnetFile = {
    ethereum: { rpcUrl: eth.rpcUrl, chainId: eth.chainId.toString(), faucet: { address: faucet.address, privateKey: faucet.privateKey }, token },
    bitcoin: { rpcUrl: btc.rpcUrl, username: btc.rpcUser, password: btc.rpcPassword },
  };
  for (const [name, value] of [['chains.json', chains], ['devnet.json', devnet]] as const) {
    writeFileSync(join(dataDir, name), JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    chmodSync(join(dataDir, name), 0o600);
  }
  console.log(devnets.describe());
  console.log(`demo ERC-20 TUSD at ${token}`);
  console.log('dev chains running; Ctrl-C to stop');
  const stop = async () => {
    await devnets.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
} else if (command === 'fund') {
  const d = readDevnet();
  const { asset, amount, to } = values;
  if (!asset || !amount || !to) throw new Error('fund needs --asset, --amount and --to');
  if (asset === 'BTC') {
    // A coinbase to the address, then 100 blocks so it can be spent.
    await mineBitcoin(d, 1, to);
    await mineBitcoin(d, 100, BURN);
    console.log(`mined a coinbase to ${to} and matured it (the amount is the block subsidy, not ${amount})`);
  } else {
    const chainId = BigInt(d.ethereum.chainId);
    const dev = devSigner({ rpcUrl: d.ethereum.rpcUrl, chainId }, d.ethereum.faucet);
    if (asset === 'ETH') await dev.sendEth(to, parseAmount(amount, 18));
    else if (asset === 'TUSD') await dev.mint(d.ethereum.token, to, parseAmount(amount, 6));
    else throw new Error('asset must be ETH, TUSD or BTC');
    dev.close();
    console.log(`sent ${amount} ${asset} to ${to}`);
  }
} else if (command === 'mine') {
  const d = readDevnet();
  const n = Number(values.blocks);
  await mineBitcoin(d, n, BURN);
  const rpc = createEvmRpc(d.ethereum.rpcUrl, { expectedChainId: BigInt(d.ethereum.chainId) });
  await rpc.call('anvil_mine', [`0x${n.toString(16)}`], () => null);
  rpc.destroy();
  console.log(`mined ${n} block(s) on both chains`);
} else {
  console.error(`unknown command ${command}; use start, fund or mine`);
  process.exit(2);
}
