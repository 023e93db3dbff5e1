/**
 * A free TCP port on 127.0.0.1, for dev nodes that cannot report the port they bound themselves. The OS picks
 * it (listen on port 0) and we release it; another process could grab it in between, which for local dev and
 * tests is an accepted race — the node then fails to start and says so.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
