import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { KEY_ALGORITHMS } from '../../domain/keys.ts';
import type { Strongroom } from '../../service/app.ts';
import { send, errors, IdParams, idempotencyKey, principal, readSecurity, signedSecurity } from './common.ts';

const PublicKeyInput = Type.Object(
  {
    alg: Type.Union(KEY_ALGORITHMS.map((a) => Type.Literal(a))),
    publicKey: Type.String({ minLength: 1, maxLength: 1024, description: 'SPKI DER, base64' }),
  },
  { additionalProperties: false },
);
const Key = Type.Object({
  id: Type.String(),
  alg: Type.String(),
  publicKey: Type.String(),
  status: Type.String(),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
const User = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  createdAt: Type.String(),
  keys: Type.Array(Key),
  groups: Type.Array(Type.String()),
});
const Group = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  members: Type.Array(Type.String()),
});

export async function directoryRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.post(
    '/v1/users',
    {
      schema: {
        summary: 'Create a user (person or service account) with its public keys',
        tags: ['directory'],
        security: signedSecurity,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            kind: Type.Union([Type.Literal('person'), Type.Literal('service')]),
            keys: Type.Array(PublicKeyInput, { minItems: 1, maxItems: 10 }),
            groups: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: User, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.directory.createUser(principal(req), req.body as never, idempotencyKey(req));
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/users',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List users',
        tags: ['directory'],
        security: readSecurity,
        response: { 200: Type.Array(User) },
      },
    },
    async (req) => app.directory.listUsers(principal(req)),
  );
  server.get(
    '/v1/users/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Get a user',
        tags: ['directory'],
        security: readSecurity,
        params: IdParams,
        response: { 200: User, ...errors(404) },
      },
    },
    async (req) => app.directory.getUser(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/users/:id/keys',
    {
      schema: {
        summary: 'Register another public key for a user',
        tags: ['directory'],
        security: signedSecurity,
        params: IdParams,
        body: PublicKeyInput,
        response: { 201: Key, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.directory.addKey(
        principal(req),
        (req.params as { id: string }).id,
        req.body as never,
        idempotencyKey(req),
      );
      return send(reply as never, r);
    },
  );
  server.post(
    '/v1/users/:id/keys/:keyId/revoke',
    {
      schema: {
        summary: 'Revoke a key (its signatures are refused from now on)',
        tags: ['directory'],
        security: signedSecurity,
        params: Type.Object({ id: Type.String({ maxLength: 64 }), keyId: Type.String({ maxLength: 64 }) }),
        response: { 200: Key, ...errors(401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { id, keyId } = req.params as { id: string; keyId: string };
      const r = await app.directory.revokeKey(principal(req), id, keyId);
      app.keys.invalidate(keyId);
      return send(reply as never, r);
    },
  );
  server.post(
    '/v1/groups',
    {
      schema: {
        summary: 'Create a group',
        tags: ['directory'],
        security: signedSecurity,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 201: Group, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.directory.createGroup(
        principal(req),
        req.body as { name: string },
        idempotencyKey(req),
      );
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/groups',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List groups',
        tags: ['directory'],
        security: readSecurity,
        response: { 200: Type.Array(Group) },
      },
    },
    async (req) => app.directory.listGroups(principal(req)),
  );
  server.get(
    '/v1/groups/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Get a group',
        tags: ['directory'],
        security: readSecurity,
        params: IdParams,
        response: { 200: Group, ...errors(404) },
      },
    },
    async (req) => app.directory.getGroup(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/groups/:id/members',
    {
      schema: {
        summary: 'Add a member to a group',
        tags: ['directory'],
        security: signedSecurity,
        params: IdParams,
        body: Type.Object({ userId: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Group, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.directory.addMember(
        principal(req),
        (req.params as { id: string }).id,
        (req.body as { userId: string }).userId,
      );
      return send(reply as never, r);
    },
  );
  server.delete(
    '/v1/groups/:id/members/:userId',
    {
      schema: {
        summary: 'Remove a member from a group',
        tags: ['directory'],
        security: signedSecurity,
        params: Type.Object({ id: Type.String({ maxLength: 64 }), userId: Type.String({ maxLength: 64 }) }),
        response: { 200: Group, ...errors(401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { id, userId } = req.params as { id: string; userId: string };
      const r = await app.directory.removeMember(principal(req), id, userId);
      return send(reply as never, r);
    },
  );
}
