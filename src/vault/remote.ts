/**
 * `Vault` over a local socket to a separate vault process (vault-server.ts). The API process holds no key
 * material: it only forwards ceremony material from custodians and receives public answers. Errors come
 * back as the same typed `StrongroomError` codes as in-process.
 *
 * @example
 * const vault = await connectVault({ socketPath: '/run/strongroom/vault.sock' });
 * const { state } = await vault.status('acme');
 */
import { connect, type Socket } from 'node:net';
import { StrongroomError } from '../domain/errors.ts';
import type { Vault } from './vault.ts';
import { decodeWire, encodeWire, errorFromWire, lineSplitter, type VaultMethod } from './wire.ts';

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: never) => void;
}

export async function connectVault({ socketPath }: { socketPath: string }): Promise<Vault> {
  const socket: Socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (e) =>
      reject(new StrongroomError('E_INTERNAL', 'cannot reach the vault process', { details: { socketPath }, cause: e })),
    );
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;
  const failAll = (why: string) => {
    closed = true;
    for (const p of pending.values()) p.reject(new StrongroomError('E_INTERNAL', why));
    pending.clear();
  };
  socket.on('error', () => failAll('the connection to the vault failed'));
  socket.on('close', () => failAll('the vault closed the connection'));
  socket.on(
    'data',
    lineSplitter(
      (line) => {
        let msg: { id?: number; result?: unknown; error?: unknown; progress?: unknown };
        try {
          msg = JSON.parse(line);
        } catch {
          return failAll('the vault sent malformed data');
        }
        const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
        if (!p) return;
        if ('progress' in msg) return p.onProgress?.(msg.progress as never);
        pending.delete(msg.id!);
        if ('error' in msg) p.reject(errorFromWire(msg.error as object));
        else p.resolve(decodeWire(msg.result));
      },
      () => {
        failAll('the vault sent an over-long answer');
        socket.destroy();
      },
    ),
  );

  function call(method: VaultMethod, params: unknown[]): Promise<any> {
    if (closed) return Promise.reject(new StrongroomError('E_INTERNAL', 'the vault connection is closed'));
    const id = nextId++;
    const options = params[1] as { onProgress?: (p: never) => void } | undefined;
    const onProgress = method === 'rewrap' ? options?.onProgress : undefined;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      socket.write(JSON.stringify({ id, method, params: encodeWire(params), ...(onProgress ? { progress: true } : {}) }) + '\n');
    });
  }

  return {
    status: (tenant) => call('status', [tenant]),
    initialize: (tenant, p) => call('initialize', [tenant, p]),
    unseal: (tenant, p) => call('unseal', [tenant, p]),
    seal: (tenant, p) => call('seal', [tenant, p ?? {}]),
    zeroize: (tenant, p) => call('zeroize', [tenant, p ?? {}]),
    restore: (tenant, p) => call('restore', [tenant, p]),
    rekey: (tenant, p) => call('rekey', [tenant, p]),
    rotate: (tenant, p) => call('rotate', [tenant, p]),
    rewrap: (tenant, p) => call('rewrap', [tenant, p ?? {}]),
    createWallet: (tenant, p) => call('createWallet', [tenant, p]),
    importWallet: (tenant, p) => call('importWallet', [tenant, p]),
    wallet: (tenant, walletId) => call('wallet', [tenant, walletId]),
    auditPublicKey: (tenant) => call('auditPublicKey', [tenant]),
    signAuditCheckpoint: (tenant, bytes) => call('signAuditCheckpoint', [tenant, bytes]),
    exportWallets: (tenant, p) => call('exportWallets', [tenant, p]),
    governanceHead: (tenant) => call('governanceHead', [tenant]),
    acceptGovernanceHead: (tenant, p) => call('acceptGovernanceHead', [tenant, p]),
    authorize: (tenant, bundle) => call('authorize', [tenant, bundle]),
    signWithdrawal: (tenant, p) => call('signWithdrawal', [tenant, p]),
    async close() {
      closed = true;
      socket.end();
      socket.destroy();
    },
  };
}
