import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StrongroomError } from '../../domain/errors.ts';
import type { Principal, Reply } from '../../service/principal.ts';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    hints: Type.Optional(Type.Array(Type.String())),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    instance: Type.Optional(Type.String()),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details with a stable code' },
);

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Standard error responses for OpenAPI. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref('Problem')]));
}

export const signedSecurity: Array<Record<string, string[]>> = [{ httpSignature: [] }];
export const readSecurity: Array<Record<string, string[]>> = [{ httpSignature: [] }, { session: [] }];

/** Sends a service reply (status and body), as recorded for idempotent repeats. */
export function send(reply: FastifyReply, r: Reply): FastifyReply {
  return (reply as FastifyReply).status(r.status).send(r.body);
}

export function principal(req: FastifyRequest): Principal {
  if (!req.principal) throw new StrongroomError('E_SIGNATURE_MISSING', 'not authenticated');
  return req.principal;
}

/** Creating calls carry an Idempotency-Key: a repeat answers the same, another body under it is a conflict. */
export function idempotencyKey(req: FastifyRequest): string {
  const k = req.headers['idempotency-key'];
  if (typeof k !== 'string' || k.length === 0) {
    throw new StrongroomError('E_IDEMPOTENCY_KEY_REQUIRED', 'creating calls need an Idempotency-Key header', {
      hints: ['send a random UUID per logical operation and reuse it on retries'],
    });
  }
  return k;
}
