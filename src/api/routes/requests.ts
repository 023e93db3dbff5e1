import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { send, errors, IdParams, idempotencyKey, principal, readSecurity, signedSecurity } from './common.ts';

const RequestView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: Type.String(),
  initiator: Type.String(),
  keyId: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown()),
  digest: Type.String(),
  idempotencyKey: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});

export async function requestRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.post(
    '/v1/requests',
    {
      schema: {
        summary: 'Submit a request (intent), signed by its initiator',
        tags: ['requests'],
        security: signedSecurity,
        body: Type.Object(
          {
            type: Type.Literal('transfer'),
            asset: Type.String({ maxLength: 32 }),
            amount: Type.String({
              maxLength: 100,
              description: 'decimal string in asset units, e.g. "0.015"; never a JSON number',
            }),
            from: Type.String({ minLength: 1, maxLength: 64, description: 'source wallet id' }),
            to: Type.String({ minLength: 1, maxLength: 128, description: 'destination address' }),
            note: Type.Optional(Type.String({ maxLength: 500 })),
            maxFee: Type.Optional(Type.String({ maxLength: 80, description: 'highest total network fee accepted, in the chain native coin (e.g. "0.0001")' })),
            expiresInSeconds: Type.Optional(Type.Integer()),
          },
          { additionalProperties: false },
        ),
        response: { 201: RequestView, ...errors(400, 401, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.requests.create(principal(req), req.body as never, idempotencyKey(req));
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/requests',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List requests, newest first',
        tags: ['requests'],
        security: readSecurity,
        querystring: Type.Object({
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
          before: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: { 200: Type.Array(RequestView) },
      },
    },
    async (req) => {
      const q = req.query as { limit?: string; before?: string };
      return app.requests.list(principal(req), {
        limit: q.limit ? Number(q.limit) : undefined,
        before: q.before,
      });
    },
  );
  server.get(
    '/v1/requests/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Get a request',
        tags: ['requests'],
        security: readSecurity,
        params: IdParams,
        response: { 200: RequestView, ...errors(404) },
      },
    },
    async (req) => app.requests.get(principal(req), (req.params as { id: string }).id),
  );
}
