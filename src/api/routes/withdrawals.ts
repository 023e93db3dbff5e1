import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { send, errors, IdParams, principal, readSecurity, signedSecurity } from './common.ts';

const ExecutionView = Type.Object({
  requestId: Type.String(),
  chain: Type.String(),
  state: Type.String(),
  txid: Type.Union([Type.String(), Type.Null()]),
  fee: Type.Union([Type.String(), Type.Null()]),
  feeCap: Type.String(),
  blockHeight: Type.Union([Type.Number(), Type.Null()]),
  replaced: Type.Array(Type.String()),
  error: Type.Union([Type.String(), Type.Null()]),
  summary: Type.Union([Type.String({ description: 'what the stored unsigned transaction does, decoded from its bytes' }), Type.Null()]),
});

/** The execution of an approved withdrawal: its transaction, and fee bumps while it is unconfirmed. */
export async function withdrawalRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.get(
    '/v1/requests/:id/execution',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'The transaction of an approved withdrawal: state, txid, fee, block, replaced transactions',
        tags: ['withdrawals'],
        security: readSecurity,
        params: IdParams,
        response: { 200: ExecutionView, ...errors(404) },
      },
    },
    async (req) => app.withdrawals.execution(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/requests/:id/bump-fee',
    {
      schema: {
        summary: 'Replace a broadcast withdrawal by one paying more (same inputs / same nonce), within the approved fee cap',
        tags: ['withdrawals'],
        security: signedSecurity,
        params: IdParams,
        body: Type.Object(
          { feeRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10_000, description: 'Bitcoin: sat/vB (default: the node estimate)' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ requestId: Type.String(), txid: Type.String(), fee: Type.String(), replaced: Type.String() }),
          ...errors(400, 401, 404, 409),
        },
      },
    },
    async (req, reply) => {
      const r = await app.withdrawals.bumpFee(principal(req), (req.params as { id: string }).id, req.body as { feeRate?: number });
      return send(reply as never, r);
    },
  );
}
