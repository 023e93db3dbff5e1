import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { send, errors, principal, readSecurity, signedSecurity } from './common.ts';

export async function sessionRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.post(
    '/v1/sessions/challenge',
    {
      schema: {
        summary: 'Get a one-time challenge for opening a read session',
        tags: ['sessions'],
        security: signedSecurity,
        response: {
          201: Type.Object({ challenge: Type.String(), expiresAt: Type.String() }),
          ...errors(401),
        },
      },
    },
    async (req, reply) => {
      const r = await app.sessions.challenge(principal(req));
      return send(reply as never, r);
    },
  );
  server.post(
    '/v1/sessions',
    {
      schema: {
        summary: 'Open a short-lived read session by signing the challenge back',
        tags: ['sessions'],
        security: signedSecurity,
        body: Type.Object({ challenge: Type.String({ maxLength: 128 }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ token: Type.String(), expiresAt: Type.String() }), ...errors(401) },
      },
    },
    async (req, reply) => {
      const r = await app.sessions.open(principal(req), (req.body as { challenge: string }).challenge);
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/me',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Who am I',
        tags: ['sessions'],
        security: readSecurity,
        response: {
          200: Type.Object({ tenant: Type.String(), userId: Type.String(), keyId: Type.String() }),
        },
      },
    },
    async (req) => {
      const p = principal(req);
      return { tenant: p.tenant, userId: p.userId, keyId: p.keyId };
    },
  );
}
