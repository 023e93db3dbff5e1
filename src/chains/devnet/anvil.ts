/**
 * Local Ethereum dev node: anvil (Foundry) from the @foundry-rs/anvil npm package, as a child process on
 * 127.0.0.1 with a port of its own choosing, its state in memory, and its funded dev accounts read from the
 * `--config-out` file it writes. Those accounts' keys are anvil's public, throwaway dev keys: for tests and
 * local dev only, never for value.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StrongroomError } from '../../domain/errors.ts';
import { spawnNode, waitUntilReady } from './child-process.ts';

export interface DevAccount {
  readonly address: `0x${string}`;
  /** Throwaway dev key (anvil's well-known test mnemonic). */
  readonly privateKey: `0x${string}`;
}

export interface StartAnvilParameters {
  /** Default: a free port the node picks. */
  readonly port?: number;
  /** Default 31337. */
  readonly chainId?: number;
  /** Seconds between blocks; default: mine one block per transaction. */
  readonly blockTime?: number;
  /** Funded dev accounts (default 10). */
  readonly accounts?: number;
  /** Keep the chain across restarts in this file (loaded at start, dumped every few seconds and on exit). */
  readonly stateFile?: string;
}

export interface AnvilDevnet {
  readonly rpcUrl: string;
  readonly chainId: bigint;
  readonly accounts: readonly DevAccount[];
  stop(): Promise<void>;
}

/** Path of the anvil binary shipped in the platform package of @foundry-rs/anvil. */
export function anvilBinary(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  const os = ({ linux: 'linux', darwin: 'darwin', win32: 'win32' } as Record<string, string>)[
    process.platform
  ];
  if (!arch || !os)
    throw new StrongroomError('E_INTERNAL', `anvil is not packaged for ${process.platform}-${process.arch}`);
  const require = createRequire(import.meta.url);
  const pkg = require.resolve(`@foundry-rs/anvil-${os}-${arch}/package.json`);
  return join(dirname(pkg), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

export async function startAnvil(p: StartAnvilParameters = {}): Promise<AnvilDevnet> {
  const chainId = p.chainId ?? 31337;
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-anvil-'));
  const configOut = join(dir, 'config.json');
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(p.port ?? 0),
    '--chain-id',
    String(chainId),
    '--accounts',
    String(p.accounts ?? 10),
    '--config-out',
    configOut,
    ...(p.blockTime !== undefined ? ['--block-time', String(p.blockTime)] : []),
    ...(p.stateFile ? ['--state', p.stateFile, '--state-interval', '2'] : []),
  ];
  const proc = spawnNode(anvilBinary(), args);
  let rpcUrl = '';
  const cleanup = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(
      proc,
      async () => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(proc.output());
        if (!m) throw new Error('not listening yet');
        rpcUrl = `http://127.0.0.1:${m[1]}`;
        const res = await fetch(rpcUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      },
      'anvil',
      15_000,
    );
    const config = JSON.parse(readFileSync(configOut, 'utf8')) as {
      available_accounts: `0x${string}`[];
      private_keys: `0x${string}`[];
    };
    const accounts = config.available_accounts.map((address, i) => ({
      address,
      privateKey: config.private_keys[i]!,
    }));
    // Its output lists the keys; nothing needs it any more.
    proc.child.stdout?.removeAllListeners('data');
    proc.child.stdout?.resume();
    return { rpcUrl, chainId: BigInt(chainId), accounts, stop: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
