/**
 * Governance and policy over the API, on SQLite and PostgreSQL: every governance request kind, the liveness
 * check, freeze/unfreeze, policy tests refusing a publish, a deny, a time-lock with veto, expiry, a
 * simulation showing changed outcomes, and the directory endpoints closed after the genesis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.ts';
import { auditLength, fingerprint, send } from '../support/app.ts';
import { generateRequestSigner } from '../../src/sdk/signer.ts';
import { checkEvidence } from '../../src/vault/evidence.ts';
import { POLICY, WALLET, startGovernedApp, type GovernedApp } from '../support/governed-app.ts';

for (const dialect of DIALECTS) {
  describe(`governance on ${dialect}`, () => {
    let g: GovernedApp;
    const dest = 'bcrt1qgovernancedestination';

    beforeAll(async () => {
      g = await startGovernedApp(dialect);
    });
    afterAll(async () => g?.t.close());

    it('closes the direct directory endpoints once a genesis exists', async () => {
      const s = generateRequestSigner('ed25519');
      const before = await fingerprint(g.t);
      const len = await auditLength(g.t);
      const r = await send(g.t, 'POST', '/v1/users', { body: { name: 'eve', kind: 'person', keys: [{ alg: s.alg, publicKey: s.publicKeySpki }] } });
      expect(r.body.code).toBe('E_FORBIDDEN');
      expect(r.body.hints.join(' ')).toMatch(/governance/);
      expect(await auditLength(g.t)).toBe(len);
      expect(await fingerprint(g.t)).toBe(before);
    });

    it('applies every governance request kind, and the directory follows', async () => {
      const dave = generateRequestSigner('ed25519');
      const extra = generateRequestSigner('ecdsa-p256-sha256');
      const ok = async (r: Promise<{ status: number; body: any }>) => {
        const x = await r;
        expect(x.body.status, JSON.stringify(x.body)).toBe('applied');
      };
      const [a, b] = [g.alice, g.bob];
      await ok(g.govern('add_user', { userId: 'usr_dave', name: 'dave', kind: 'person', keys: [{ alg: dave.alg, publicKey: dave.publicKeySpki }], groups: ['treasury'] }, a, [a, b]));
      await ok(g.govern('add_key', { userId: 'usr_dave', alg: extra.alg, publicKey: extra.publicKeySpki }, a, [a, b]));
      await ok(g.govern('revoke_key', { userId: 'usr_dave', keyId: extra.keyId }, a, [a, b]));
      await ok(g.govern('remove_group_member', { group: 'treasury', userId: 'usr_dave' }, a, [a, b]));
      await ok(g.govern('add_group_member', { group: 'treasury', userId: 'usr_dave' }, a, [a, b]));
      await ok(g.govern('set_group_members', { group: 'compliance', members: ['usr_dave'] }, a, [a, b]));
      await ok(g.govern('address_book_add', { entryId: 'cold', alias: 'Cold storage', chain: 'bitcoin', address: dest, trust: 'high' }, a, [a, b]));
      await ok(g.govern('address_book_lock', { entryId: 'cold' }, a, [a, b]));
      await ok(g.govern('address_book_unlock', { entryId: 'cold' }, a, [a, b]));
      await ok(g.govern('change_quorum', { group: 'admins', k: 3 }, a, [a, b]));
      await ok(g.govern('change_quorum', { group: 'admins', k: 2 }, a, [a, b, g.carol]));
      await ok(g.govern('remove_user', { userId: 'usr_dave' }, a, [a, b]));
      await ok(g.publish(POLICY));
      const users = await send(g.t, 'GET', '/v1/users');
      const daveView = users.body.find((u: any) => u.id === 'usr_dave');
      expect(daveView.status).toBe('disabled');
      expect(daveView.keys.every((k: any) => k.status === 'revoked')).toBe(true);
      const head = await g.head();
      expect(head.vaultHead).toEqual({ height: head.height, digest: head.digest });
      expect(head.state.addressBook.cold!.locked).toBe(false);
    });

    it('refuses a quorum short of approvals (pending) and a change that breaks liveness', async () => {
      const pending = await g.govern('add_group_member', { group: 'compliance', userId: g.tina.userId }, g.alice, [g.alice]);
      expect(pending.body.status).toBe('pending');
      const height = (await g.head()).height;
      const r = await g.govern('change_quorum', { group: 'admins', k: 4 }, g.alice, [g.alice, g.bob]);
      expect(r.body.code, JSON.stringify(r.body)).toBe('E_QUORUM_UNSATISFIABLE');
      expect(r.body.details.problems[0].what).toBe('governance_quorum');
      // The final approval was rolled back with the refusal; the state did not move.
      const head = await g.head();
      expect(head.height).toBe(height);
      expect(head.state.governance.k).toBe(2);
      const open = await send(g.t, 'GET', '/v1/governance/requests?status=pending');
      const req = open.body.find((x: any) => x.kind === 'change_quorum');
      expect(req.approvals).toHaveLength(1);
    });

    it('refuses to publish a policy whose own tests fail', async () => {
      const bad = structuredClone(POLICY) as any;
      bad.tests[0].expect.decision = 'deny';
      const r = await g.publish(bad);
      expect(r.body.code).toBe('E_POLICY_TESTS_FAILED');
      const t = await send(g.t, 'POST', '/v1/policy/test', { body: { document: bad } });
      expect(t.body.failed.map((f: any) => f.name)).toEqual(['small approves']);
    });

    it('approves, denies (stored as rejected) and routes to a workflow', async () => {
      const small = await g.transfer({ asset: 'BTC', amount: '0.001', to: dest });
      expect(small.body.status).toBe('approved');
      const huge = await g.transfer({ asset: 'BTC', amount: '5', to: dest });
      expect(huge.body.code).toBe('E_POLICY_DENIED');
      const list = await send(g.t, 'GET', '/v1/requests');
      expect(list.body.find((x: any) => x.id === huge.body.details.requestId).status).toBe('rejected');
      const large = await g.transfer({ asset: 'BTC', amount: '0.5', to: dest });
      expect(large.body.status).toBe('pending_approval');
      const self = await g.approveTransfer(large.body.id, g.tina);
      expect(self.body.status).toBe('pending_approval'); // the initiator never counts
    });

    it('simulates a draft policy and lists the outcomes that would change', async () => {
      const draft = structuredClone(POLICY) as any;
      draft.rules[0].when.amount.max = '100';
      const r = await send(g.t, 'POST', '/v1/policy/simulate', { body: { document: draft, last: 50 } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.changed.length).toBeGreaterThan(0);
      expect(r.body.changed[0].before.decision).toBe('approve');
      expect(r.body.changed[0].after.decision).toBe('workflow');
    });

    it('freezes at once by one member and unfreezes by quorum; the vault refuses a frozen wallet', async () => {
      const large = await g.transfer({ asset: 'BTC', amount: '0.5', to: dest });
      await g.approveTransfer(large.body.id, g.alice);
      expect((await g.approveTransfer(large.body.id, g.bob)).body.status).toBe('approved');
      const f = await g.govern('freeze', { scope: 'wallet', walletId: WALLET }, g.carol, []);
      expect(f.body.status, JSON.stringify(f.body)).toBe('applied');
      const refused = await send(g.t, 'POST', `/v1/requests/${large.body.id}/authorize`, { body: {} });
      expect(refused.body.code).toBe('E_FROZEN');
      const u = await g.govern('unfreeze', { scope: 'wallet', walletId: WALLET }, g.carol, [g.alice, g.bob]);
      expect(u.body.status).toBe('applied');
      const ok = await send(g.t, 'POST', `/v1/requests/${large.body.id}/authorize`, { body: {} });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    });

    it('expires a workflow that did not complete in time (the vault judges by its own clock)', async () => {
      const r = await g.transfer({ asset: 'BTC', amount: '0.5', to: dest });
      await g.approveTransfer(r.body.id, g.alice);
      const admin = { tenant: g.t.tenantId, userId: g.alice.userId, keyId: g.alice.signer.keyId };
      const bundle = await g.t.app.approvals.evidence(admin, r.body.id);
      const state = (await g.head()).state;
      const tier = 'warm';
      await expect(checkEvidence(bundle, state, Date.now(), tier)).rejects.toMatchObject({ code: 'E_QUORUM_INCOMPLETE' });
      await expect(checkEvidence(bundle, state, Date.now() + 2 * 3600_000, tier)).rejects.toMatchObject({ code: 'E_REQUEST_EXPIRED' });
    });

    it('time-locks an approved request, during which the veto group can reject it', async () => {
      const locked = structuredClone(POLICY) as any;
      locked.name = 'time-locked';
      locked.rules[1].action.workflow.timeLock = { seconds: 3600, vetoGroup: 'admins' };
      expect((await g.publish(locked)).body.status).toBe('applied');
      const r = await g.transfer({ asset: 'BTC', amount: '0.5', to: dest });
      await g.approveTransfer(r.body.id, g.alice);
      expect((await g.approveTransfer(r.body.id, g.bob)).body.status).toBe('time_locked');
      const early = await send(g.t, 'POST', `/v1/requests/${r.body.id}/authorize`, { body: {} });
      expect(early.body.code).toBe('E_QUORUM_INCOMPLETE');
      const veto = await g.approveTransfer(r.body.id, g.carol, 'rejection');
      expect(veto.body.status).toBe('rejected');
      const after = await send(g.t, 'POST', `/v1/requests/${r.body.id}/authorize`, { body: {} });
      expect(after.body.code).toBe('E_REQUEST_REJECTED');
    });
  });
}
