/**
 * Requests (intents): what someone wants done, signed by its initiator. This issue records them as
 * `submitted` with their evidence; screening, policy, approvals and signing follow in later issues.
 */
import { DEFAULT_ASSETS, type AssetRegistry } from '../domain/assets.ts';
import { transferPayloadOf } from '../vault/evidence.ts';
import type { DestinationCheck } from './destination-check.ts';
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { requestsRepository, type Queryable } from '../store/index.ts';
import type { RequestRow } from '../store/repositories/requests-repository.ts';
import type { AuditedWriter } from './audited-writer.ts';
import type { Principal, Reply } from './principal.ts';
import { signedWrite } from './signed-change.ts';

export interface TransferInput {
  type: 'transfer';
  asset: string;
  /** Decimal string in asset units, e.g. "0.015". */
  amount: string;
  /** Source wallet id. */
  from: string;
  /** Destination address. */
  to: string;
  note?: string;
  /** Highest total network fee accepted, decimal string in the chain's native coin (default: the chain's configured cap). */
  maxFee?: string;
  expiresInSeconds?: number;
}

export interface RequestView {
  id: string;
  type: string;
  status: string;
  initiator: string;
  keyId: string;
  /** Canonical payload; amounts in base units as decimal strings. */
  payload: Record<string, unknown>;
  digest: string;
  idempotencyKey: string;
  createdAt: string;
  expiresAt: string | null;
}

const DEFAULT_EXPIRY_S = 24 * 3600;
const MAX_EXPIRY_S = 30 * 24 * 3600;

function view(r: RequestRow, payload = JSON.parse(r.payload) as Record<string, unknown>): RequestView {
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    initiator: r.initiator_user_id,
    keyId: r.key_id,
    payload,
    digest: r.digest,
    idempotencyKey: r.idempotency_key,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}

/** Validates a transfer and returns its canonical payload (amount in base units). Throws, changing nothing. */
export function transferPayload(input: TransferInput, assets: AssetRegistry = DEFAULT_ASSETS): Record<string, unknown> {
  return transferPayloadOf(input as unknown as Record<string, unknown>, assets);
}

export function createRequestsService(deps: {
  writer: AuditedWriter;
  db: Queryable;
  now: () => Date;
  assets?: AssetRegistry;
  /** Destination format and look-alike check, before anything is recorded. */
  checkDestination?: DestinationCheck;
}) {
  const { writer, db, now } = deps;
  return {
    async create(p: Principal, input: TransferInput, idempotencyKey: string): Promise<Reply<RequestView>> {
      const payload = transferPayload(input, deps.assets);
      if (deps.checkDestination) await deps.checkDestination(p.tenant, payload);
      const expiresIn = input.expiresInSeconds ?? DEFAULT_EXPIRY_S;
      if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > MAX_EXPIRY_S) {
        throw new StrongroomError(
          'E_VALIDATION',
          `expiresInSeconds must be an integer from 60 to ${MAX_EXPIRY_S}`,
          {
            details: { parameter: 'expiresInSeconds' },
          },
        );
      }
      const sig = p.signature!;
      return signedWrite<RequestView>(
        writer,
        {
          principal: p,
          action: 'request.submit',
          idempotencyKey,
          run: async (trx, at) => {
            const createdAt = at.toISOString();
            const expiresAt = new Date(at.getTime() + expiresIn * 1000).toISOString();
            // DESIGN.md "Request digest".
            const digest = digestOf({
              tenant: p.tenant,
              type: input.type,
              payload,
              initiator: p.userId,
              keyId: p.keyId,
              idempotencyKey,
              createdAt,
              expiresAt,
            });
            const row: RequestRow = {
              id: newId('req'),
              tenant_id: p.tenant,
              type: input.type,
              status: 'submitted',
              initiator_user_id: p.userId,
              key_id: p.keyId,
              payload: JSON.stringify(payload),
              digest,
              idempotency_key: idempotencyKey,
              evidence: JSON.stringify({
                method: sig.method,
                targetUri: sig.targetUri,
                signatureInput: sig.signatureInput,
                signature: sig.signature,
                contentDigest: sig.contentDigest,
                body: sig.body,
              }),
              created_at: createdAt,
              expires_at: expiresAt,
            };
            await requestsRepository.insert(trx, row);
            // The stored payload text is JSON.stringify(payload): answer with the object, not a re-parse.
            const v = view(row, payload);
            return {
              value: { status: 201, body: v },
              payloadDigest: digest,
              events: [{ topic: 'request.submitted', payload: { id: row.id, digest } }],
            };
          },
        },
        now,
      );
    },
    async get(p: Principal, id: string): Promise<RequestView> {
      const r = await requestsRepository.get(db, p.tenant, id);
      if (!r) throw new StrongroomError('E_NOT_FOUND', 'request not found');
      return view(r);
    },
    async list(p: Principal, opts: { limit?: number; before?: string }): Promise<RequestView[]> {
      const rows = await requestsRepository.list(db, p.tenant, {
        limit: Math.min(opts.limit ?? 50, 500),
        before: opts.before,
      });
      return rows.map((r) => view(r));
    },
  };
}

export type RequestsService = ReturnType<typeof createRequestsService>;
