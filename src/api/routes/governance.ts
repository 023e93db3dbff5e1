import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { approvalRoutes } from './approvals.ts';
import { errors, IdParams, idempotencyKey, principal, readSecurity, send, signedSecurity } from './common.ts';

const strict = { additionalProperties: false } as const;

/** Governance, policy tools, and (approvals.ts) transfer approvals. */
export async function governanceRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  await approvalRoutes(server, app);
  server.get(
    '/v1/governance/genesis-draft',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'The genesis the directory admins would sign (governance quorum k of admins)',
        tags: ['governance'],
        security: readSecurity,
        querystring: Type.Object({ k: Type.String({ pattern: '^[0-9]{1,3}$' }), createdAt: Type.Optional(Type.String({ maxLength: 32 })) }),
      },
    },
    async (req) => app.governance.genesisDraft(principal(req), { k: Number((req.query as { k: string }).k) }),
  );
  server.post(
    '/v1/governance/genesis',
    {
      schema: {
        summary: 'Record the genesis signed by every initial admin (one-shot; the vault records its digest)',
        tags: ['governance'],
        security: signedSecurity,
        body: Type.Object({ genesis: Type.Record(Type.String(), Type.Unknown()), signatures: Type.Array(Type.Unknown(), { maxItems: 200 }) }, strict),
        response: errors(400, 401, 403, 409),
      },
    },
    async (req, reply) => {
      const r = await app.governance.genesis(principal(req), req.body as never, idempotencyKey(req));
      app.keys.invalidate();
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/governance',
    { config: { auth: 'read' }, schema: { summary: 'The governance head (state in force) and the head the vault verified', tags: ['governance'], security: readSecurity } },
    async (req) => app.governance.show(principal(req)),
  );
  server.post(
    '/v1/governance/requests',
    {
      schema: {
        summary: 'Propose a governance request signed by its initiator (a freeze applies at once)',
        tags: ['governance'],
        security: signedSecurity,
        body: Type.Object({ request: Type.Record(Type.String(), Type.Unknown()), initiatorSignature: Type.String({ maxLength: 200 }) }, strict),
        response: errors(400, 401, 403, 409),
      },
    },
    async (req, reply) => {
      const r = await app.governance.propose(principal(req), req.body as never, idempotencyKey(req));
      app.keys.invalidate();
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/governance/requests',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Governance requests, newest first',
        tags: ['governance'],
        security: readSecurity,
        querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('applied'), Type.Literal('rejected')])) }),
      },
    },
    async (req) => app.governance.list(principal(req), (req.query as { status?: string }).status),
  );
  server.get(
    '/v1/governance/requests/:id',
    { config: { auth: 'read' }, schema: { summary: 'A governance request with its approvals', tags: ['governance'], security: readSecurity, params: IdParams } },
    async (req) => app.governance.get(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/governance/requests/:id/approvals',
    {
      schema: {
        summary: 'Approve or reject a governance request (the approver signs the canonical approval statement)',
        tags: ['governance'],
        security: signedSecurity,
        params: IdParams,
        body: Type.Object({ approval: Type.Record(Type.String(), Type.Unknown()) }, strict),
        response: errors(400, 401, 403, 404, 409),
      },
    },
    async (req, reply) => {
      const r = await app.governance.approve(principal(req), (req.params as { id: string }).id, (req.body as { approval: never }).approval);
      app.keys.invalidate();
      return send(reply as never, r);
    },
  );
  server.post(
    '/v1/policy/test',
    {
      config: { auth: 'read' },
      schema: { summary: "Run a policy document's own tests", tags: ['policy'], security: readSecurity, body: Type.Object({ document: Type.Unknown() }, strict) },
    },
    async (req) => app.approvals.test((req.body as { document: unknown }).document),
  );
  server.post(
    '/v1/policy/simulate',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Replay a draft policy against the last N evaluated requests; list every outcome that would change',
        tags: ['policy'],
        security: readSecurity,
        body: Type.Object({ document: Type.Unknown(), last: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }, strict),
      },
    },
    async (req) => {
      const b = req.body as { document: unknown; last?: number };
      const r = await app.approvals.simulate(principal(req), b.document, b.last);
      // bigint amounts leave as decimal strings.
      return JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    },
  );
}
