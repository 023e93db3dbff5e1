/**
 * A real Strongroom (store, services, HTTP server on a loopback port) for end-to-end tests, plus helpers to
 * send signed requests exactly as a client would, and to tamper with them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { signRequest, type RequestSigner } from '../../src/domain/http-signatures.ts';
import { buildServer } from '../../src/api/server.ts';
import { createStrongroom, type Strongroom, type StrongroomConfig } from '../../src/service/app.ts';
import type { ChainsConfig } from '../../src/service/chains-config.ts';
import type { Dialect } from '../../src/store/database.ts';
import type { VaultConfig } from '../../src/service/vault-wiring.ts';
import { generateRequestSigner } from '../../src/sdk/signer.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';

export interface TestApp {
  app: Strongroom;
  server: FastifyInstance;
  baseUrl: string;
  tdb: TestDatabase;
  tenantId: string;
  admin: { userId: string; signer: RequestSigner };
  close(): Promise<void>;
}

export async function startTestApp(dialect: Dialect, opts: { vault?: VaultConfig; chains?: ChainsConfig; onExecutionPoint?: StrongroomConfig['onExecutionPoint'] } = {}): Promise<TestApp> {
  const tdb = await createTestDatabase(dialect);
  await tdb.database.close(); // the app opens its own connection
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-data-'));
  // Share files use a cheap scrypt cost in tests so the suite stays fast; production uses the default.
  const app = await createStrongroom({
    database: tdb.config,
    dataDir,
    vault: opts.vault ?? { placement: 'local', seal: 'shamir', scrypt: { N: 1024 } },
    ...(opts.chains ? { chains: opts.chains } : {}),
    ...(opts.onExecutionPoint ? { onExecutionPoint: opts.onExecutionPoint } : {}),
  });
  const signer = generateRequestSigner('ed25519');
  const init = await app.initialize({
    tenant: 'acme',
    admins: [{ name: 'alice', alg: signer.alg, publicKey: signer.publicKeySpki }],
  });
  const server = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  return {
    app,
    server,
    baseUrl: `http://localhost:${port}`,
    tdb,
    tenantId: init.tenantId,
    admin: { userId: init.admins[0]!.userId, signer },
    async close() {
      await server.close();
      await app.close();
      await tdb.dispose().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SendOptions {
  signer?: RequestSigner;
  body?: unknown;
  /** Raw body text (overrides `body`), for malformed JSON. */
  raw?: string;
  idempotencyKey?: string | null;
  created?: number;
  nonce?: string;
  /** Change the request after signing. */
  tamper?: (r: { path: string; body: string; headers: Record<string, string> }) => void;
  unsigned?: boolean;
  headers?: Record<string, string>;
}

export interface Sent {
  status: number;
  body: any;
  /** What was sent, so it can be replayed byte for byte. */
  request: { method: string; url: string; headers: Record<string, string>; body: string };
}

export async function send(t: TestApp, method: string, path: string, o: SendOptions = {}): Promise<Sent> {
  const body = o.raw ?? (o.body === undefined ? '' : JSON.stringify(o.body));
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (body.length) headers['content-type'] = 'application/json';
  if (method === 'POST' && o.idempotencyKey !== null)
    headers['idempotency-key'] = o.idempotencyKey ?? crypto.randomUUID();
  if (!o.unsigned) {
    const signed = await signRequest({
      method,
      targetUri: t.baseUrl + path,
      body,
      signer: o.signer ?? t.admin.signer,
      created: o.created,
      nonce: o.nonce,
    });
    Object.assign(headers, signed);
  }
  const r = { path, body, headers };
  o.tamper?.(r);
  return replay(t, { method, url: t.baseUrl + r.path, headers: r.headers, body: r.body });
}

export async function replay(_t: TestApp, req: Sent['request']): Promise<Sent> {
  const res = await fetch(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body.length ? req.body : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, request: req };
}

/** A fingerprint of everything a request could change: every table's rows, plus the audit length. */
export async function fingerprint(t: TestApp, opts: { exceptAudit?: boolean } = {}): Promise<string> {
  const db = t.app.database.db;
  const tables = [
    'tenants',
    'users',
    'user_keys',
    'groups',
    'group_members',
    'nonces',
    'idempotency',
    'sessions',
    'requests',
    'audit_entries',
    'audit_heads',
    'outbox',
  ] as const;
  const parts: string[] = [];
  for (const table of tables) {
    if (opts.exceptAudit && table.startsWith('audit_')) continue;
    const rows = await db
      .selectFrom(table as never)
      .selectAll()
      .execute();
    const canon = rows.map((r) => JSON.stringify(Object.entries(r as object).sort())).sort();
    parts.push(`${table}:${rows.length}:${canon.join('|')}`);
  }
  return parts.join('\n');
}

export async function auditLength(t: TestApp): Promise<number> {
  const r = await sql<{ n: number }>`select count(*) as n from audit_entries`.execute(t.app.database.db);
  return Number(r.rows[0]!.n);
}
