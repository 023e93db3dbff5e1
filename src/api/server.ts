/**
 * The HTTP API: thin routes (schema → service → response). Every write is authenticated by its author's
 * HTTP message signature (RFC 9421); reads by a signature or a short-lived session token. JSON bodies are
 * parsed strictly (duplicate keys, __proto__ and constructor refused), validated without type coercion
 * (an amount sent as a number is refused), and errors leave as RFC 9457 problem details.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { StrongroomError, isStrongroomError } from '../domain/errors.ts';
import type { Principal } from '../service/principal.ts';
import type { Strongroom } from '../service/app.ts';
import { verifySignedRequest } from '../domain/http-signatures.ts';
import { problem } from './problem.ts';
import { parseStrictJson } from './strict-json.ts';
import { registerRoutes } from './routes/index.ts';

export interface ServerOptions {
  /** Largest accepted body, bytes. */
  bodyLimit?: number;
  logger?: boolean;
  /** Trust X-Forwarded-* from a reverse proxy when reconstructing the signed target URI. */
  trustProxy?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** 'signed': a valid signature is required (all writes). 'read': signature or session. 'none': public. */
    auth?: 'signed' | 'read' | 'none';
  }
}

export async function buildServer(app: Strongroom, options: ServerOptions = {}): Promise<FastifyInstance> {
  const server = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    trustProxy: options.trustProxy ?? false,
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  });

  server.removeAllContentTypeParsers();
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    req.rawBody = text;
    try {
      done(null, text.length === 0 ? undefined : parseStrictJson(text));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  await server.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Strongroom API', version: '0.1.0', description: 'Self-hosted digital-asset custody.' },
      components: {
        securitySchemes: {
          httpSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'Signature',
            description:
              'RFC 9421 signature over "@method" "@target-uri" "content-digest" with created, nonce, keyid, alg.',
          },
          session: {
            type: 'http',
            scheme: 'bearer',
            description: 'Read-only session token from POST /v1/sessions.',
          },
        },
      },
    },
  });

  server.setErrorHandler((err, req, reply) => sendError(err, req, reply));
  server.setNotFoundHandler((req, reply) =>
    sendError(
      new StrongroomError('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
      req,
      reply,
    ),
  );

  server.addHook('preHandler', async (req) => {
    const mode = req.routeOptions.config.auth ?? 'signed';
    if (mode === 'none') return;
    const auth = req.headers.authorization;
    if (mode === 'read' && typeof auth === 'string' && auth.startsWith('Bearer ') && !req.headers.signature) {
      req.principal = await app.sessions.resolve(auth.slice(7));
      return;
    }
    req.principal = await authenticate(app, req);
  });

  server.get('/healthz', { config: { auth: 'none' }, schema: { hide: true } }, async () => ({ ok: true }));
  server.get('/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () =>
    server.swagger(),
  );
  server.get('/docs', { config: { auth: 'none' }, schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html').send(DOCS_PAGE),
  );
  await registerRoutes(server, app);
  await (await import('./routes/wallets.ts')).walletRoutes(server, app);
  await (await import('./routes/withdrawals.ts')).withdrawalRoutes(server, app);
  return server;
}

async function authenticate(app: Strongroom, req: FastifyRequest): Promise<Principal> {
  if (!req.headers['signature'] || !req.headers['signature-input']) {
    throw new StrongroomError(
      'E_SIGNATURE_MISSING',
      'this call must be signed (RFC 9421 Signature and Signature-Input)',
      {
        hints: ['use the Strongroom SDK or CLI, which sign every request with your key file'],
      },
    );
  }
  const body = req.rawBody ?? '';
  const targetUri = `${req.protocol}://${req.host}${req.url}`;
  let known: Awaited<ReturnType<typeof app.keys.resolve>>;
  const verified = await verifySignedRequest(
    { method: req.method, targetUri, headers: req.headers, body },
    {
      now: Math.floor(app.now().getTime() / 1000),
      resolveKey: async (keyId) => {
        known = await app.keys.resolve(keyId);
        return known && { alg: known.alg, key: known.key };
      },
    },
  );
  const k = known!;
  return {
    tenant: k.tenant,
    userId: k.userId,
    keyId: k.keyId,
    signature: {
      nonce: verified.nonce,
      created: verified.created,
      method: req.method,
      targetUri,
      signatureInput: String(req.headers['signature-input']),
      signature: String(req.headers['signature']),
      contentDigest: String(req.headers['content-digest']),
      body,
    },
  };
}

function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const p = toProblem(err);
  if (p.status >= 500 && p.code === 'E_INTERNAL') req.log.error({ err }, 'unhandled error');
  return reply
    .status(p.status)
    .type('application/problem+json')
    .send({ ...p, instance: req.url.split('?')[0] });
}

function toProblem(err: unknown) {
  if (isStrongroomError(err)) {
    return problem(err.code, err.message, {
      ...(err.hints.length ? { hints: err.hints } : {}),
      ...(Object.keys(err.details).length ? { details: err.details } : {}),
    });
  }
  const e = err as { code?: string; validation?: unknown[]; message?: string; statusCode?: number };
  if (e.validation) {
    const v = e.validation[0] as
      { instancePath?: string; message?: string; params?: Record<string, unknown> } | undefined;
    const path =
      v?.instancePath || (v?.params?.missingProperty ? `/${String(v.params.missingProperty)}` : '');
    const isAmountNumber = /amount$/i.test(path) && /must be string/.test(v?.message ?? '');
    return problem(
      isAmountNumber ? 'E_AMOUNT_NOT_STRING' : 'E_VALIDATION',
      `${path || 'body'} ${v?.message ?? 'is invalid'}`,
      {
        details: { parameter: path || 'body', ...(v?.params ?? {}) },
      },
    );
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('E_BODY_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('E_BAD_REQUEST', 'only application/json bodies are accepted');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('E_BAD_REQUEST', e.message ?? 'bad request body');
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return problem('E_BAD_REQUEST', e.message ?? 'bad request');
  return problem('E_INTERNAL', 'internal error');
}

const DOCS_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Strongroom API</title>
<style>body{font:14px system-ui;margin:2em;max-width:60em}code{background:#eee;padding:0 .2em}li{margin:.3em 0}</style></head>
<body><h1>Strongroom API</h1><p>The machine-readable description is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
Every write is signed with RFC 9421 HTTP Message Signatures; see the README.</p><ul id="ops"></ul>
<script>fetch('/openapi.json').then(r=>r.json()).then(d=>{const ul=document.getElementById('ops');
for(const[p,ops]of Object.entries(d.paths))for(const[m,o]of Object.entries(ops)){const li=document.createElement('li');
li.innerHTML='<code>'+m.toUpperCase()+' '+p+'</code> '+(o.summary||'');ul.appendChild(li);}});</script></body></html>`;
