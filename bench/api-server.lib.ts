/**
 * Server side of `bench api`, in its own process so client and server each get a core.
 * argv: mode ('strongroom' | 'bare'), database config JSON, data dir, admin public key (SPKI base64).
 * Prints `READY <port> <tenantId>` when listening.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
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
// `cpu` on stdin: answers `CPU <user µs> <system µs> <main thread µs>` of this process (all threads, then the
// main thread alone where Linux tells it), so the bench can report server CPU per request, which is steadier
// than wall time on a shared machine.
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() !== 'cpu') return;
  const u = process.cpuUsage();
  console.log(`CPU ${u.user} ${u.system} ${mainThreadCpuUs()}`);
});
/** CPU time of the main thread (the event loop), from /proc on Linux; -1 elsewhere. */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th, in clock ticks.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return -1;
  }
}
process.stdin.on('end', () => process.exit(0));
