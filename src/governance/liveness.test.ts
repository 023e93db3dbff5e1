import { describe, expect, it } from 'vitest';
import {
  genesisFixture,
  iso,
  keysOf,
  Ledger,
  T0,
  testUser,
  type TestUser,
} from '../../test/support/governance-kit.ts';
import { policyDigest, type PolicyDocument, type WorkflowJson } from '../policy/index.ts';
import { createGenesis } from './genesis.ts';
import { stateDigest } from './governance-state.ts';
import { policyRequirements } from './liveness.ts';

function failure(f: () => unknown): { code?: string; message?: string; details?: any } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; details?: any };
  }
  throw new Error('expected a refusal');
}

const workflowPolicy = (
  workflow: WorkflowJson,
  when: PolicyDocument['rules'][number]['when'] = {},
): PolicyDocument => ({
  version: 1,
  name: 'p',
  rules: [{ id: 'wf', when: { requestType: ['transfer'], ...when }, action: { workflow } }],
});

/** 3 admins (k=2), ops = {o1, o2, o3}, risk = {r1}. */
function world() {
  const fixture = genesisFixture(3, 2);
  const [a0, a1, a2] = fixture.admins as [TestUser, TestUser, TestUser];
  const ledger = new Ledger(fixture);
  const users = Object.fromEntries(['o1', 'o2', 'o3', 'r1'].map((id) => [id, testUser(id)])) as Record<
    string,
    TestUser
  >;
  ledger.apply('set_group_members', { group: 'ops', members: [] }, a0, [a0, a1]);
  ledger.apply('set_group_members', { group: 'risk', members: [] }, a0, [a0, a1]);
  for (const [id, u] of Object.entries(users)) {
    ledger.apply(
      'add_user',
      {
        userId: id,
        name: id,
        kind: 'person',
        keys: keysOf(u),
        groups: [id.startsWith('o') ? 'ops' : 'risk'],
      },
      a0,
      [a0, a1],
    );
  }
  const publish = (doc: PolicyDocument) => {
    const version = (ledger.state.policies.active?.version ?? 0) + 1;
    return ledger.apply('publish_policy', { version, digest: policyDigest(doc), document: doc }, a0, [
      a0,
      a1,
    ]);
  };
  return { ledger, a0, a1, a2, users, publish };
}

describe('liveness: E_QUORUM_UNSATISFIABLE names what would break', () => {
  it('refuses removing or un-keying admins below the governance quorum, and the last admin', () => {
    const { ledger, a0, a1 } = world();
    ledger.apply('remove_user', { userId: 'a2' }, a0, [a0, a1]);
    const before = stateDigest(ledger.state);
    const e = failure(() => ledger.apply('remove_user', { userId: 'a1' }, a0, [a0, a1]));
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(e.details.problems[0]).toMatchObject({
      what: 'governance_quorum',
      group: 'admins',
      k: 2,
      eligible: 1,
    });
    expect(
      failure(() => ledger.apply('revoke_key', { userId: 'a1', keyId: a1.signer.keyId }, a0, [a0, a1])).code,
    ).toBe('E_QUORUM_UNSATISFIABLE');
    expect(
      failure(() => ledger.apply('remove_group_member', { group: 'admins', userId: 'a0' }, a0, [a0, a1]))
        .code,
    ).toBe('E_QUORUM_UNSATISFIABLE');
    expect(failure(() => ledger.apply('change_quorum', { group: 'admins', k: 3 }, a0, [a0, a1])).code).toBe(
      'E_QUORUM_UNSATISFIABLE',
    );
    expect(stateDigest(ledger.state)).toBe(before);
    // With k = 1, the last admin still cannot go.
    ledger.apply('change_quorum', { group: 'admins', k: 1 }, a0, [a0, a1]);
    ledger.apply('remove_user', { userId: 'a1' }, a0, [a0]);
    const last = failure(() => ledger.apply('remove_user', { userId: 'a0' }, a0, [a0]));
    expect(last.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(last.message).toContain('governance quorum');
  });

  it('refuses emptying the freeze group', () => {
    const admins = ['a0', 'a1'].map((id) => testUser(id)) as [TestUser, TestUser];
    const genesis = createGenesis({
      tenant: 'acme',
      admins: admins.map((a) => ({ userId: a.userId, name: a.userId, keys: keysOf(a) })),
      governance: { group: 'admins', k: 2 },
      freezeGroup: 'security',
      groups: { security: ['a1'] },
      createdAt: iso(T0),
    });
    const ledger = new Ledger({ genesis, signatures: [], admins });
    const [a0, a1] = admins;
    const e = failure(() =>
      ledger.apply('remove_group_member', { group: 'security', userId: 'a1' }, a0, [a0, a1]),
    );
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(e.details.problems).toEqual([
      expect.objectContaining({ what: 'freeze_group', group: 'security' }),
    ]);
    ledger.apply('add_group_member', { group: 'security', userId: 'a0' }, a0, [a0, a1]);
    ledger.apply('remove_group_member', { group: 'security', userId: 'a1' }, a0, [a0, a1]);
  });

  it('refuses publishing a policy whose step needs more members than its group has (+1 when the initiator is excluded)', () => {
    const { publish } = world();
    // ops has 3; 3 of ops excluding an initiator who may be in ops needs 4.
    const e = failure(() =>
      publish(workflowPolicy({ steps: [{ group: 'ops', k: 3 }], expiresInSeconds: 3600 })),
    );
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(e.details.problems[0]).toMatchObject({
      what: 'workflow_step',
      rules: ['wf'],
      step: 0,
      group: 'ops',
      k: 3,
      eligible: 3,
    });
    // Without the exclusion, 3 of 3 is fine.
    publish(
      workflowPolicy({ steps: [{ group: 'ops', k: 3, excludeInitiator: false }], expiresInSeconds: 3600 }),
    );
  });

  it('the +1 applies only when a possible initiator is in the group', () => {
    const { publish } = world();
    // Only risk members can initiate: none is in ops, so 3 of ops is satisfiable.
    publish(
      workflowPolicy(
        { steps: [{ group: 'ops', k: 3 }], expiresInSeconds: 3600 },
        { initiatorGroups: ['risk'] },
      ),
    );
    expect(
      failure(() =>
        publish(
          workflowPolicy({ steps: [{ group: 'ops', k: 3 }], expiresInSeconds: 3600 }, { initiator: ['o2'] }),
        ),
      ).code,
    ).toBe('E_QUORUM_UNSATISFIABLE');
  });

  it('refuses a group change that leaves an active workflow step short', () => {
    const { ledger, a0, a1, publish } = world();
    publish(workflowPolicy({ steps: [{ group: 'ops', k: 2 }], expiresInSeconds: 3600 }));
    const e = failure(() =>
      ledger.apply('remove_group_member', { group: 'ops', userId: 'o3' }, a0, [a0, a1]),
    );
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(e.message).toContain('rule wf step 1 needs 2 of ops besides the initiator');
    expect(failure(() => ledger.apply('remove_user', { userId: 'o2' }, a0, [a0, a1])).code).toBe(
      'E_QUORUM_UNSATISFIABLE',
    );
    expect(
      failure(() => ledger.apply('set_group_members', { group: 'ops', members: ['o1', 'o2'] }, a0, [a0, a1]))
        .code,
    ).toBe('E_QUORUM_UNSATISFIABLE');
  });

  it('refuses revoking the last key of a needed approver, but not a spare key', () => {
    const { ledger, a0, a1, users, publish } = world();
    publish(workflowPolicy({ steps: [{ group: 'ops', k: 2 }], expiresInSeconds: 3600 }));
    const o1 = users.o1!;
    const e = failure(() =>
      ledger.apply('revoke_key', { userId: 'o1', keyId: o1.signer.keyId }, a0, [a0, a1]),
    );
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    const spare = testUser('spare');
    ledger.apply('add_key', { userId: 'o1', ...keysOf(spare)[0]! }, a0, [a0, a1]);
    ledger.apply('revoke_key', { userId: 'o1', keyId: o1.signer.keyId }, a0, [a0, a1]);
  });

  it('steps that must not reuse earlier approvers are staffed jointly', () => {
    const { ledger, a0, a1, publish } = world();
    ledger.apply('set_group_members', { group: 'risk', members: ['o1', 'o2', 'r1'] }, a0, [a0, a1]);
    // ops {o1,o2,o3} 2 then risk {o1,o2,r1} 2 distinct: excluding a worst-case initiator o1 leaves ops {o2,o3},
    // risk {o2,r1}; staffing both disjointly needs 4 people among {o2,o3,r1}: impossible.
    const steps = [
      { group: 'ops', k: 2 },
      { group: 'risk', k: 2 },
    ];
    const e = failure(() => publish(workflowPolicy({ steps, expiresInSeconds: 3600 })));
    expect(e.code).toBe('E_QUORUM_UNSATISFIABLE');
    expect(e.details.problems[0]).toMatchObject({ what: 'workflow_distinct', rules: ['wf'] });
    // Allowing reuse makes it satisfiable.
    publish(
      workflowPolicy({
        steps: [steps[0]!, { ...steps[1]!, distinctFromEarlierSteps: false }],
        expiresInSeconds: 3600,
      }),
    );
  });

  it('refuses a time-lock veto group with nobody in it', () => {
    const { publish } = world();
    const e = failure(() =>
      publish(
        workflowPolicy({
          steps: [{ group: 'ops', k: 1 }],
          expiresInSeconds: 3600,
          timeLock: { seconds: 60, vetoGroup: 'nobody' },
        }),
      ),
    );
    expect(e.details.problems[0]).toMatchObject({ what: 'veto_group', group: 'nobody' });
  });

  it('policyRequirements deduplicates identical workflow shapes and fills defaults', () => {
    const wf = { steps: [{ group: 'ops', k: 1 }], expiresInSeconds: 3600 };
    const doc: PolicyDocument = {
      version: 1,
      name: 'p',
      rules: [
        { id: 'r1', when: {}, action: { workflow: wf } },
        { id: 'r2', when: {}, action: 'deny' },
        { id: 'r3', when: {}, action: { workflow: wf } },
      ],
    };
    expect(policyRequirements(doc)).toEqual([
      {
        rules: ['r1', 'r3'],
        steps: [{ group: 'ops', k: 1, excludeInitiator: true, distinctFromEarlierSteps: true }],
        initiators: {},
        vetoGroup: null,
      },
    ]);
  });
});
