/**
 * The vault's process side: serves a `Vault` on a Unix socket (mode 0600, in a directory only the vault
 * user can enter) with the newline-delimited JSON RPC of wire.ts. Only the `Vault` methods exist; requests
 * on one connection are answered as they complete (each carries its id).
 *
 * @example
 * const server = await startVaultServer({ socketPath: '/run/strongroom/vault.sock', vault });
 * // … later
 * await server.close();
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { StrongroomError } from '../domain/errors.ts';
import type { Vault } from './vault.ts';
import {
  VAULT_METHODS,
  decodeWire,
  encodeWire,
  errorToWire,
  lineSplitter,
  type VaultMethod,
} from './wire.ts';

export interface VaultServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export interface StartVaultServerParameters {
  socketPath: string;
  vault: Vault;
  /** Called with each failed call's method and error code (never parameters): for the process log. */
  onError?: (method: string, code: string) => void;
}

export async function startVaultServer({
  socketPath,
  vault,
  onError,
}: StartVaultServerParameters): Promise<VaultServer> {
  if (existsSync(socketPath)) {
    // Only ever replace a stale socket, never a regular file someone pointed us at.
    if (!lstatSync(socketPath).isSocket()) {
      throw new StrongroomError('E_VALIDATION', 'socketPath exists and is not a socket', {
        details: { parameter: 'socketPath' },
      });
    }
    unlinkSync(socketPath);
  }
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const send = (msg: unknown) => {
      if (!socket.destroyed) socket.write(JSON.stringify(msg) + '\n');
    };
    socket.on(
      'data',
      lineSplitter(
        (line) => void handle(line, send),
        () => {
          send({
            id: null,
            error: errorToWire(new StrongroomError('E_BODY_TOO_LARGE', 'request line too long')),
          });
          socket.destroy();
        },
      ),
    );
  });

  async function handle(line: string, send: (msg: unknown) => void): Promise<void> {
    let id: unknown = null;
    let method = '?';
    try {
      let req: { id?: unknown; method?: unknown; params?: unknown; progress?: unknown };
      try {
        req = JSON.parse(line);
      } catch {
        throw new StrongroomError('E_JSON_MALFORMED', 'request is not JSON');
      }
      id = typeof req.id === 'number' || typeof req.id === 'string' ? req.id : null;
      method = String(req.method);
      if (!(VAULT_METHODS as readonly string[]).includes(method)) {
        throw new StrongroomError('E_BAD_REQUEST', 'unknown vault method', { details: { method } });
      }
      const params = Array.isArray(req.params) ? (decodeWire(req.params) as unknown[]) : [];
      if (method === 'rewrap' && req.progress === true) {
        const options = (params[1] ?? {}) as Record<string, unknown>;
        params[1] = { ...options, onProgress: (progress: unknown) => send({ id, progress }) };
      }
      const fn = (vault[method as VaultMethod] as (...a: unknown[]) => Promise<unknown>).bind(vault);
      const result = await fn(...params);
      send({ id, result: encodeWire(result) });
    } catch (e) {
      const error = errorToWire(e);
      onError?.(method, error.code);
      send({ id, error });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
