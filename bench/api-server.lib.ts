/**
 * Server side of `bench api`, in its own process so client and server each get a core.
 * argv: mode ('strongroom' | 'bare'), database config JSON, data dir, admin public key (SPKI base64).
 * Prints `READY <port> <tenantId>` when listening.
 */
import Fastify from 'fastify';
import { buildServer } from '../src/api/server.ts';
import { createStrongroom } from '../src/service/app.ts';

const [mode, dbJson, dataDir, adminSpki] = process.argv.slice(2);
if (mode === 'bare') {
  const server = Fastify({ logger: false });
  server.post('/echo', async (req) => ({ ok: true, body: req.body }));
  await server.listen({ host: '127.0.0.1', port: 0 });
  console.log(`READY ${(server.server.address() as { port: number }).port} -`);
} else {
  const app = await createStrongroom({ database: JSON.parse(dbJson!), dataDir: dataDir! });
  const init = await app.initialize({
    tenant: 'bench',
    admins: [{ name: 'bench', alg: 'ed25519', publicKey: adminSpki! }],
  });
  const server = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  console.log(`READY ${(server.server.address() as { port: number }).port} ${init.tenantId}`);
}
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
