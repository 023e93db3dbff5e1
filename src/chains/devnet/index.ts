/**
 * Local development chains for `npm start` and the end-to-end tests: anvil (Ethereum) and bcoin regtest
 * (Bitcoin), both on 127.0.0.1, in memory, stopped together.
 */
import { join } from 'node:path';
import { startAnvil, type AnvilDevnet } from './anvil.ts';
import { startBitcoinRegtest, type BitcoinRegtestDevnet } from './bitcoin-regtest.ts';

export {
  startAnvil,
  anvilBinary,
  type AnvilDevnet,
  type DevAccount,
  type StartAnvilParameters,
} from './anvil.ts';
export {
  startBitcoinRegtest,
  BCOIN_REGTEST_SEGWIT_HEIGHT,
  type BitcoinRegtestDevnet,
  type StartBitcoinRegtestParameters,
} from './bitcoin-regtest.ts';
export { devSigner, type DevSigner } from './deploy-erc20.ts';

export interface Devnets {
  readonly ethereum: AnvilDevnet;
  readonly bitcoin: BitcoinRegtestDevnet;
  /** Plain description for a terminal (no credentials). */
  describe(): string;
  stop(): Promise<void>;
}

export async function startDevnets(
  options: { anvilPort?: number; bitcoinPort?: number; stateDir?: string } = {},
): Promise<Devnets> {
  const [eth, btc] = await Promise.allSettled([
    startAnvil({
      ...(options.anvilPort !== undefined ? { port: options.anvilPort } : {}),
      ...(options.stateDir ? { stateFile: join(options.stateDir, 'anvil-state.json') } : {}),
    }),
    startBitcoinRegtest({
      ...(options.bitcoinPort !== undefined ? { port: options.bitcoinPort } : {}),
      ...(options.stateDir ? { dataDir: join(options.stateDir, 'bcoin') } : {}),
    }),
  ]);
  if (eth.status === 'rejected' || btc.status === 'rejected') {
    // Never leave half the devnet running.
    if (eth.status === 'fulfilled') await eth.value.stop();
    if (btc.status === 'fulfilled') await btc.value.stop();
    throw eth.status === 'rejected' ? eth.reason : (btc as PromiseRejectedResult).reason;
  }
  const ethereum = eth.value;
  const bitcoin = btc.value;
  return {
    ethereum,
    bitcoin,
    describe: () =>
      [
        `ethereum (anvil): ${ethereum.rpcUrl} chain id ${ethereum.chainId}, ${ethereum.accounts.length} funded dev accounts`,
        `bitcoin (bcoin regtest): ${bitcoin.rpcUrl} user ${bitcoin.rpcUser} (addresses rb1…, network regtest-bcoin)`,
      ].join('\n'),
    async stop() {
      await Promise.all([ethereum.stop(), bitcoin.stop()]);
    },
  };
}
