import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { errors, IdParams, principal, readSecurity, send, signedSecurity } from './common.ts';

export async function approvalRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.get(
    '/v1/requests/:id/approvals',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Policy decision, recorded context, what approvers sign, approvals and workflow progress',
        tags: ['approvals'],
        security: readSecurity,
        params: IdParams,
        response: errors(404, 409),
      },
    },
    async (req) => app.approvals.status(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/requests/:id/approvals',
    {
      schema: {
        summary: 'Approve or reject (veto) a request: a signature over {kind, requestDigest, policyDigest, contextDigest, approver, keyId, signedAt}',
        tags: ['approvals'],
        security: signedSecurity,
        params: IdParams,
        body: Type.Object({ approval: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false }),
        response: errors(400, 401, 403, 404, 409),
      },
    },
    async (req, reply) => {
      const r = await app.approvals.approve(principal(req), (req.params as { id: string }).id, (req.body as { approval: never }).approval);
      return send(reply as never, r);
    },
  );
  server.post(
    '/v1/requests/:id/refresh',
    {
      schema: { summary: 'Move a request whose workflow expired or whose time-lock passed to its end state', tags: ['approvals'], security: signedSecurity, params: IdParams },
    },
    async (req) => app.approvals.refresh(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/requests/:id/authorize',
    {
      schema: {
        summary: 'Hand the stored evidence to the vault, which re-checks everything itself (and audits a refusal)',
        tags: ['approvals'],
        security: signedSecurity,
        params: IdParams,
        response: errors(400, 401, 403, 404, 409),
      },
    },
    async (req) => app.approvals.authorize(principal(req), (req.params as { id: string }).id),
  );
}
