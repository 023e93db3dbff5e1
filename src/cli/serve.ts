import type { Command } from 'commander';
import { join } from 'node:path';
import type { VaultConfig } from '../service/vault-wiring.ts';
import type { Strongroom } from '../service/app.ts';
import { serverConfig } from './config.ts';
import { action, print } from './output.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the API server (embedded default: SQLite in ./data, 127.0.0.1:8080)')
    .option('--data <dir>', 'data directory', './data')
    .option(
      '--database-url <url>',
      'PostgreSQL URL instead of the embedded SQLite (env STRONGROOM_DATABASE_URL)',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8080')
    .option(
      '--vault-remote <socket>',
      'use the vault process listening on this socket (`strongroom vault serve`)',
    )
    .option(
      '--vault-socket <path>',
      'with the in-process vault: socket for `strongroom ceremony` commands (default <data>/vault.sock)',
    )
    .option('--no-worker', 'do not run the withdrawal worker in this process (run `strongroom worker` instead)')
    .option('--seal <mechanism>', 'in-process vault seal: shamir (software) | pkcs11', 'shamir')
    .option('--pkcs11-module <path>', 'PKCS#11 library', '/usr/lib/softhsm/libsofthsm2.so')
    .option(
      '--pkcs11-token <label>',
      'token label; {tenant} is replaced by the tenant id',
      'strongroom-{tenant}',
    )
    .action(
      action(async (o: ServeOptions) => {
        // Loaded on use, so `strongroom --help` and light commands start fast.
        const { createStrongroom } = await import('../service/app.ts');
        const { buildServer } = await import('../api/server.ts');
        const { startVaultServer } = await import('../vault/vault-server.ts');
        const config = serverConfig(o);
        const app = await createStrongroom({ ...config, vault: vaultConfig(o), maintenanceIntervalS: 5 });
        // The in-process vault also listens on a local socket (mode 0600) so custodians can run ceremonies.
        const vaultServer = o.vaultRemote
          ? undefined
          : await startVaultServer({
              socketPath: o.vaultSocket ?? join(config.dataDir, 'vault.sock'),
              vault: app.vault,
            });
        const server = await buildServer(app, { logger: process.env.STRONGROOM_LOG === '1' });
        // With chains configured, approved withdrawals are executed (and deposits scanned) in this process too.
        const stopWorker = new AbortController();
        const worker = o.worker && config.chains ? runBackground(app, `serve-${process.pid}`, stopWorker.signal) : undefined;
        await server.listen({ host: o.host, port: Number(o.port) });
        const port = (server.server.address() as { port: number }).port;
        // WebAuthn and the signed target URI want a host name, not an IP, for the loopback address.
        print(
          `strongroom listening on http://${o.host === '127.0.0.1' ? 'localhost' : o.host}:${port} (docs: /docs)`,
        );
        const stop = async () => {
          stopWorker.abort();
          await worker;
          await server.close();
          await vaultServer?.close();
          await app.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      }),
    );
}

/** The background work of a node: the withdrawal executor (and every other worker loop the app has). */
export async function runBackground(app: Strongroom, workerId: string, signal: AbortSignal): Promise<void> {
  const onError = (e: unknown) => {
    if (process.env.STRONGROOM_LOG === '1') process.stderr.write(`worker: ${e instanceof Error ? e.message : String(e)}\n`);
  };
  const scanner = app.deposits.start(1000, onError);
  try {
    await app.withdrawals.run({ workerId, signal, onError });
  } finally {
    await scanner.stop();
  }
}

interface ServeOptions {
  worker: boolean;
  data: string;
  databaseUrl?: string;
  host: string;
  port: string;
  vaultRemote?: string;
  vaultSocket?: string;
  seal: string;
  pkcs11Module: string;
  pkcs11Token: string;
}

export function vaultConfig(o: Pick<ServeOptions, 'vaultRemote' | 'seal' | 'pkcs11Module' | 'pkcs11Token'>): VaultConfig {
  if (o.vaultRemote) return { placement: 'remote', socketPath: o.vaultRemote };
  if (o.seal === 'pkcs11') {
    return {
      placement: 'local',
      seal: 'pkcs11',
      modulePath: o.pkcs11Module,
      tokenLabel: (t) => o.pkcs11Token.replace('{tenant}', t),
    };
  }
  return { placement: 'local', seal: 'shamir' };
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the withdrawal worker (and deposit scanning) against the same database as `serve`')
    .option('--data <dir>', 'data directory (chains.json is read from here)', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite (env STRONGROOM_DATABASE_URL)')
    .requiredOption('--vault-remote <socket>', 'the vault to sign with (`strongroom vault serve`, or the socket of `serve`)')
    .action(
      action(async (o: { data: string; databaseUrl?: string; vaultRemote: string }) => {
        const { createStrongroom } = await import('../service/app.ts');
        const config = serverConfig(o);
        if (!config.chains) throw new Error(`no chains configured: ${join(config.dataDir, 'chains.json')} is missing`);
        const app = await createStrongroom({ ...config, vault: { placement: 'remote', socketPath: o.vaultRemote } });
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        print(`strongroom worker ${process.pid} running`);
        await runBackground(app, `worker-${process.pid}`, stop.signal);
        await app.close();
      }),
    );
}
