/**
 * `npm run bench -- api`: signed, audited writes per second (POST /v1/requests: strict JSON, schema, RFC 9421
 * signature verified, nonce spent, idempotency recorded, request row + audit entry + outbox event committed)
 * on SQLite and PostgreSQL, each beside a bare Fastify JSON POST measured in the same run with the same client.
 * The server runs in its own process; requests are signed before the clock starts so the client measures the
 * server, not its own signing. Server and client CPU per request are reported too (steadier than wall time on
 * a shared machine). BENCH_API_N sets the request count, BENCH_API_DIALECTS=sqlite|postgres picks a store,
 * BENCH_PROFILE=DIR writes a --cpu-prof of the server to DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { signRequest } from '../src/domain/http-signatures.ts';
import { generateRequestSigner } from '../src/sdk/signer.ts';
import { createTestDatabase } from '../test/support/databases.ts';
import { report, type Figure } from './harness.ts';

const N = Number(process.env.BENCH_API_N ?? 20000);
const CONCURRENCY = 64;

interface Prepared {
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface Server {
  child: ChildProcess;
  port: number;
  /** CPU time the server process has used so far: all threads, and the main thread alone (-1: unknown), µs. */
  cpu(): Promise<{ all: number; main: number }>;
}

async function startServer(args: string[]): Promise<Server> {
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  const child = spawn(
    process.execPath,
    [...prof, '--import', 'tsx', join(import.meta.dirname, 'api-server.lib.ts'), ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const rl = createInterface({ input: child.stdout! });
  const waiting: Array<(cpu: { all: number; main: number }) => void> = [];
  rl.on('line', (l) => {
    if (!l.startsWith('CPU ')) return;
    const [, user, system, main] = l.split(' ');
    waiting.shift()?.({ all: Number(user) + Number(system), main: Number(main) });
  });
  const port = await new Promise<number>((resolve, reject) => {
    rl.on('line', (l) => l.startsWith('READY ') && resolve(Number(l.split(' ')[1])));
    child.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
  });
  const cpu = () =>
    new Promise<{ all: number; main: number }>((resolve) => {
      waiting.push(resolve);
      child.stdin!.write('cpu\n');
    });
  return { child, port, cpu };
}

interface Measured {
  /** Requests per second. */
  rate: number;
  /** Server process CPU (main thread and thread pool) per request, µs. */
  serverCpuUs: number;
  /** Server main thread (event loop) CPU per request, µs; NaN where unknown. */
  serverMainCpuUs: number;
  /** Client process CPU per request, µs. */
  clientCpuUs: number;
}

async function measure(server: Server, reqs: Prepared[]): Promise<Measured> {
  const s0 = await server.cpu();
  const c0 = process.cpuUsage();
  const rate = await fire(server.port, reqs);
  const c = process.cpuUsage(c0);
  const s1 = await server.cpu();
  return {
    rate,
    serverCpuUs: (s1.all - s0.all) / reqs.length,
    serverMainCpuUs: s0.main < 0 ? NaN : (s1.main - s0.main) / reqs.length,
    clientCpuUs: (c.user + c.system) / reqs.length,
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    child.once('exit', () => r());
    child.stdin!.end();
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Fires all requests with CONCURRENCY in flight; returns completed requests per second. */
async function fire(port: number, reqs: Prepared[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  let failures = 0;
  let firstFailure = '';
  const one = (r: Prepared) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: r.path,
          headers: { ...r.headers, host: `localhost:${port}` },
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode! >= 300) {
              failures++;
              firstFailure ||= Buffer.concat(chunks).toString();
            }
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < reqs.length) await one(reqs[next++]!);
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  if (failures) throw new Error(`${failures} requests failed, first: ${firstFailure}`);
  return reqs.length / s;
}

async function signedRequests(
  port: number,
  signer: ReturnType<typeof generateRequestSigner>,
  n: number,
): Promise<Prepared[]> {
  const out: Prepared[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({
      type: 'transfer',
      asset: 'BTC',
      amount: '0.015',
      from: 'wal_treasury',
      to: `bcrt1qbench${i}`,
    });
    const path = '/v1/requests';
    const h = await signRequest({
      method: 'POST',
      targetUri: `http://localhost:${port}${path}`,
      body,
      signer,
    });
    out.push({
      path,
      body,
      headers: { ...h, 'content-type': 'application/json', 'idempotency-key': `bench-${i}-${port}` },
    });
  }
  return out;
}

async function bare(): Promise<Measured> {
  const server = await startServer(['bare']);
  try {
    const body = JSON.stringify({
      type: 'transfer',
      asset: 'BTC',
      amount: '0.015',
      from: 'wal_treasury',
      to: 'bcrt1qbench',
    });
    const reqs = (n: number) =>
      Array.from({ length: n }, () => ({
        path: '/echo',
        body,
        headers: { 'content-type': 'application/json' },
      }));
    await fire(server.port, reqs(2000));
    return await measure(server, reqs(N));
  } finally {
    await stop(server.child);
  }
}

async function signed(dialect: 'sqlite' | 'postgres'): Promise<Measured> {
  const tdb = await createTestDatabase(dialect);
  await tdb.database.close();
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  const signer = generateRequestSigner('ed25519');
  const server = await startServer(['strongroom', JSON.stringify(tdb.config), dataDir, signer.publicKeySpki]);
  try {
    await fire(server.port, await signedRequests(server.port, signer, 2000)); // warm-up
    return await measure(server, await signedRequests(server.port, signer, N));
  } finally {
    await stop(server.child);
    await tdb.dispose().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  // BENCH_API_DIALECTS=sqlite (or postgres) measures one store only.
  const dialects = (process.env.BENCH_API_DIALECTS ?? 'sqlite,postgres')
    .split(',')
    .filter((d): d is 'sqlite' | 'postgres' => d === 'sqlite' || d === 'postgres');
  for (const dialect of dialects) {
    const baseline = await bare();
    const value = await signed(dialect);
    figures.push({
      name: `signed audited writes/s (${dialect})`,
      value: value.rate,
      unit: 'req/s',
      baseline: { name: 'bare Fastify JSON POST', value: baseline.rate, unit: 'req/s' },
    });
    // CPU per request is steadier than throughput when other work shares the machine.
    figures.push({
      name: `server CPU per signed write (${dialect})`,
      value: value.serverCpuUs,
      unit: 'µs',
      baseline: { name: 'bare Fastify', value: baseline.serverCpuUs, unit: 'µs' },
    });
    if (!Number.isNaN(value.serverMainCpuUs)) {
      figures.push({
        name: `server main-thread CPU per signed write (${dialect})`,
        value: value.serverMainCpuUs,
        unit: 'µs',
        baseline: { name: 'bare Fastify', value: baseline.serverMainCpuUs, unit: 'µs' },
      });
    }
    figures.push({
      name: `client CPU per signed write (${dialect})`,
      value: value.clientCpuUs,
      unit: 'µs',
      baseline: { name: 'bare Fastify', value: baseline.clientCpuUs, unit: 'µs' },
    });
  }
  report('api', figures);
}
