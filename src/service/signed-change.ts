/**
 * The one path every signed write takes inside its transaction: the nonce is spent (once per key, across
 * every API node, by the database), the key must still be active, and an `Idempotency-Key` makes a repeat
 * answer what the first call answered (a different body under the same key is a conflict).
 */
import { digestOfBytes, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { authRepository, directoryRepository } from '../store/index.ts';
import type { AuditedWriter, ChangeOutcome, Trx } from './audited-writer.ts';
import type { Principal, Reply } from './principal.ts';

export interface SignedWrite<T> {
  principal: Principal;
  action: string;
  /** Required on creating calls. */
  idempotencyKey?: string;
  /** Digest of the request as the author signed it; recorded in the audit entry. */
  requestDigest?: Digest;
  run(trx: Trx, now: Date): Promise<Omit<ChangeOutcome<Reply<T>>, 'noop'>>;
}

const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_.:-]{8,128}$/;

export async function signedWrite<T>(
  writer: AuditedWriter,
  w: SignedWrite<T>,
  now: () => Date,
): Promise<Reply<T>> {
  const sig = w.principal.signature;
  if (!sig)
    throw new StrongroomError('E_SIGNATURE_MISSING', 'state-changing calls must be signed by their author');
  if (w.idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(w.idempotencyKey)) {
    throw new StrongroomError('E_VALIDATION', 'Idempotency-Key must be 8-128 characters of [A-Za-z0-9_.:-]', {
      details: { parameter: 'Idempotency-Key' },
    });
  }
  // The same Idempotency-Key on another endpoint or with another body is a conflict, not a repeat.
  const bodyHash = digestOfBytes(`${sig.method} ${sig.targetUri}\n${sig.body}`);
  const requestDigest = w.requestDigest ?? bodyHash;
  return writer.write<Reply<T>>({
    tenant: w.principal.tenant,
    actor: w.principal.keyId,
    action: w.action,
    requestDigest,
    run: async (trx) => {
      const nonce = {
        tenantId: w.principal.tenant,
        keyId: w.principal.keyId,
        nonce: sig.nonce,
        createdUnix: sig.created,
      };
      // Spent in the database with the key-active check; with an Idempotency-Key, the earlier answer (if
      // any) is read in the same round trip.
      const { spent, prior } =
        w.idempotencyKey === undefined
          ? {
              spent: await authRepository.useNonceIfKeyActive(
                trx,
                nonce.tenantId,
                nonce.keyId,
                nonce.nonce,
                nonce.createdUnix,
              ),
              prior: undefined,
            }
          : await authRepository.useNonceAndGetIdempotency(trx, {
              ...nonce,
              userId: w.principal.userId,
              key: w.idempotencyKey,
            });
      if (!spent) {
        const key = await directoryRepository.getKey(trx, w.principal.keyId);
        if (!key || key.tenant_id !== w.principal.tenant)
          throw new StrongroomError('E_KEY_UNKNOWN', 'unknown key');
        if (key.status !== 'active') throw new StrongroomError('E_KEY_REVOKED', 'this key has been revoked');
        throw new StrongroomError('E_NONCE_REPLAYED', 'this signed request was already used', {
          hints: ['sign every request with a fresh nonce'],
        });
      }
      if (prior) {
        if (prior.request_hash !== bodyHash) {
          throw new StrongroomError(
            'E_IDEMPOTENCY_CONFLICT',
            'this Idempotency-Key was used with a different body',
            {
              details: { idempotencyKey: w.idempotencyKey },
            },
          );
        }
        return {
          value: { status: prior.status_code, body: JSON.parse(prior.response_body) as T },
          payloadDigest: null,
          noop: true,
        };
      }
      const at = now();
      const out = await w.run(trx, at);
      if (w.idempotencyKey !== undefined) {
        await authRepository.insertIdempotency(trx, {
          tenant_id: w.principal.tenant,
          user_id: w.principal.userId,
          idem_key: w.idempotencyKey,
          request_hash: bodyHash,
          status_code: out.value.status,
          response_body: JSON.stringify(out.value.body),
          created_at: at.toISOString(),
        });
      }
      return out;
    },
  });
}
