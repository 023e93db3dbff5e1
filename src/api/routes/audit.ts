import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { principal, readSecurity } from './common.ts';

const Entry = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  tenant: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  requestDigest: Type.Union([Type.String(), Type.Null()]),
  payloadDigest: Type.Union([Type.String(), Type.Null()]),
  prevHash: Type.String(),
  hash: Type.String(),
});
const Checkpoint = Type.Object({
  tenant: Type.String(),
  seq: Type.Integer(),
  headHash: Type.String(),
  at: Type.String(),
  keyId: Type.String(),
  signature: Type.String(),
});

export async function auditRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.get(
    '/v1/audit/entries',
    {
      config: { auth: 'read' },
      schema: {
        summary: "The tenant's audit entries in sequence order",
        tags: ['audit'],
        security: readSecurity,
        querystring: Type.Object({
          after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
        }),
        response: { 200: Type.Array(Entry) },
      },
    },
    async (req) => {
      const q = req.query as { after?: string; limit?: string };
      return app.audit.entries(
        principal(req).tenant,
        Number(q.after ?? 0),
        Math.min(Number(q.limit ?? 1000), 5000),
      );
    },
  );
  server.get(
    '/v1/audit/checkpoints',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Signed audit checkpoints',
        tags: ['audit'],
        security: readSecurity,
        response: { 200: Type.Array(Checkpoint) },
      },
    },
    async (req) => app.audit.checkpoints(principal(req).tenant),
  );
  server.get(
    '/v1/audit/verify',
    {
      config: { auth: 'read' },
      schema: {
        summary: "Verify the tenant's audit chain against its signed checkpoints",
        tags: ['audit'],
        security: readSecurity,
      },
    },
    async (req) => app.audit.verify(principal(req).tenant),
  );
}
