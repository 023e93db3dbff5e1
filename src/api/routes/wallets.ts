import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { send, errors, idempotencyKey, principal, readSecurity, signedSecurity } from './common.ts';

const WalletId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' });
const WalletParams = Type.Object({ id: WalletId });
const Chain = Type.Union([Type.Literal('bitcoin'), Type.Literal('ethereum')]);
const Kind = Type.Union([Type.Literal('p2wpkh'), Type.Literal('p2tr'), Type.Literal('evm')]);

const Address = Type.Object({
  chain: Chain,
  kind: Kind,
  change: Type.Integer({ description: '0 receive, 1 change' }),
  index: Type.Integer(),
  address: Type.String(),
  path: Type.String({ description: "absolute derivation path, e.g. m/84'/0'/0'/0/3" }),
  createdAt: Type.String(),
});
const WalletFields = {
  walletId: Type.String(),
  tier: Type.Union([Type.Literal('hot'), Type.Literal('warm'), Type.Literal('cold')]),
  label: Type.String(),
  fingerprint: Type.String(),
  network: Type.String(),
  xpubs: Type.Object({ bip84: Type.String(), bip86: Type.String(), bip44eth: Type.String() }),
  createdAt: Type.String(),
};
const Wallet = Type.Object(WalletFields);
const WalletDetail = Type.Object({ ...WalletFields, addresses: Type.Array(Address) });
const Balance = Type.Object({
  asset: Type.String(),
  chain: Chain,
  decimals: Type.Integer(),
  available: Type.String({ description: 'base units, decimal string' }),
  pending: Type.String({ description: 'deposits waiting for confirmations, base units' }),
  locked: Type.String({ description: 'held by withdrawals in flight, base units' }),
});
const Deposit = Type.Object({
  id: Type.String(),
  walletId: Type.String(),
  chain: Chain,
  asset: Type.String(),
  txid: Type.String(),
  position: Type.Integer({ description: 'vout (Bitcoin), log index (ERC-20), -1 (native ETH)' }),
  address: Type.String(),
  amount: Type.String({ description: 'base units, decimal string' }),
  blockHeight: Type.Integer(),
  blockHash: Type.String(),
  confirmations: Type.Integer(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('credited'), Type.Literal('reorged')]),
  detectedAt: Type.String(),
  creditedAt: Type.Union([Type.String(), Type.Null()]),
  reorgedAt: Type.Union([Type.String(), Type.Null()]),
});

export async function walletRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.post(
    '/v1/wallets',
    {
      schema: {
        summary: 'Create a wallet in the vault and store its first receive addresses',
        tags: ['wallets'],
        security: signedSecurity,
        body: Type.Object(
          {
            walletId: WalletId,
            tier: Type.Union([Type.Literal('hot'), Type.Literal('warm'), Type.Literal('cold')]),
            label: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: WalletDetail, ...errors(400, 401, 409, 503) },
      },
    },
    async (req, reply) => {
      const r = await app.wallets.create(principal(req), req.body as never, idempotencyKey(req));
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/wallets',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'List wallets in walletId order',
        tags: ['wallets'],
        security: readSecurity,
        querystring: Type.Object({
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
          after: Type.Optional(Type.String({ maxLength: 128 })),
        }),
        response: { 200: Type.Array(Wallet) },
      },
    },
    async (req) => {
      const q = req.query as { limit?: string; after?: string };
      return app.wallets.list(principal(req), {
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
    },
  );
  server.get(
    '/v1/wallets/:id',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Get a wallet with its receive addresses',
        tags: ['wallets'],
        security: readSecurity,
        params: WalletParams,
        response: { 200: WalletDetail, ...errors(404) },
      },
    },
    async (req) => app.wallets.get(principal(req), (req.params as { id: string }).id),
  );
  server.get(
    '/v1/wallets/:id/addresses',
    {
      config: { auth: 'read' },
      schema: {
        summary: "List a wallet's addresses (receive and change)",
        tags: ['wallets'],
        security: readSecurity,
        params: WalletParams,
        response: { 200: Type.Array(Address), ...errors(404) },
      },
    },
    async (req) => app.wallets.addresses(principal(req), (req.params as { id: string }).id),
  );
  server.post(
    '/v1/wallets/:id/addresses',
    {
      schema: {
        summary: 'Derive and store the next receive address (Bitcoin), or answer the EVM address',
        tags: ['wallets'],
        security: signedSecurity,
        params: WalletParams,
        body: Type.Object({ chain: Chain, kind: Kind }, { additionalProperties: false }),
        response: { 200: Address, 201: Address, ...errors(400, 401, 404, 409) },
      },
    },
    async (req, reply) => {
      const r = await app.wallets.newAddress(
        principal(req),
        (req.params as { id: string }).id,
        req.body as never,
        idempotencyKey(req),
      );
      return send(reply as never, r);
    },
  );
  server.get(
    '/v1/wallets/:id/balances',
    {
      config: { auth: 'read' },
      schema: {
        summary: 'Balances per asset: available, pending (unconfirmed deposits), locked (withdrawals in flight)',
        tags: ['wallets'],
        security: readSecurity,
        params: WalletParams,
        response: { 200: Type.Array(Balance), ...errors(404) },
      },
    },
    async (req) => app.deposits.balances(principal(req).tenant, (req.params as { id: string }).id),
  );
  server.get(
    '/v1/wallets/:id/deposits',
    {
      config: { auth: 'read' },
      schema: {
        summary: "A wallet's deposits, newest first",
        tags: ['wallets'],
        security: readSecurity,
        params: WalletParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
          before: Type.Optional(Type.String({ maxLength: 64 })),
        }),
        response: { 200: Type.Array(Deposit), ...errors(404) },
      },
    },
    async (req) => {
      const p = principal(req);
      const walletId = (req.params as { id: string }).id;
      const q = req.query as { limit?: string; before?: string };
      await app.wallets.get(p, walletId);
      return app.deposits.list(p.tenant, {
        walletId,
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
    },
  );
}
