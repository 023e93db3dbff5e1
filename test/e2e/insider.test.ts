/**
 * Insider tests (issue 4 Acceptance): whoever edits the database by hand — the policy, an approval, the
 * request's amount or destination, a group membership — or rolls governance back, gets a typed refusal from
 * the vault, which authorizes nothing and audits the refusal. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS } from '../support/databases.ts';
import { send, fingerprint } from '../support/app.ts';
import { generateRequestSigner } from '../../src/sdk/signer.ts';
import { POLICY, startGovernedApp, type GovernedApp, type Member } from '../support/governed-app.ts';

for (const dialect of DIALECTS) {
  describe(`insider tampering on ${dialect}`, () => {
    let g: GovernedApp;
    let mallory: Member;
    const db = () => g.t.app.database.db;
    const large = { asset: 'BTC', amount: '0.5', to: 'bcrt1qdestinationdestination' };

    beforeAll(async () => {
      g = await startGovernedApp(dialect);
      const s = generateRequestSigner('ed25519');
      mallory = { userId: 'usr_mallory', signer: s };
      const r = await g.govern('add_user', { userId: mallory.userId, name: 'mallory', kind: 'person', keys: [{ alg: s.alg, publicKey: s.publicKeySpki }] }, g.alice, [g.alice, g.bob]);
      expect(r.body.status).toBe('applied');
      expect((await g.publish(POLICY)).body.status).toBe('applied');
    });
    afterAll(async () => g?.t.close());

    async function approved(): Promise<string> {
      const r = await g.transfer(large);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.status).toBe('pending_approval');
      expect((await g.approveTransfer(r.body.id, g.alice)).body.status).toBe('pending_approval');
      const done = await g.approveTransfer(r.body.id, g.bob);
      expect(done.body.status, JSON.stringify(done.body)).toBe('approved');
      return r.body.id as string;
    }

    /** The vault refuses with `code`; the refusal is audited; nothing is authorized; no other row changes. */
    async function refused(id: string, code: string, reason?: string) {
      const [refusals, grants] = [await g.refusals(), await g.authorizations()];
      const before = await fingerprint(g.t, { exceptAudit: true });
      const r = await send(g.t, 'POST', `/v1/requests/${id}/authorize`, { body: {} });
      expect(r.body.code, JSON.stringify(r.body)).toBe(code);
      if (reason) expect(r.body.details?.reason).toBe(reason);
      expect(await g.refusals()).toBe(refusals + 1);
      expect(await g.authorizations()).toBe(grants);
      // Only the nonce of the authorize call itself is new.
      const after = await fingerprint(g.t, { exceptAudit: true });
      expect(after.replace(/nonces:.*\n/, '')).toBe(before.replace(/nonces:.*\n/, ''));
    }

    it('authorizes an untampered request, audited', async () => {
      const id = await approved();
      const grants = await g.authorizations();
      const r = await send(g.t, 'POST', `/v1/requests/${id}/authorize`, { body: {} });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.decision).toBe('workflow');
      expect([...r.body.approvers].sort()).toEqual([g.alice.userId, g.bob.userId].sort());
      expect(await g.authorizations()).toBe(grants + 1);
    });

    it('refuses when the stored policy document was edited', async () => {
      const id = await approved();
      const doc = structuredClone(POLICY) as any;
      doc.rules[1].action.workflow.steps[0].k = 1;
      await sql`update governance_policies set document = ${JSON.stringify(doc)}`.execute(db());
      try {
        await refused(id, 'E_EVIDENCE_INVALID', 'policy_not_in_force');
      } finally {
        await sql`update governance_policies set document = ${JSON.stringify(POLICY)}`.execute(db());
      }
    });

    it('refuses when an approval was edited or deleted', async () => {
      const id = await approved();
      const rows = await sql<{ approver: string; approval: string }>`select approver, approval from request_approvals where request_id = ${id}`.execute(db());
      const first = rows.rows[0]!;
      const edited = { ...JSON.parse(first.approval), signedAt: new Date(Date.now() - 1000).toISOString() };
      await sql`update request_approvals set approval = ${JSON.stringify(edited)} where request_id = ${id} and approver = ${first.approver}`.execute(db());
      await refused(id, 'E_EVIDENCE_INVALID', 'approval_signature');
      await sql`delete from request_approvals where request_id = ${id} and approver = ${first.approver}`.execute(db());
      await refused(id, 'E_QUORUM_INCOMPLETE');
    });

    it("refuses when the request's amount or destination was edited", async () => {
      for (const [field, value] of [['amount', '90000000'], ['to', 'bcrt1qattackerattackerattacker']] as const) {
        const id = await approved();
        const row = await sql<{ payload: string }>`select payload from requests where id = ${id}`.execute(db());
        const payload = { ...JSON.parse(row.rows[0]!.payload), [field]: value };
        await sql`update requests set payload = ${JSON.stringify(payload)} where id = ${id}`.execute(db());
        await refused(id, 'E_EVIDENCE_INVALID', 'payload_mismatch');
      }
    });

    it("refuses when a user's group membership was edited (directory or stored governance state)", async () => {
      const r = await g.transfer(large);
      const id = r.body.id as string;
      await g.approveTransfer(id, g.alice);
      // The insider puts mallory into treasury in the directory tables and marks the request approved.
      const grp = await sql<{ id: string }>`select id from groups where tenant_id = ${g.t.tenantId} and name = 'treasury'`.execute(db());
      await sql`insert into group_members (group_id, user_id, tenant_id, created_at) values (${grp.rows[0]!.id}, ${mallory.userId}, ${g.t.tenantId}, ${new Date().toISOString()})`.execute(db());
      const m = await g.approveTransfer(id, mallory);
      expect(m.status).toBe(200);
      expect(m.body.status).toBe('pending_approval'); // the service counts by the governance state, not the directory
      await sql`update requests set status = 'approved' where id = ${id}`.execute(db());
      await refused(id, 'E_QUORUM_INCOMPLETE');
      // Editing the stored governance state instead breaks the chain the vault recorded.
      const head = await sql<{ height: number; state: string }>`select height, state from governance_states where tenant_id = ${g.t.tenantId} order by height desc limit 1`.execute(db());
      const state = JSON.parse(head.rows[0]!.state);
      state.groups.treasury = [...state.groups.treasury, mallory.userId].sort();
      await sql`update governance_states set state = ${JSON.stringify(state)} where tenant_id = ${g.t.tenantId} and height = ${head.rows[0]!.height}`.execute(db());
      try {
        await refused(id, 'E_GOVERNANCE_ROLLBACK');
      } finally {
        await sql`update governance_states set state = ${head.rows[0]!.state} where tenant_id = ${g.t.tenantId} and height = ${head.rows[0]!.height}`.execute(db());
      }
    });

    it('refuses when the governance head was rolled back in the database', async () => {
      const id = await approved();
      const top = await sql<{ height: number }>`select max(height) as height from governance_states where tenant_id = ${g.t.tenantId}`.execute(db());
      await sql`delete from governance_states where tenant_id = ${g.t.tenantId} and height = ${top.rows[0]!.height}`.execute(db());
      await refused(id, 'E_GOVERNANCE_ROLLBACK');
    });
  });
}
