import { describe, expect, it } from 'vitest';
import { genesisFixture, Ledger, makeRequest, T0, type TestUser } from '../../test/support/governance-kit.ts';
import { policyDigest, type PolicyDocument } from '../policy/index.ts';
import { applyGovernanceRequest } from './apply-request.ts';
import { assertNotFrozen, assertPolicyInForce, verifyCurrentSigner } from './evidence-checks.ts';
import { addressBookDestination } from './governance-state.ts';

const policy: PolicyDocument = { version: 1, name: 'p', rules: [{ id: 'all', when: {}, action: 'approve' }] };

function failure(f: () => unknown): { code?: string; details?: any } {
  try {
    f();
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('expected a refusal');
}

describe('evidence checks', () => {
  it('assertPolicyInForce accepts only the active document', () => {
    const fixture = genesisFixture(2, 2);
    const [a0, a1] = fixture.admins as [TestUser, TestUser];
    const ledger = new Ledger(fixture);
    expect(failure(() => assertPolicyInForce(ledger.state, policy)).code).toBe('E_EVIDENCE_INVALID');
    ledger.apply('publish_policy', { version: 1, digest: policyDigest(policy), document: policy }, a0, [
      a0,
      a1,
    ]);
    expect(assertPolicyInForce(ledger.state, policy)).toEqual({ version: 1, digest: policyDigest(policy) });
    const edited = { ...policy, rules: [{ id: 'all', when: {}, action: 'deny' as const }] };
    expect(failure(() => assertPolicyInForce(ledger.state, edited)).details.reason).toBe(
      'policy_not_in_force',
    );
  });

  it('assertNotFrozen reflects wallet and tenant freezes', () => {
    const fixture = genesisFixture(2, 2);
    const [a0] = fixture.admins as [TestUser, TestUser];
    const s0 = fixture.genesis;
    const s1 = applyGovernanceRequest(
      s0,
      makeRequest(s0, 'freeze', { scope: 'wallet', walletId: 'w1' }, a0),
      [],
      { now: T0 + 3_600_000 },
    );
    expect(() => assertNotFrozen(s1, 'w2')).not.toThrow();
    expect(failure(() => assertNotFrozen(s1, 'w1')).code).toBe('E_FROZEN');
    const s2 = applyGovernanceRequest(s1, makeRequest(s1, 'freeze', { scope: 'tenant' }, a0), [], {
      now: T0 + 3_600_000,
    });
    expect(failure(() => assertNotFrozen(s2, 'w2')).code).toBe('E_FROZEN');
  });

  it('verifyCurrentSigner returns the user and groups; address-book entries feed the policy context', () => {
    const fixture = genesisFixture(2, 2);
    const [a0, a1] = fixture.admins as [TestUser, TestUser];
    const ledger = new Ledger(fixture);
    ledger.apply(
      'address_book_add',
      { entryId: 'x', alias: 'X', chain: 'evm', address: '0x1', trust: 'medium', locked: true },
      a0,
      [a0, a1],
    );
    const data = new TextEncoder().encode('payload');
    const signature = Buffer.from(a1.signer.sign(data) as Uint8Array).toString('base64');
    expect(
      verifyCurrentSigner(
        ledger.state,
        { userId: 'a1', keyId: a1.signer.keyId, signature },
        data,
        'approval',
      ),
    ).toEqual({
      userId: 'a1',
      groups: ['admins'],
    });
    expect(
      failure(() =>
        verifyCurrentSigner(
          ledger.state,
          { userId: 'a0', keyId: a1.signer.keyId, signature },
          data,
          'approval',
        ),
      ).code,
    ).toBe('E_KEY_UNKNOWN');
    expect(addressBookDestination(ledger.state, 'x')).toEqual({
      kind: 'address_book',
      entryId: 'x',
      trust: 'medium',
      locked: true,
    });
    expect(addressBookDestination(ledger.state, 'nope')).toBeUndefined();
  });
});
