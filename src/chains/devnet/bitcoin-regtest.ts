/**
 * Local Bitcoin dev node: bcoin on regtest, as a child process (so its block validation does not block the
 * caller's event loop), bound to 127.0.0.1 on free ports, chain state in memory, no wallet, no peers, and a
 * transaction index (so `getrawtransaction` finds confirmed transactions). Its API key is random per start
 * and passed through the environment, not the command line, so it does not show in `ps`.
 *
 * bcoin regtest addresses use the `rb` prefix (network 'regtest-bcoin'); segwit activates after 432 blocks
 * (BIP9 on regtest) and there is no taproot.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createBitcoinRpc, type BitcoinRpc } from '../bitcoin/rpc.ts';
import { spawnNode, waitUntilReady } from './child-process.ts';
import { freePort } from './free-port.ts';

export interface StartBitcoinRegtestParameters {
  /** HTTP/JSON-RPC port; default a free one. */
  readonly port?: number;
  /** Keep the chain across restarts in this directory (default: in memory, gone at stop). */
  readonly dataDir?: string;
}

export interface BitcoinRegtestDevnet {
  /** JSON-RPC endpoint, without credentials. */
  readonly rpcUrl: string;
  readonly rpcUser: string;
  /** bcoin's API key, used as the Basic-auth password. */
  readonly rpcPassword: string;
  /** A client for this node. */
  readonly rpc: BitcoinRpc;
  /** Mines `n` blocks paying `address` (an `rb1…` address); returns their hashes. */
  mine(n: number, address: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Blocks on bcoin regtest after which segwit is active (BIP9 with a 144-block window). */
export const BCOIN_REGTEST_SEGWIT_HEIGHT = 432;

export async function startBitcoinRegtest(
  p: StartBitcoinRegtestParameters = {},
): Promise<BitcoinRegtestDevnet> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('bcoin/package.json')), 'bin', 'node');
  const port = p.port ?? (await freePort());
  const p2pPort = await freePort();
  const prefix = p.dataDir ?? mkdtempSync(join(tmpdir(), 'strongroom-bcoin-'));
  if (p.dataDir) mkdirSync(p.dataDir, { recursive: true });
  const apiKey = randomBytes(24).toString('hex');
  const args = [
    bin,
    '--network=regtest',
    `--memory=${p.dataDir ? 'false' : 'true'}`,
    '--no-wallet=true',
    '--index-tx=true',
    '--replace-by-fee=true',
    `--prefix=${prefix}`,
    '--http-host=127.0.0.1',
    `--http-port=${port}`,
    `--port=${p2pPort}`,
    '--listen=false',
    '--log-level=warning',
    '--log-console=true',
  ];
  const proc = spawnNode(process.execPath, args, { env: { ...process.env, BCOIN_API_KEY: apiKey } });
  const rpcUrl = `http://127.0.0.1:${port}/`;
  const rpcUser = 'strongroom';
  // Start-up probes fail fast; the real client retries as usual.
  const probe = createBitcoinRpc({
    url: rpcUrl,
    username: rpcUser,
    password: apiKey,
    retries: 0,
    timeoutMs: 2_000,
  });
  const cleanup = async () => {
    await proc.stop();
    if (!p.dataDir) rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(proc, () => probe.getBlockCount(), 'bcoin', 30_000);
  } catch (e) {
    await cleanup();
    throw e;
  }
  const rpc = createBitcoinRpc({ url: rpcUrl, username: rpcUser, password: apiKey, timeoutMs: 60_000 });
  return {
    rpcUrl,
    rpcUser,
    rpcPassword: apiKey,
    rpc,
    mine: (n, address) =>
      rpc.call('generatetoaddress', [n, address], (r) => {
        if (!Array.isArray(r) || !r.every((h) => typeof h === 'string'))
          throw new Error('expected block hashes');
        return r as string[];
      }),
    stop: cleanup,
  };
}
