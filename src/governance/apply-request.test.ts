import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approve,
  genesisFixture,
  keysOf,
  Ledger,
  makeRequest,
  T0,
  testUser,
  type TestUser,
} from '../../test/support/governance-kit.ts';
import { policyDigest, type PolicyDocument } from '../policy/index.ts';
import { applyGovernanceRequest } from './apply-request.ts';
import { groupsOf, isFrozen, stateDigest, type GovernanceState } from './governance-state.ts';

function failure(f: () => unknown): { code?: string; details?: any } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; details?: any };
  }
  throw new Error('expected a refusal');
}

const policy: PolicyDocument = {
  version: 1,
  name: 'treasury',
  rules: [
    { id: 'small', when: { requestType: ['transfer'], amount: { max: '1000' } }, action: 'approve' },
    {
      id: 'large',
      when: { requestType: ['transfer'] },
      action: { workflow: { steps: [{ group: 'ops', k: 2 }], expiresInSeconds: 3600 } },
    },
  ],
};

function setup() {
  const fixture = genesisFixture(3, 2);
  const [a0, a1, a2] = fixture.admins as [TestUser, TestUser, TestUser];
  return { ledger: new Ledger(fixture), a0, a1, a2 };
}

describe('applyGovernanceRequest: each request kind', () => {
  it('add_user, add_key, revoke_key, remove_user', () => {
    const { ledger, a0, a1 } = setup();
    const bob = testUser('bob', ['ed25519', 'ecdsa-p256-sha256']);
    ledger.apply('set_group_members', { group: 'ops', members: [] }, a0, [a0, a1]);
    let s = ledger.apply(
      'add_user',
      { userId: 'bob', name: 'Bob', kind: 'person', keys: keysOf(bob).slice(0, 1), groups: ['ops'] },
      a0,
      [a0, a1],
    );
    expect(s.users.bob!.status).toBe('active');
    expect(s.groups.ops).toEqual(['bob']);
    expect(s.height).toBe(2);
    s = ledger.apply('add_key', { userId: 'bob', ...keysOf(bob)[1]! }, a1, [a1, a0]);
    expect(Object.keys(s.users.bob!.keys)).toContain(bob.signers[1]!.keyId);
    s = ledger.apply('revoke_key', { userId: 'bob', keyId: bob.signer.keyId }, a0, [a0, a1]);
    expect(s.users.bob!.keys[bob.signer.keyId]!.status).toBe('revoked');
    s = ledger.apply('remove_user', { userId: 'bob' }, a0, [a0, a1]);
    expect(s.users.bob!.status).toBe('removed');
    expect(Object.values(s.users.bob!.keys).every((k) => k.status === 'revoked')).toBe(true);
    expect(groupsOf(s, 'bob')).toEqual([]);
    // Ids are never reused; keys never registered twice.
    expect(
      failure(() =>
        ledger.apply(
          'add_user',
          { userId: 'bob', name: 'B', kind: 'person', keys: keysOf(testUser('x')) },
          a0,
          [a0, a1],
        ),
      ).code,
    ).toBe('E_CONFLICT');
    expect(
      failure(() => ledger.apply('add_key', { userId: 'a2', ...keysOf(a0)[0]! }, a0, [a0, a1])).code,
    ).toBe('E_CONFLICT');
  });

  it('set_group_members, add_group_member, remove_group_member', () => {
    const { ledger, a0, a1, a2 } = setup();
    let s = ledger.apply('set_group_members', { group: 'ops', members: ['a2', 'a0'] }, a0, [a0, a1]);
    expect(s.groups.ops).toEqual(['a0', 'a2']);
    s = ledger.apply('add_group_member', { group: 'ops', userId: 'a1' }, a2, [a1, a2]);
    expect(s.groups.ops).toEqual(['a0', 'a1', 'a2']);
    s = ledger.apply('remove_group_member', { group: 'ops', userId: 'a0' }, a0, [a0, a2]);
    expect(s.groups.ops).toEqual(['a1', 'a2']);
    expect(
      failure(() => ledger.apply('add_group_member', { group: 'nope', userId: 'a1' }, a0, [a0, a1])).code,
    ).toBe('E_NOT_FOUND');
    expect(
      failure(() => ledger.apply('set_group_members', { group: 'ops', members: ['ghost'] }, a0, [a0, a1]))
        .code,
    ).toBe('E_NOT_FOUND');
  });

  it('publish_policy records version, digest and history; refuses a wrong digest, version or document', () => {
    const { ledger, a0, a1 } = setup();
    ledger.apply('set_group_members', { group: 'ops', members: ['a0', 'a1', 'a2'] }, a0, [a0, a1]);
    const digest = policyDigest(policy);
    const s = ledger.apply('publish_policy', { version: 1, digest, document: policy }, a0, [a0, a1]);
    expect(s.policies.active).toMatchObject({ version: 1, digest });
    expect(s.policies.history).toEqual([{ version: 1, digest }]);
    const v2 = { ...policy, name: 'v2' };
    expect(
      failure(() => ledger.apply('publish_policy', { version: 2, digest, document: v2 }, a0, [a0, a1])).code,
    ).toBe('E_DIGEST_MISMATCH');
    expect(
      failure(() =>
        ledger.apply('publish_policy', { version: 3, digest: policyDigest(v2), document: v2 }, a0, [a0, a1]),
      ).code,
    ).toBe('E_CONFLICT');
    const bad = { ...policy, rules: [{ id: 'x', when: {}, action: 'maybe' }] };
    expect(
      failure(() => ledger.apply('publish_policy', { version: 2, digest, document: bad }, a0, [a0, a1])).code,
    ).toBe('E_POLICY_INVALID');
    const s2 = ledger.apply('publish_policy', { version: 2, digest: policyDigest(v2), document: v2 }, a0, [
      a0,
      a1,
    ]);
    expect(s2.policies.history.map((h) => h.version)).toEqual([1, 2]);
  });

  it('address_book_add, lock, unlock', () => {
    const { ledger, a0, a1 } = setup();
    const entry = {
      entryId: 'cold-1',
      alias: 'Cold storage',
      chain: 'bitcoin',
      address: 'bc1qexample',
      trust: 'high' as const,
    };
    let s = ledger.apply('address_book_add', entry, a0, [a0, a1]);
    expect(s.addressBook['cold-1']).toEqual({
      alias: 'Cold storage',
      chain: 'bitcoin',
      address: 'bc1qexample',
      trust: 'high',
      locked: false,
    });
    s = ledger.apply('address_book_lock', { entryId: 'cold-1' }, a0, [a0, a1]);
    expect(s.addressBook['cold-1']!.locked).toBe(true);
    expect(failure(() => ledger.apply('address_book_lock', { entryId: 'cold-1' }, a0, [a0, a1])).code).toBe(
      'E_CONFLICT',
    );
    s = ledger.apply('address_book_unlock', { entryId: 'cold-1' }, a0, [a0, a1]);
    expect(s.addressBook['cold-1']!.locked).toBe(false);
    expect(
      failure(() => ledger.apply('address_book_add', { ...entry, entryId: 'dup' }, a0, [a0, a1])).code,
    ).toBe('E_CONFLICT');
    expect(failure(() => ledger.apply('address_book_unlock', { entryId: 'nope' }, a0, [a0, a1])).code).toBe(
      'E_NOT_FOUND',
    );
  });

  it('change_quorum: the new quorum applies to the next request', () => {
    const { ledger, a0, a1, a2 } = setup();
    const s = ledger.apply('change_quorum', { group: 'admins', k: 3 }, a0, [a0, a1]);
    expect(s.governance.k).toBe(3);
    const e = failure(() => ledger.apply('address_book_lock', { entryId: 'x' }, a0, [a0, a1]));
    expect(e.code).toBe('E_QUORUM_INCOMPLETE');
    expect(e.details).toMatchObject({ required: 3, counted: 2 });
    ledger.apply('change_quorum', { group: 'admins', k: 2 }, a0, [a0, a1, a2]);
  });

  it('rejects a malformed payload with E_VALIDATION naming the field', () => {
    const { ledger, a0 } = setup();
    const e = failure(() => makeRequest(ledger.state, 'change_quorum', { group: 'admins', k: 0 }, a0));
    expect(e.code).toBe('E_VALIDATION');
    expect(e.details.field).toBe('payload/k');
  });
});

describe('freeze and unfreeze', () => {
  it('one member of the freeze group freezes a wallet or the tenant alone; unfreezing needs the quorum', () => {
    const { ledger, a0, a1 } = setup();
    const now = T0 + 3_600_000;
    const freeze = makeRequest(ledger.state, 'freeze', { scope: 'wallet', walletId: 'w1' }, a1);
    const frozen = applyGovernanceRequest(ledger.state, freeze, [], { now });
    expect(isFrozen(frozen, 'w1')).toBe(true);
    expect(isFrozen(frozen, 'w2')).toBe(false);
    const tenantFreeze = makeRequest(frozen, 'freeze', { scope: 'tenant' }, a0);
    const all = applyGovernanceRequest(frozen, tenantFreeze, [], { now });
    expect(isFrozen(all, 'w2')).toBe(true);

    const unfreeze = makeRequest(all, 'unfreeze', { scope: 'tenant' }, a0);
    expect(failure(() => applyGovernanceRequest(all, unfreeze, [], { now })).code).toBe(
      'E_QUORUM_INCOMPLETE',
    );
    expect(failure(() => applyGovernanceRequest(all, unfreeze, [approve(unfreeze, a0)], { now })).code).toBe(
      'E_QUORUM_INCOMPLETE',
    );
    const thawed = applyGovernanceRequest(all, unfreeze, [approve(unfreeze, a0), approve(unfreeze, a1)], {
      now,
    });
    expect(thawed.freeze).toEqual({ tenant: false, wallets: ['w1'] });
  });

  it('refuses a freeze by someone outside the freeze group', () => {
    const { ledger, a0, a1 } = setup();
    const carol = testUser('carol');
    ledger.apply('add_user', { userId: 'carol', name: 'Carol', kind: 'person', keys: keysOf(carol) }, a0, [
      a0,
      a1,
    ]);
    const freeze = makeRequest(ledger.state, 'freeze', { scope: 'tenant' }, carol);
    expect(
      failure(() => applyGovernanceRequest(ledger.state, freeze, [], { now: T0 + 3_600_000 })).code,
    ).toBe('E_FORBIDDEN');
  });
});

describe('approvals', () => {
  const now = T0 + 3_600_000;

  it('two keys of one user count once', () => {
    const fixture = genesisFixture(3, 2);
    const ledger = new Ledger(fixture);
    const [a0, a1] = fixture.admins as [TestUser, TestUser];
    const second = testUser('tmp');
    ledger.apply('add_key', { userId: 'a1', ...keysOf(second)[0]! }, a0, [a0, a1]);
    const a1Both = { ...a1, signers: [a1.signer, second.signer] };
    const req = makeRequest(
      ledger.state,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      a0,
    );
    const approvals = [approve(req, a1Both), approve(req, a1Both, { signer: second.signer })];
    const e = failure(() => applyGovernanceRequest(ledger.state, req, approvals, { now }));
    expect(e.code).toBe('E_QUORUM_INCOMPLETE');
    expect(e.details).toMatchObject({ required: 2, counted: 1, approvers: ['a1'] });
  });

  it('an approval from a removed user or with a revoked key is refused', () => {
    const { ledger, a0, a1, a2 } = setup();
    const old = ledger.state;
    const reqOld = makeRequest(
      old,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      a0,
    );
    ledger.apply('remove_user', { userId: 'a2' }, a0, [a0, a1]);
    // Re-based on the new state, a2's approval no longer counts: a2 is removed there.
    const req = makeRequest(
      ledger.state,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      a0,
    );
    expect(
      failure(() => applyGovernanceRequest(ledger.state, req, [approve(req, a0), approve(req, a2)], { now }))
        .code,
    ).toBe('E_FORBIDDEN');
    // And the old request (base = the state before the removal) no longer applies to the current state.
    expect(
      failure(() =>
        applyGovernanceRequest(ledger.state, reqOld, [approve(reqOld, a0), approve(reqOld, a1)], { now }),
      ).code,
    ).toBe('E_GOVERNANCE_CHAIN_INVALID');

    const { ledger: l2, a0: b0, a1: b1 } = setup();
    const spare = testUser('spare');
    l2.apply('add_key', { userId: 'a1', ...keysOf(spare)[0]! }, b0, [b0, b1]);
    l2.apply('revoke_key', { userId: 'a1', keyId: b1.signer.keyId }, b0, [b0, b1]);
    const r = makeRequest(
      l2.state,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      b0,
    );
    expect(
      failure(() => applyGovernanceRequest(l2.state, r, [approve(r, b0), approve(r, b1)], { now })).code,
    ).toBe('E_KEY_REVOKED');
    expect(() =>
      applyGovernanceRequest(l2.state, r, [approve(r, b0), approve(r, b1, { signer: spare.signer })], {
        now,
      }),
    ).not.toThrow();
  });

  it('approvals must be by governance members, for this request and base, signed validly and in time', () => {
    const { ledger, a0, a1, a2 } = setup();
    const carol = testUser('carol');
    ledger.apply('add_user', { userId: 'carol', name: 'Carol', kind: 'person', keys: keysOf(carol) }, a0, [
      a0,
      a1,
    ]);
    const s = ledger.state;
    const req = makeRequest(
      s,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      carol,
    );
    const other = makeRequest(
      s,
      'address_book_add',
      { entryId: 'f', alias: 'F', chain: 'evm', address: '0x2', trust: 'low' },
      carol,
    );
    const good = approve(req, a0);
    expect(failure(() => applyGovernanceRequest(s, req, [good, approve(req, carol)], { now })).code).toBe(
      'E_FORBIDDEN',
    );
    expect(failure(() => applyGovernanceRequest(s, req, [good, approve(other, a1)], { now })).code).toBe(
      'E_DIGEST_MISMATCH',
    );
    expect(
      failure(() =>
        applyGovernanceRequest(s, req, [good, { ...approve(req, a1), signature: good.signature }], { now }),
      ).code,
    ).toBe('E_SIGNATURE_INVALID');
    expect(
      failure(() =>
        applyGovernanceRequest(s, req, [good, approve(req, a1, { at: T0 + 10 * 86_400_000 })], {
          now: T0 + 10 * 86_400_000,
        }),
      ).code,
    ).toBe('E_REQUEST_EXPIRED');
    expect(
      failure(() =>
        applyGovernanceRequest(s, req, [good, approve(req, a1, { at: now + 3_600_000 })], { now }),
      ).code,
    ).toBe('E_SIGNATURE_FUTURE');
    // The initiator's signature is required and checked.
    expect(
      failure(() =>
        applyGovernanceRequest(s, { ...req, initiatorSignature: good.signature }, [good, approve(req, a2)], {
          now,
        }),
      ).code,
    ).toBe('E_SIGNATURE_INVALID');
    expect(() => applyGovernanceRequest(s, req, [good, approve(req, a2)], { now })).not.toThrow();
  });

  it('one rejection refuses the request, whatever the approvals', () => {
    const { ledger, a0, a1, a2 } = setup();
    const req = makeRequest(ledger.state, 'change_quorum', { group: 'admins', k: 1 }, a0);
    const e = failure(() =>
      applyGovernanceRequest(
        ledger.state,
        req,
        [approve(req, a0), approve(req, a1), approve(req, a2, { kind: 'rejection' })],
        { now },
      ),
    );
    expect(e.code).toBe('E_REQUEST_REJECTED');
    expect(e.details.rejectedBy).toEqual(['a2']);
  });

  it('an expired request is refused and changes nothing', () => {
    const { ledger, a0, a1 } = setup();
    const before = stateDigest(ledger.state);
    const req = makeRequest(ledger.state, 'change_quorum', { group: 'admins', k: 1 }, a0, {
      createdAt: T0 + 1000,
      expiresAt: T0 + 100_000,
    });
    expect(
      failure(() =>
        applyGovernanceRequest(ledger.state, req, [approve(req, a0), approve(req, a1)], {
          now: T0 + 200_000,
        }),
      ).code,
    ).toBe('E_REQUEST_EXPIRED');
    expect(stateDigest(ledger.state)).toBe(before);
  });

  it('property: the order of approvals never changes the outcome', () => {
    const { ledger, a0, a1, a2 } = setup();
    const s = ledger.state;
    const req = makeRequest(
      s,
      'address_book_add',
      { entryId: 'e', alias: 'E', chain: 'evm', address: '0x1', trust: 'low' },
      a0,
    );
    const spare = testUser('x');
    const pool = [
      approve(req, a0),
      approve(req, a1),
      approve(req, a2, { kind: 'rejection' }),
      { ...approve(req, a2), signature: approve(req, a1).signature },
      approve(req, spare),
      approve(req, a1, { at: T0 + 5000 }),
    ];
    const outcome = (list: typeof pool): string => {
      try {
        return stateDigest(applyGovernanceRequest(s, req, list, { now }) as GovernanceState);
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    fc.assert(
      fc.property(fc.subarray(pool.map((_, i) => i)), fc.func(fc.integer()), (picked, rank) => {
        const list = picked.map((i) => pool[i]!);
        const shuffled = [...list].sort(
          (x, y) => rank(x.signature + x.signedAt) - rank(y.signature + y.signedAt),
        );
        expect(outcome(shuffled)).toBe(outcome(list));
        expect(outcome([...list].reverse())).toBe(outcome(list));
      }),
      { numRuns: 200 },
    );
  });
});
