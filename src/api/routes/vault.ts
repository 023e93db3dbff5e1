/**
 * Vault endpoints: status (read) and unseal (signed: custodians post their share files and passphrases,
 * or the PKCS#11 PIN, through an authenticated operator). The route talks to a narrow `VaultPort` — in
 * production the `RemoteVault` to the separate vault process — so the API never holds key material.
 * (src/api may not import src/vault; the port is structural, `Vault` satisfies it.)
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errors, principal, readSecurity, signedSecurity } from './common.ts';

export interface VaultPort {
  status(tenant: string): Promise<unknown>;
  unseal(
    tenant: string,
    params:
      | { mechanism: 'shamir'; shares: Array<{ file: Uint8Array; passphrase: Uint8Array }>; actor?: string }
      | { mechanism: 'pkcs11'; pin: string; actor?: string },
  ): Promise<unknown>;
}

const Status = Type.Object({
  tenant: Type.String(),
  state: Type.Union([
    Type.Literal('uninitialized'),
    Type.Literal('sealed'),
    Type.Literal('unsealed'),
    Type.Literal('zeroized'),
  ]),
  mechanism: Type.Union([Type.Literal('shamir'), Type.Literal('pkcs11'), Type.Null()]),
  masterKey: Type.Union([Type.Object({ id: Type.String(), version: Type.Integer() }), Type.Null()]),
  wallets: Type.Integer(),
  rewrap: Type.Union([
    Type.Object({
      fromVersion: Type.Integer(),
      toVersion: Type.Integer(),
      done: Type.Integer(),
      total: Type.Integer(),
      state: Type.String(),
    }),
    Type.Null(),
  ]),
});

const UnsealBody = Type.Union([
  Type.Object(
    {
      mechanism: Type.Literal('shamir'),
      shares: Type.Array(
        Type.Object(
          {
            /** The share file, base64 of its bytes. */
            file: Type.String({ contentEncoding: 'base64', maxLength: 65536 }),
            passphrase: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 255 },
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { mechanism: Type.Literal('pkcs11'), pin: Type.String({ minLength: 1, maxLength: 256 }) },
    { additionalProperties: false },
  ),
]);

export async function vaultRoutes(server: FastifyInstance, vault: VaultPort): Promise<void> {
  server.get(
    '/v1/vault/status',
    {
      config: { auth: 'read' },
      schema: {
        summary: "The tenant's vault state and master key version",
        tags: ['vault'],
        security: readSecurity,
        response: { 200: Status },
      },
    },
    async (req) => vault.status(principal(req).tenant),
  );
  server.post(
    '/v1/vault/unseal',
    {
      schema: {
        summary: 'Unseal with the custodians\u2019 quorum (share files and passphrases, or the token PIN)',
        tags: ['vault'],
        security: signedSecurity,
        body: UnsealBody,
        response: { 200: Status, ...errors(400, 401, 409) },
      },
    },
    async (req) => {
      const p = principal(req);
      const body = req.body as
        | { mechanism: 'shamir'; shares: Array<{ file: string; passphrase: string }> }
        | { mechanism: 'pkcs11'; pin: string };
      const actor = p.keyId;
      if (body.mechanism === 'pkcs11')
        return vault.unseal(p.tenant, { mechanism: 'pkcs11', pin: body.pin, actor });
      const enc = new TextEncoder();
      return vault.unseal(p.tenant, {
        mechanism: 'shamir',
        actor,
        shares: body.shares.map((s) => ({
          file: new Uint8Array(Buffer.from(s.file, 'base64')),
          passphrase: enc.encode(s.passphrase),
        })),
      });
    },
  );
}
