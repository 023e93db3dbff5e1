/**
 * A withdrawal worker in its own process, for the fault tests: the real executor (createStrongroom →
 * withdrawals.run) over the test's database, with the vault reached over its socket. With `killAt`, the
 * process SIGKILLs itself the first time the executor reaches that point (see executor.ts `onPoint`).
 *
 *   node --import tsx test/support/withdrawal-worker.ts '<json: {database, dataDir, socketPath, chains, killAt?, leaseMs?}>'
 */
import { createStrongroom } from '../../src/service/app.ts';

const cfg = JSON.parse(process.argv[2]!) as {
  database: Parameters<typeof createStrongroom>[0]['database'];
  dataDir: string;
  socketPath: string;
  chains: Parameters<typeof createStrongroom>[0]['chains'];
  killAt?: string;
  leaseMs?: number;
};

const app = await createStrongroom({
  database: cfg.database,
  dataDir: cfg.dataDir,
  vault: { placement: 'remote', socketPath: cfg.socketPath },
  ...(cfg.chains ? { chains: cfg.chains } : {}),
  onExecutionPoint: (point) => {
    if (point === cfg.killAt) process.kill(process.pid, 'SIGKILL');
  },
});
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.stdout.write('ready\n');
await app.withdrawals.run({
  workerId: `worker-${process.pid}`,
  signal: stop.signal,
  leaseMs: cfg.leaseMs ?? 1500,
  pollMs: 50,
  sweepMs: 100,
  onError: (e) => process.stderr.write(`worker: ${e instanceof Error ? e.message : String(e)}\n`),
});
await app.close();
process.exit(0);
