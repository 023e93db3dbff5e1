/**
 * Read sessions: a client signs a request for a one-time challenge, then signs the challenge back and gets a
 * short-lived bearer token. Tokens authenticate reads only; every write stays individually signed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { authRepository, type Queryable } from '../store/index.ts';
import type { AuditedWriter } from './audited-writer.ts';
import type { Principal, Reply } from './principal.ts';
import { signedWrite } from './signed-change.ts';

const CHALLENGE_TTL_S = 120;
export const SESSION_TTL_S = 15 * 60;

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export function createSessionsService(deps: { writer: AuditedWriter; db: Queryable; now: () => Date }) {
  const { writer, db, now } = deps;
  return {
    challenge(p: Principal): Promise<Reply<{ challenge: string; expiresAt: string }>> {
      return signedWrite(
        writer,
        {
          principal: p,
          action: 'session.challenge',
          run: async (trx, at) => {
            const challenge = randomBytes(32).toString('base64url');
            const expires = Math.floor(at.getTime() / 1000) + CHALLENGE_TTL_S;
            await authRepository.insertChallenge(trx, challenge, p.keyId, expires);
            return {
              value: { status: 201, body: { challenge, expiresAt: new Date(expires * 1000).toISOString() } },
              payloadDigest: digestOf({ keyId: p.keyId, expires }),
            };
          },
        },
        now,
      );
    },
    open(p: Principal, challenge: string): Promise<Reply<{ token: string; expiresAt: string }>> {
      return signedWrite(
        writer,
        {
          principal: p,
          action: 'session.open',
          run: async (trx, at) => {
            const nowS = Math.floor(at.getTime() / 1000);
            if (!(await authRepository.consumeChallenge(trx, challenge, p.keyId, nowS))) {
              throw new StrongroomError('E_SESSION_INVALID', 'unknown, used or expired challenge');
            }
            const token = randomBytes(32).toString('base64url');
            const expires = nowS + SESSION_TTL_S;
            await authRepository.insertSession(trx, {
              token_hash: tokenHash(token),
              tenant_id: p.tenant,
              user_id: p.userId,
              key_id: p.keyId,
              expires_unix: expires,
            });
            return {
              value: { status: 201, body: { token, expiresAt: new Date(expires * 1000).toISOString() } },
              // The token itself is a credential: only its hash is stored and audited.
              payloadDigest: digestOf({ keyId: p.keyId, expires, tokenHash: tokenHash(token) }),
            };
          },
        },
        now,
      );
    },
    /** The principal for a bearer token (reads only), or E_SESSION_INVALID. */
    async resolve(token: string): Promise<Principal> {
      const row = await authRepository.getSession(db, tokenHash(token));
      if (!row || row.expires_unix < Math.floor(now().getTime() / 1000)) {
        throw new StrongroomError('E_SESSION_INVALID', 'unknown or expired session', {
          hints: ['open a new session'],
        });
      }
      return { tenant: row.tenant_id, userId: row.user_id, keyId: row.key_id };
    },
  };
}

export type SessionsService = ReturnType<typeof createSessionsService>;
