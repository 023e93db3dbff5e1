/**
 * The client against a real HTTP server (node:http) that authenticates exactly as the API does:
 * verifySignedRequest over the raw body and `${protocol}://${host}${url}`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type StrongroomClient } from './client.ts';
import { generateRequestSigner } from './signer.ts';
import { verifySignedRequest, type VerifiedSignature } from '../domain/http-signatures.ts';
import { parsePublicKey } from '../domain/keys.ts';
import { StrongroomError } from '../domain/errors.ts';

const alice = generateRequestSigner('ed25519');
const aliceKey = { alg: alice.alg, key: parsePublicKey(alice.alg, alice.publicKeySpki) };

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  verified?: VerifiedSignature;
}

let server: Server;
let baseUrl: string;
const seen: Seen[] = [];
const nonces = new Set<string>();
const challenges = new Set<string>();
const sessions = new Set<string>();

function reply(res: ServerResponse, status: number, body: unknown, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
}

function problem(res: ServerResponse, status: number, code: string, detail: string, extra: object = {}) {
  reply(
    res,
    status,
    { type: 'about:blank', title: code, status, detail, code, ...extra },
    'application/problem+json',
  );
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const url = req.url ?? '/';
  const entry: Seen = { method: req.method ?? '', url, headers: req.headers, body };
  seen.push(entry);

  if (url === '/v1/problem')
    return problem(res, 409, 'E_IDEMPOTENCY_CONFLICT', 'another body was sent under this key', {
      hints: ['use a new key'],
      details: { idempotencyKey: 'k1' },
    });
  if (url === '/v1/plain-500') return reply(res, 500, 'oops', 'text/plain');
  if (url === '/v1/bad-json') return reply(res, 200, '{"a":1,"a":2}');
  if (url === '/v1/redirect') {
    res.writeHead(307, { location: 'https://elsewhere.example/steal' });
    return res.end();
  }

  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && !req.headers.signature) {
    if (req.method !== 'GET') return problem(res, 401, 'E_SIGNATURE_MISSING', 'writes must be signed');
    if (!sessions.has(auth.slice(7))) return problem(res, 401, 'E_SESSION_INVALID', 'unknown session');
    return reply(res, 200, { via: 'session', url });
  }
  try {
    entry.verified = await verifySignedRequest(
      { method: req.method ?? '', targetUri: `http://${req.headers.host}${url}`, headers: req.headers, body },
      { now: Math.floor(Date.now() / 1000), resolveKey: (id) => (id === alice.keyId ? aliceKey : undefined) },
    );
  } catch (e) {
    const err = e as StrongroomError;
    return problem(res, 401, err.code, err.message);
  }
  if (nonces.has(entry.verified.nonce)) return problem(res, 401, 'E_NONCE_REPLAYED', 'nonce already used');
  nonces.add(entry.verified.nonce);

  if (url === '/v1/sessions/challenge') {
    const challenge = `c${challenges.size}-${entry.verified.nonce}`;
    challenges.add(challenge);
    return reply(res, 201, { challenge, expiresAt: '2030-01-01T00:00:00Z' });
  }
  if (url === '/v1/sessions') {
    const { challenge } = JSON.parse(body) as { challenge: string };
    if (!challenges.delete(challenge)) return problem(res, 401, 'E_SESSION_INVALID', 'unknown challenge');
    const token = `t_${challenge}`;
    sessions.add(token);
    return reply(res, 201, { token, expiresAt: '2030-01-01T00:00:00Z' });
  }
  if (url === '/v1/empty') return reply(res, 204, undefined);
  return reply(res, 200, {
    method: req.method,
    url,
    body: body === '' ? null : JSON.parse(body),
    keyId: entry.verified.keyId,
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((e) => problem(res, 500, 'E_INTERNAL', String(e)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function client(): StrongroomClient {
  return createClient({ baseUrl, signer: alice });
}

async function rejection(p: Promise<unknown>): Promise<StrongroomError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return e as StrongroomError;
  }
  throw new Error('expected a rejection');
}

function last(): Seen {
  return seen[seen.length - 1]!;
}

describe('createClient', () => {
  it('signs a POST with JSON, content-type, a default Idempotency-Key and a fresh nonce', async () => {
    const c = client();
    const body = { type: 'transfer', amount: '150000000', memo: 'naïve → cold' };
    const r1 = await c.post<{ body: unknown; keyId: string }>('/v1/requests?x=1', body);
    expect(r1).toStrictEqual({ method: 'POST', url: '/v1/requests?x=1', body, keyId: alice.keyId });
    const first = last();
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.verified).toMatchObject({ keyId: alice.keyId, alg: 'ed25519' });

    await c.post('/v1/requests?x=1', body);
    const second = last();
    expect(second.verified!.nonce).not.toBe(first.verified!.nonce);
    expect(second.headers['idempotency-key']).not.toBe(first.headers['idempotency-key']);
  });

  it('passes a caller idempotency key; PUT/PATCH/DELETE are signed and carry no key by default', async () => {
    const c = client();
    await c.post('/v1/requests', { a: 1 }, { idempotencyKey: 'ops-4821' });
    expect(last().headers['idempotency-key']).toBe('ops-4821');
    for (const [method, call] of [
      ['PUT', c.put],
      ['PATCH', c.patch],
      ['DELETE', c.delete],
    ] as const) {
      const r = await call<{ method: string }>('/v1/things/1', { b: 2 });
      expect(r.method).toBe(method);
      expect(last().verified?.keyId).toBe(alice.keyId);
      expect(last().headers['idempotency-key']).toBeUndefined();
    }
    await c.delete('/v1/things/2');
    expect(last()).toMatchObject({ method: 'DELETE', body: '' });
    expect(last().headers['content-type']).toBeUndefined();
  });

  it('signs GETs (empty body) and returns undefined for 204', async () => {
    const c = client();
    const r = await c.get<{ method: string; body: unknown }>('/v1/wallets?limit=10');
    expect(r).toMatchObject({ method: 'GET', body: null });
    expect(last().verified?.keyId).toBe(alice.keyId);
    expect(await c.post('/v1/empty', {})).toBeUndefined();
  });

  it('turns problem+json into a StrongroomError with the server code, detail and hints', async () => {
    const e = await rejection(client().post('/v1/problem', {}));
    expect(e.code).toBe('E_IDEMPOTENCY_CONFLICT');
    expect(e.message).toBe('another body was sent under this key');
    expect(e.hints).toStrictEqual(['use a new key']);
    expect(e.details).toMatchObject({ status: 409, idempotencyKey: 'k1', method: 'POST' });
  });

  it('surfaces the server refusing a bad signature as its code', async () => {
    const mallory = generateRequestSigner('ed25519');
    const e = await rejection(
      createClient({ baseUrl, signer: { ...mallory, keyId: alice.keyId } }).post('/v1/x', {}),
    );
    expect(e.code).toBe('E_SIGNATURE_INVALID');
    const unknown = await rejection(createClient({ baseUrl, signer: mallory }).get('/v1/x'));
    expect(unknown.code).toBe('E_KEY_UNKNOWN');
  });

  it('E_UNEXPECTED_RESPONSE for non-problem errors, malformed JSON and redirects (not followed)', async () => {
    const c = client();
    expect((await rejection(c.get('/v1/plain-500'))).code).toBe('E_UNEXPECTED_RESPONSE');
    expect((await rejection(c.get('/v1/bad-json'))).code).toBe('E_UNEXPECTED_RESPONSE');
    const count = seen.length;
    const e = await rejection(c.get('/v1/redirect'));
    expect(e.code).toBe('E_UNEXPECTED_RESPONSE');
    expect(e.details.status).toBe(307);
    expect(seen.length).toBe(count + 1);
  });

  it('E_NETWORK when the server cannot be reached', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const e = await rejection(
      createClient({ baseUrl: `http://127.0.0.1:${port}`, signer: alice }).get('/v1/x'),
    );
    expect(e.code).toBe('E_NETWORK');
  });

  it('opens a session (two signed calls) and reads with the bearer token, unsigned', async () => {
    const c = client();
    const session = await c.openSession();
    expect(session.token).toMatch(/^t_c/);
    expect(seen.slice(-2).map((s) => [s.method, s.url, s.verified?.keyId])).toStrictEqual([
      ['POST', '/v1/sessions/challenge', alice.keyId],
      ['POST', '/v1/sessions', alice.keyId],
    ]);
    expect(await c.get('/v1/me', { session })).toStrictEqual({ via: 'session', url: '/v1/me' });
    expect(last().headers.signature).toBeUndefined();
    expect(last().headers.authorization).toBe(`Bearer ${session.token}`);
    const e = await rejection(c.get('/v1/me', { session: 'forged' }));
    expect(e.code).toBe('E_SESSION_INVALID');
  });

  it('validates baseUrl, path, idempotency key and body before sending anything', async () => {
    const count = seen.length;
    const bad = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as StrongroomError).code;
      }
      return 'no error';
    };
    expect(bad(() => createClient({ baseUrl: 'http://vault.example.com', signer: alice }))).toBe(
      'E_VALIDATION',
    );
    expect(bad(() => createClient({ baseUrl: 'https://user:pw@vault.example.com', signer: alice }))).toBe(
      'E_VALIDATION',
    );
    expect(bad(() => createClient({ baseUrl: 'ftp://vault.example.com', signer: alice }))).toBe(
      'E_VALIDATION',
    );
    expect(bad(() => createClient({ baseUrl: 'vault.example.com', signer: alice }))).toBe('E_VALIDATION');
    expect(
      createClient({ baseUrl: 'http://vault.internal/', signer: alice, allowInsecureHttp: true }).baseUrl,
    ).toBe('http://vault.internal');
    const c = client();
    for (const path of ['v1/x', '//evil.example/v1/x', 'https://evil.example/v1/x', '/v1/x#frag', '/v1/ x']) {
      expect((await rejection(c.get(path))).code).toBe('E_VALIDATION');
    }
    expect((await rejection(c.post('/v1/x', {}, { idempotencyKey: 'has space' }))).code).toBe('E_VALIDATION');
    expect((await rejection(c.post('/v1/x', { amount: 1n }))).code).toBe('E_VALIDATION');
    expect(seen.length).toBe(count);
  });

  it('keeps a base path prefix', async () => {
    const c = createClient({ baseUrl: `${baseUrl}/prefix/`, signer: alice });
    const r = await c.get<{ url: string }>('/v1/x');
    expect(r.url).toBe('/prefix/v1/x');
  });
});
