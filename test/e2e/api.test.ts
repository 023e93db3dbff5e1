/**
 * The foundation's zero-trust and bad-input guarantees, end to end over real HTTP on SQLite and PostgreSQL:
 * each refused call answers a typed problem AND changes nothing (every table fingerprinted, audit length).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { generateRequestSigner } from '../../src/sdk/signer.ts';
import { DIALECTS } from '../support/databases.ts';
import { auditLength, fingerprint, replay, send, startTestApp, type TestApp } from '../support/app.ts';

for (const dialect of DIALECTS) {
  describe(`HTTP API on ${dialect}`, () => {
    let t: TestApp;
    const bob = generateRequestSigner('ecdsa-p256-sha256');
    const carol = generateRequestSigner('ecdsa-secp256k1-sha256');
    let bobId: string;
    const transfer = {
      type: 'transfer',
      asset: 'BTC',
      amount: '0.015',
      from: 'wal_treasury',
      to: 'bcrt1qexampleexampleexample',
    };

    beforeAll(async () => {
      t = await startTestApp(dialect);
      const r = await send(t, 'POST', '/v1/users', {
        body: { name: 'bob', kind: 'person', keys: [{ alg: bob.alg, publicKey: bob.publicKeySpki }] },
      });
      expect(r.status).toBe(201);
      bobId = r.body.id;
      const k = await send(t, 'POST', `/v1/users/${bobId}/keys`, {
        body: { alg: carol.alg, publicKey: carol.publicKeySpki },
      });
      expect(k.status).toBe(201);
    });
    afterAll(async () => t?.close());

    /** Runs `act`, expects a problem with `code` and `status`, and that nothing changed. */
    async function refusedUnchanged(
      code: string,
      status: number,
      act: () => Promise<{ status: number; body: any }>,
    ) {
      const before = await fingerprint(t);
      const len = await auditLength(t);
      const r = await act();
      expect(r.body?.code, JSON.stringify(r.body)).toBe(code);
      expect(r.status).toBe(status);
      expect(r.body.type).toBe(`urn:strongroom:error:${code}`);
      expect(await auditLength(t)).toBe(len);
      expect(await fingerprint(t)).toBe(before);
      return r;
    }

    it('accepts signed writes from each key algorithm and audits them', async () => {
      const len = await auditLength(t);
      for (const signer of [t.admin.signer, bob, carol]) {
        const r = await send(t, 'POST', '/v1/requests', { signer, body: transfer });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        expect(r.body.payload.amount).toBe('1500000');
        expect(r.body.status).toBe('submitted');
      }
      expect(await auditLength(t)).toBe(len + 3);
      const v = await t.app.audit.verify(t.tenantId);
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
    });

    it('refuses a replayed request', async () => {
      const first = await send(t, 'POST', '/v1/requests', { signer: bob, body: transfer });
      expect(first.status).toBe(201);
      await refusedUnchanged('E_NONCE_REPLAYED', 401, () => replay(t, first.request));
    });

    it('refuses a replay even with a new Idempotency-Key (the nonce is spent)', async () => {
      const first = await send(t, 'POST', '/v1/requests', { signer: bob, body: transfer });
      const headers = { ...first.request.headers, 'idempotency-key': crypto.randomUUID() };
      await refusedUnchanged('E_NONCE_REPLAYED', 401, () => replay(t, { ...first.request, headers }));
    });

    it('refuses expired and future-dated requests', async () => {
      const now = Math.floor(Date.now() / 1000);
      await refusedUnchanged('E_SIGNATURE_EXPIRED', 401, () =>
        send(t, 'POST', '/v1/requests', { body: transfer, created: now - 120 }),
      );
      await refusedUnchanged('E_SIGNATURE_FUTURE', 401, () =>
        send(t, 'POST', '/v1/requests', { body: transfer, created: now + 120 }),
      );
    });

    it('refuses a tampered body, with or without a recomputed digest', async () => {
      await refusedUnchanged('E_DIGEST_MISMATCH', 401, () =>
        send(t, 'POST', '/v1/requests', {
          body: transfer,
          tamper: (r) => (r.body = r.body.replace('0.015', '9.015')),
        }),
      );
      const { contentDigest } = await import('../../src/domain/http-signatures.ts');
      await refusedUnchanged('E_SIGNATURE_INVALID', 401, () =>
        send(t, 'POST', '/v1/requests', {
          body: transfer,
          tamper: (r) => {
            r.body = r.body.replace('0.015', '9.015');
            r.headers['content-digest'] = contentDigest(r.body);
          },
        }),
      );
    });

    it('refuses a tampered path', async () => {
      await refusedUnchanged('E_SIGNATURE_INVALID', 401, () =>
        send(t, 'POST', '/v1/groups', {
          body: { name: 'traders' },
          tamper: (r) => (r.path = '/v1/groups?x=1'),
        }),
      );
      await refusedUnchanged('E_SIGNATURE_INVALID', 401, () =>
        send(t, 'POST', `/v1/users/${bobId}/keys`, {
          body: { alg: bob.alg, publicKey: bob.publicKeySpki },
          tamper: (r) => (r.path = `/v1/users/${t.admin.userId}/keys`),
        }),
      );
    });

    it('refuses an unknown key and an unsigned write', async () => {
      const stranger = generateRequestSigner('ed25519');
      await refusedUnchanged('E_KEY_UNKNOWN', 401, () =>
        send(t, 'POST', '/v1/requests', { signer: stranger, body: transfer }),
      );
      await refusedUnchanged('E_SIGNATURE_MISSING', 401, () =>
        send(t, 'POST', '/v1/requests', { unsigned: true, body: transfer }),
      );
    });

    it("refuses another tenant's key exactly like a missing resource", async () => {
      const eve = generateRequestSigner('ed25519');
      await t.app.createTenant({
        tenant: `other-${dialect}`,
        admins: [{ name: 'eve', alg: eve.alg, publicKey: eve.publicKeySpki }],
      });
      const theirs = await send(t, 'GET', `/v1/users/${bobId}`, { signer: eve });
      const missing = await send(t, 'GET', `/v1/users/usr_00000000000000000000000000`, { signer: eve });
      expect(theirs.status).toBe(404);
      expect({ ...theirs.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
      const groups = await send(t, 'GET', '/v1/groups', { signer: t.admin.signer });
      const admins = groups.body.find((g: any) => g.name === 'admins');
      await refusedUnchanged('E_NOT_FOUND', 404, () =>
        send(t, 'POST', `/v1/groups/${admins.id}/members`, { signer: eve, body: { userId: bobId } }),
      );
      const list = await send(t, 'GET', '/v1/users', { signer: eve });
      expect(list.body.map((u: any) => u.name)).toEqual(['eve']);
    });

    it('refuses a revoked key', async () => {
      const dave = generateRequestSigner('ed25519');
      const u = await send(t, 'POST', '/v1/users', {
        body: { name: 'dave', kind: 'service', keys: [{ alg: dave.alg, publicKey: dave.publicKeySpki }] },
      });
      const keyId = u.body.keys[0].id;
      expect((await send(t, 'POST', '/v1/requests', { signer: dave, body: transfer })).status).toBe(201);
      expect((await send(t, 'POST', `/v1/users/${u.body.id}/keys/${keyId}/revoke`)).status).toBe(200);
      await refusedUnchanged('E_KEY_REVOKED', 401, () =>
        send(t, 'POST', '/v1/requests', { signer: dave, body: transfer }),
      );
    });

    it('refuses a revoked key even when another node still caches it', async () => {
      const erin = generateRequestSigner('ed25519');
      const u = await send(t, 'POST', '/v1/users', {
        body: { name: 'erin', kind: 'person', keys: [{ alg: erin.alg, publicKey: erin.publicKeySpki }] },
      });
      expect((await send(t, 'POST', '/v1/requests', { signer: erin, body: transfer })).status).toBe(201); // now cached
      // Revoked directly in the database, as another API node would: this node's cache is stale.
      await t.app.database.db
        .updateTable('user_keys')
        .set({ status: 'revoked', revoked_at: new Date().toISOString() })
        .where('id', '=', u.body.keys[0].id)
        .execute();
      await refusedUnchanged('E_KEY_REVOKED', 401, () =>
        send(t, 'POST', '/v1/requests', { signer: erin, body: transfer }),
      );
    });

    it('refuses malformed, oversized, duplicate-key and prototype-polluting JSON', async () => {
      await refusedUnchanged('E_JSON_MALFORMED', 400, () =>
        send(t, 'POST', '/v1/requests', { raw: '{"type":"transfer",' }),
      );
      await refusedUnchanged('E_BODY_TOO_LARGE', 413, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, note: 'x'.repeat(100_000) } }),
      );
      await refusedUnchanged('E_JSON_DUPLICATE_KEY', 400, () =>
        send(t, 'POST', '/v1/requests', {
          raw: JSON.stringify(transfer).replace('"amount":"0.015"', '"amount":"0.015","amount":"9"'),
        }),
      );
      await refusedUnchanged('E_JSON_FORBIDDEN_KEY', 400, () =>
        send(t, 'POST', '/v1/requests', {
          raw: JSON.stringify(transfer).replace('{', '{"__proto__":{"admin":true},'),
        }),
      );
      await refusedUnchanged('E_JSON_FORBIDDEN_KEY', 400, () =>
        send(t, 'POST', '/v1/requests', {
          raw: JSON.stringify(transfer).replace('{', '{"constructor":{"prototype":{}},'),
        }),
      );
      await refusedUnchanged('E_VALIDATION', 400, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, extra: 1 } }),
      );
    });

    it('refuses bad amounts', async () => {
      await refusedUnchanged('E_AMOUNT_NOT_STRING', 400, () =>
        send(t, 'POST', '/v1/requests', { raw: JSON.stringify(transfer).replace('"0.015"', '0.015') }),
      );
      await refusedUnchanged('E_AMOUNT_TOO_PRECISE', 400, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, amount: '0.000000001' } }),
      );
      await refusedUnchanged('E_AMOUNT_NEGATIVE', 400, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, amount: '-1' } }),
      );
      await refusedUnchanged('E_AMOUNT_INVALID', 400, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, amount: '1e3' } }),
      );
      await refusedUnchanged('E_UNKNOWN_ASSET', 400, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, asset: 'DOGE' } }),
      );
    });

    it('answers an idempotent repeat the same and refuses another body under the same key', async () => {
      const key = crypto.randomUUID();
      const first = await send(t, 'POST', '/v1/requests', { body: transfer, idempotencyKey: key });
      const len = await auditLength(t);
      const again = await send(t, 'POST', '/v1/requests', { body: transfer, idempotencyKey: key });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(await auditLength(t)).toBe(len);
      await refusedUnchanged('E_IDEMPOTENCY_CONFLICT', 409, () =>
        send(t, 'POST', '/v1/requests', { body: { ...transfer, amount: '0.02' }, idempotencyKey: key }),
      );
      await refusedUnchanged('E_IDEMPOTENCY_KEY_REQUIRED', 400, () =>
        send(t, 'POST', '/v1/requests', { body: transfer, idempotencyKey: null }),
      );
    });

    it('opens a read session by signing a challenge; the token reads but cannot write', async () => {
      const c = await send(t, 'POST', '/v1/sessions/challenge', { signer: bob });
      expect(c.status).toBe(201);
      const s = await send(t, 'POST', '/v1/sessions', { signer: bob, body: { challenge: c.body.challenge } });
      expect(s.status).toBe(201);
      const me = await fetch(`${t.baseUrl}/v1/me`, { headers: { authorization: `Bearer ${s.body.token}` } });
      expect(await me.json()).toMatchObject({ userId: bobId });
      await refusedUnchanged('E_SESSION_INVALID', 401, () =>
        send(t, 'POST', '/v1/sessions', { signer: bob, body: { challenge: c.body.challenge } }),
      );
      await refusedUnchanged('E_SIGNATURE_MISSING', 401, () =>
        send(t, 'POST', '/v1/requests', {
          unsigned: true,
          body: transfer,
          headers: { authorization: `Bearer ${s.body.token}` },
        }),
      );
      const bad = await fetch(`${t.baseUrl}/v1/me`, { headers: { authorization: 'Bearer nope' } });
      expect(bad.status).toBe(401);
    });

    it('lets only admins manage the directory, and never removes the last admin', async () => {
      await refusedUnchanged('E_FORBIDDEN', 403, () =>
        send(t, 'POST', '/v1/groups', { signer: bob, body: { name: 'traders' } }),
      );
      const g = await send(t, 'POST', '/v1/groups', { body: { name: 'traders' } });
      expect(g.status).toBe(201);
      expect(
        (await send(t, 'POST', `/v1/groups/${g.body.id}/members`, { body: { userId: bobId } })).body.members,
      ).toEqual([bobId]);
      const admins = (await send(t, 'GET', '/v1/groups')).body.find((x: any) => x.name === 'admins');
      await refusedUnchanged('E_QUORUM_UNSATISFIABLE', 409, () =>
        send(t, 'DELETE', `/v1/groups/${admins.id}/members/${t.admin.userId}`),
      );
    });

    it('fails closed: a change whose audit entry cannot be written does not happen', async () => {
      const db = t.app.database.db;
      if (dialect === 'sqlite') {
        await sql`create trigger audit_down before insert on audit_entries begin select raise(abort, 'audit storage unavailable'); end`.execute(
          db,
        );
      } else {
        await sql`create function audit_down() returns trigger language plpgsql as $$ begin raise exception 'audit storage unavailable'; end $$`.execute(
          db,
        );
        await sql`create trigger audit_down before insert on audit_entries for each row execute function audit_down()`.execute(
          db,
        );
      }
      try {
        const r = await refusedUnchanged('E_AUDIT_WRITE_FAILED', 503, () =>
          send(t, 'POST', '/v1/users', {
            body: {
              name: 'mallory',
              kind: 'person',
              keys: [{ alg: 'ed25519', publicKey: generateRequestSigner('ed25519').publicKeySpki }],
            },
          }),
        );
        expect(JSON.stringify(r.body)).not.toContain('audit storage unavailable');
      } finally {
        await sql`drop trigger audit_down${sql.raw(dialect === 'postgres' ? ' on audit_entries' : '')}`.execute(
          db,
        );
      }
      expect((await send(t, 'POST', '/v1/requests', { body: transfer })).status).toBe(201);
    });

    it('publishes an OpenAPI 3.1 description and a docs page', async () => {
      const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as any;
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/v1/users', '/v1/requests', '/v1/groups/{id}/members']),
      );
      expect((await fetch(`${t.baseUrl}/docs`)).status).toBe(200);
    });

    it('keeps the audit chain verifiable after everything above', async () => {
      await t.app.audit.checkpoint(t.tenantId);
      const v = await t.app.audit.verify(t.tenantId);
      expect(v.problems).toEqual([]);
      expect(v.anchoredSeq).toBe(v.headSeq);
    });
  });
}
