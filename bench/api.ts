/**
 * `npm run bench -- api`: signed, audited writes per second (POST /v1/requests: strict JSON, schema, RFC 9421
 * signature verified, nonce spent, idempotency recorded, request row + audit entry + outbox event committed)
 * on SQLite and PostgreSQL, each beside a bare Fastify JSON POST measured in the same run with the same client.
 * The server runs in its own process; requests are signed before the clock starts so the client measures the
 * server, not its own signing.
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

async function startServer(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  const child = spawn(
    process.execPath,
    [...prof, '--import', 'tsx', join(import.meta.dirname, 'api-server.lib.ts'), ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const rl = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    rl.on('line', (l) => l.startsWith('READY ') && resolve(Number(l.split(' ')[1])));
    child.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
  });
  return { child, port };
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

async function bare(): Promise<number> {
  const { child, port } = await startServer(['bare']);
  try {
    const body = JSON.stringify({
      type: 'transfer',
      asset: 'BTC',
      amount: '0.015',
      from: 'wal_treasury',
      to: 'bcrt1qbench',
    });
    await fire(
      port,
      Array.from({ length: 2000 }, () => ({
        path: '/echo',
        body,
        headers: { 'content-type': 'application/json' },
      })),
    );
    return await fire(
      port,
      Array.from({ length: N }, () => ({
        path: '/echo',
        body,
        headers: { 'content-type': 'application/json' },
      })),
    );
  } finally {
    await stop(child);
  }
}

async function signed(dialect: 'sqlite' | 'postgres'): Promise<number> {
  const tdb = await createTestDatabase(dialect);
  await tdb.database.close();
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  const signer = generateRequestSigner('ed25519');
  const { child, port } = await startServer([
    'strongroom',
    JSON.stringify(tdb.config),
    dataDir,
    signer.publicKeySpki,
  ]);
  try {
    await fire(port, await signedRequests(port, signer, 2000)); // warm-up
    return await fire(port, await signedRequests(port, signer, N));
  } finally {
    await stop(child);
    await tdb.dispose().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const baseline = await bare();
    const value = await signed(dialect);
    figures.push({
      name: `signed audited writes/s (${dialect})`,
      value,
      unit: 'req/s',
      baseline: { name: 'bare Fastify JSON POST', value: baseline, unit: 'req/s' },
    });
  }
  report('api', figures);
}
