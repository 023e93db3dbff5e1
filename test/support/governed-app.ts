/**
 * A test app under governance: vault initialized (one custodian) with a warm wallet, three admins (alice,
 * bob, carol) who sign a 2-of-admins genesis, a trader (tina) and a treasury group added by governance
 * requests, and helpers that sign governance requests, approvals and transfer approvals client-side.
 */
import { expect } from 'vitest';
import { sql } from 'kysely';
import type { RequestSigner } from '../../src/domain/http-signatures.ts';
import {
  createGovernanceRequest,
  requestDigest,
  signApproval,
  signGenesis,
  signGovernanceRequest,
  type GovernanceState,
  type PayloadOf,
  type RequestKind,
} from '../../src/governance/index.ts';
import { policyDigest, type PolicyDocument } from '../../src/policy/index.ts';
import { generateRequestSigner } from '../../src/sdk/signer.ts';
import { transferApprovalBytes, type TransferApprovalStatement } from '../../src/vault/evidence.ts';
import type { Dialect } from '../../src/store/database.ts';
import { send, startTestApp, type TestApp } from './app.ts';
import { sync } from './governance-kit.ts';

export interface Member {
  userId: string;
  signer: RequestSigner;
}

export interface GovernedApp {
  t: TestApp;
  alice: Member;
  bob: Member;
  carol: Member;
  tina: Member;
  head(): Promise<{ digest: string; state: GovernanceState; height: number; vaultHead: { height: number; digest: string } | null }>;
  /** Proposes (by `by`) and approves (by `approvers`) a governance request; returns the last response. */
  govern<K extends RequestKind>(kind: K, payload: PayloadOf<K>, by: Member, approvers: Member[]): Promise<{ status: number; body: any }>;
  /** Signs and submits an approval (or rejection) of a transfer request. */
  approveTransfer(id: string, by: Member, kind?: 'approval' | 'rejection'): Promise<{ status: number; body: any }>;
  transfer(body: Record<string, unknown>, by?: Member): Promise<{ status: number; body: any }>;
  publish(doc: PolicyDocument): Promise<{ status: number; body: any }>;
  refusals(): Promise<number>;
  authorizations(): Promise<number>;
}

export const WALLET = 'wal_treasury';

export const POLICY: PolicyDocument = {
  version: 1,
  name: 'treasury',
  rules: [
    { id: 'small', when: { requestType: ['transfer'], asset: ['BTC'], amount: { max: '1000000' } }, action: 'approve' },
    {
      id: 'large',
      when: { requestType: ['transfer'], asset: ['BTC'], amount: { max: '100000000' } },
      action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } },
    },
  ],
  tests: [
    { name: 'small approves', request: { type: 'transfer', initiator: 'x', asset: 'BTC', amount: '5000' }, context: {}, expect: { decision: 'approve', rule: 'small' } },
    { name: 'huge denies', request: { type: 'transfer', initiator: 'x', asset: 'BTC', amount: '900000000' }, context: {}, expect: { decision: 'deny', rule: null } },
  ],
};

export async function startGovernedApp(dialect: Dialect, opts: Parameters<typeof startTestApp>[1] = {}): Promise<GovernedApp> {
  const t = await startTestApp(dialect, opts);
  await t.app.vault.initialize(t.tenantId, { mechanism: 'shamir', threshold: 2, custodians: ['c1', 'c2'].map((name) => ({ name, passphrase: `${name} passphrase` })) });
  await t.app.vault.createWallet(t.tenantId, { walletId: WALLET, tier: 'warm' });
  const alice: Member = { userId: t.admin.userId, signer: t.admin.signer };
  const adminMember = async (name: string): Promise<Member> => {
    const signer = generateRequestSigner('ed25519');
    const r = await send(t, 'POST', '/v1/users', { body: { name, kind: 'person', keys: [{ alg: signer.alg, publicKey: signer.publicKeySpki }], groups: ['admins'] } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { userId: r.body.id, signer };
  };
  const bob = await adminMember('bob');
  const carol = await adminMember('carol');

  const draft = await send(t, 'GET', '/v1/governance/genesis-draft?k=2');
  expect(draft.status, JSON.stringify(draft.body)).toBe(200);
  const genesis = draft.body as GovernanceState;
  const signatures = [alice, bob, carol].map((m) => signGenesis(genesis, m.userId, sync(m.signer)));
  const g = await send(t, 'POST', '/v1/governance/genesis', { body: { genesis, signatures } });
  expect(g.status, JSON.stringify(g.body)).toBe(201);

  const head = async () => {
    const r = await send(t, 'GET', '/v1/governance');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { digest: string; state: GovernanceState; height: number; vaultHead: { height: number; digest: string } | null };
  };
  async function govern<K extends RequestKind>(kind: K, payload: PayloadOf<K>, by: Member, approvers: Member[]) {
    const h = await head();
    const created = Date.now();
    const request = createGovernanceRequest({
      tenant: t.tenantId, kind, payload, baseState: h.digest as never, initiator: by.userId, keyId: by.signer.keyId,
      createdAt: new Date(created).toISOString(), expiresAt: new Date(created + 86_400_000).toISOString(),
    });
    const signed = signGovernanceRequest(request, sync(by.signer));
    let r = await send(t, 'POST', '/v1/governance/requests', { signer: by.signer, body: signed });
    if (r.status !== 201) return r;
    const id = r.body.id as string;
    for (const a of approvers) {
      const approval = signApproval(
        { kind: 'approval', requestDigest: requestDigest(request), stateDigest: request.baseState, approver: a.userId, keyId: a.signer.keyId, signedAt: new Date(Math.max(Date.now(), created)).toISOString() },
        sync(a.signer),
      );
      r = await send(t, 'POST', `/v1/governance/requests/${id}/approvals`, { signer: a.signer, body: { approval } });
      if (r.status !== 200) return r;
    }
    return r;
  }

  const tinaSigner = generateRequestSigner('ed25519');
  const tina: Member = { userId: 'usr_tina', signer: tinaSigner };
  let r = await govern('add_user', { userId: tina.userId, name: 'tina', kind: 'person', keys: [{ alg: tinaSigner.alg, publicKey: tinaSigner.publicKeySpki }] }, alice, [alice, bob]);
  expect(r.body.status, JSON.stringify(r.body)).toBe('applied');
  r = await govern('set_group_members', { group: 'treasury', members: [alice.userId, bob.userId, carol.userId].sort() }, alice, [alice, bob]);
  expect(r.body.status, JSON.stringify(r.body)).toBe('applied');

  const publish = async (doc: PolicyDocument) => {
    const version = ((await head()).state.policies.active?.version ?? 0) + 1;
    return govern('publish_policy', { version, digest: policyDigest(doc), document: doc }, alice, [alice, bob]);
  };

  async function approveTransfer(id: string, by: Member, kind: 'approval' | 'rejection' = 'approval') {
    const s = await send(t, 'GET', `/v1/requests/${id}/approvals`, { signer: by.signer });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    const statement: TransferApprovalStatement = {
      kind, requestDigest: s.body.requestDigest, policyDigest: s.body.policyDigest, contextDigest: s.body.contextDigest,
      approver: by.userId, keyId: by.signer.keyId, signedAt: new Date().toISOString(),
    };
    const signature = Buffer.from(by.signer.sign(transferApprovalBytes(statement)) as Uint8Array).toString('base64');
    return send(t, 'POST', `/v1/requests/${id}/approvals`, { signer: by.signer, body: { approval: { ...statement, signature } } });
  }

  const count = async (suffix: string) => {
    const rows = await sql<{ action: string }>`select action from audit_entries where tenant_id = ${t.tenantId}`.execute(t.app.database.db);
    return rows.rows.filter((x) => x.action.endsWith(suffix)).length;
  };

  return {
    t, alice, bob, carol, tina, head, govern, approveTransfer, publish,
    transfer: (body, by = tina) => send(t, 'POST', '/v1/requests', { signer: by.signer, body: { type: 'transfer', from: WALLET, ...body } }),
    refusals: () => count('authorize.refused'),
    authorizations: () => count('vault.authorize'),
  };
}
