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
import { stateDigest } from './governance-state.ts';
import { checkStoredStates, extendGovernanceChain, verifyGovernanceChain } from './verify-chain.ts';

const policy: PolicyDocument = {
  version: 1,
  name: 'treasury',
  rules: [
    {
      id: 'large',
      when: { requestType: ['transfer'] },
      action: { workflow: { steps: [{ group: 'ops', k: 1 }], expiresInSeconds: 3600 } },
    },
  ],
};

/** A chain exercising most kinds, including a freeze (no approvals) and a 3-of-3 approval set. */
function history() {
  const fixture = genesisFixture(3, 2);
  const [a0, a1, a2] = fixture.admins as [TestUser, TestUser, TestUser];
  const ledger = new Ledger(fixture);
  const ops = testUser('ops1');
  ledger.apply('set_group_members', { group: 'ops', members: [] }, a0, [a0, a1]);
  ledger.apply(
    'add_user',
    { userId: 'ops1', name: 'Ops', kind: 'service', keys: keysOf(ops), groups: ['ops'] },
    a1,
    [a1, a2, a0],
  );
  ledger.apply('add_group_member', { group: 'ops', userId: 'a2' }, a0, [a0, a2]);
  ledger.apply('publish_policy', { version: 1, digest: policyDigest(policy), document: policy }, a0, [
    a0,
    a1,
  ]);
  ledger.apply(
    'address_book_add',
    { entryId: 'ex', alias: 'Exchange', chain: 'evm', address: '0xabc', trust: 'medium' },
    ops,
    [a0, a2],
  );
  const freeze = makeRequest(ledger.state, 'freeze', { scope: 'wallet', walletId: 'w1' }, a2);
  const frozen = applyGovernanceRequest(ledger.state, freeze, [], { now: T0 + 86_400_000 });
  ledger.transitions.push({ ...freeze, approvals: [] });
  ledger.states.push(frozen);
  ledger.state = frozen;
  ledger.apply('unfreeze', { scope: 'wallet', walletId: 'w1' }, a1, [a1, a2]);
  return ledger;
}

type Path = (string | number)[];

function leaves(value: unknown, path: Path = []): Path[] {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    return entries.flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [path];
}

/** A copy of `root` with the leaf at `path` changed to a different value of the same type. */
function mutate<T>(root: T, path: Path, salt: number): T {
  const copy = structuredClone(root) as any;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k];
  const last = path[path.length - 1]!;
  const old = parent[last];
  if (typeof old === 'string') {
    const i = salt % Math.max(1, old.length);
    const c = old[i] ?? 'a';
    parent[last] = old.length === 0 ? 'x' : old.slice(0, i) + (c === 'A' ? 'B' : 'A') + old.slice(i + 1);
  } else if (typeof old === 'number') parent[last] = old + 1 + (salt % 3);
  else if (typeof old === 'boolean') parent[last] = !old;
  else parent[last] = 'x';
  return copy;
}

describe('verifyGovernanceChain', () => {
  it('re-applies the whole chain from genesis to the same head', () => {
    const ledger = history();
    const v = verifyGovernanceChain(ledger.fixture.genesis, ledger.fixture.signatures, ledger.transitions, {
      now: T0 + 2 * 86_400_000,
    });
    expect(v.headDigest).toBe(stateDigest(ledger.state));
    expect(v.head.height).toBe(ledger.transitions.length);
    expect(v.digests).toEqual(ledger.states.map(stateDigest));
    expect(v.genesis).toBe(stateDigest(ledger.fixture.genesis));
    checkStoredStates(v, ledger.states);
    // Historic requests verify long after they expired: expiry is judged against their own signatures.
    expect(() =>
      verifyGovernanceChain(ledger.fixture.genesis, ledger.fixture.signatures, ledger.transitions, {
        now: T0 + 400 * 86_400_000,
      }),
    ).not.toThrow();
  });

  it('extends from a verified state', () => {
    const ledger = history();
    const v = extendGovernanceChain(ledger.states[3]!, ledger.transitions.slice(3));
    expect(v.headDigest).toBe(stateDigest(ledger.state));
    expect(v.fromHeight).toBe(3);
  });

  it('refuses a reordered, dropped or foreign transition with E_GOVERNANCE_CHAIN_INVALID', () => {
    const ledger = history();
    const { genesis, signatures } = ledger.fixture;
    const t = ledger.transitions;
    const err = (ts: typeof t) => {
      try {
        verifyGovernanceChain(genesis, signatures, ts);
      } catch (e) {
        return e as { code: string; details: any };
      }
      throw new Error('expected a refusal');
    };
    expect(err([t[1]!, t[0]!, ...t.slice(2)]).details).toMatchObject({
      index: 0,
      reason: 'E_GOVERNANCE_CHAIN_INVALID',
    });
    expect(err([t[0]!, ...t.slice(2)]).code).toBe('E_GOVERNANCE_CHAIN_INVALID');
    expect(err([t[0]!, { ...t[1]!, approvals: t[1]!.approvals.slice(0, 1) }]).details).toMatchObject({
      index: 1,
      reason: 'E_QUORUM_INCOMPLETE',
    });
    const other = genesisFixture(3, 2);
    expect(() => verifyGovernanceChain(other.genesis, other.signatures, t)).toThrow(
      expect.objectContaining({ code: 'E_GOVERNANCE_CHAIN_INVALID' }),
    );
    // Signatures from the future (relative to the verifier's now) are refused.
    expect(() => verifyGovernanceChain(genesis, signatures, t, { now: T0 })).toThrow(
      expect.objectContaining({ code: 'E_GOVERNANCE_CHAIN_INVALID' }),
    );
  });

  it('a rejection smuggled into a stored transition breaks the chain', () => {
    const ledger = history();
    const t = ledger.transitions;
    const [, a1] = ledger.fixture.admins as [TestUser, TestUser];
    const withRejection = {
      ...t[2]!,
      approvals: [...t[2]!.approvals, approve(t[2]!, a1, { kind: 'rejection' })],
    };
    expect(() =>
      verifyGovernanceChain(ledger.fixture.genesis, ledger.fixture.signatures, [t[0]!, t[1]!, withRejection]),
    ).toThrow(
      expect.objectContaining({
        code: 'E_GOVERNANCE_CHAIN_INVALID',
        details: expect.objectContaining({ reason: 'E_REQUEST_REJECTED' }),
      }),
    );
  });

  it('property: any single-field change to the genesis, a signature, a request or an approval breaks verification', () => {
    const ledger = history();
    const evidence = {
      genesis: ledger.fixture.genesis,
      genesisSignatures: ledger.fixture.signatures,
      transitions: ledger.transitions,
    };
    const paths = leaves(evidence);
    expect(paths.length).toBeGreaterThan(100);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.nat(), (path, salt) => {
        const e = mutate(evidence, path, salt);
        expect(() => verifyGovernanceChain(e.genesis, e.genesisSignatures, e.transitions)).toThrow(
          expect.objectContaining({ code: 'E_GOVERNANCE_CHAIN_INVALID' }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('property: any single-field change to a stored state is detected', () => {
    const ledger = history();
    const v = verifyGovernanceChain(ledger.fixture.genesis, ledger.fixture.signatures, ledger.transitions);
    const paths = leaves(ledger.states);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.nat(), (path, salt) => {
        expect(() => checkStoredStates(v, mutate(ledger.states, path, salt))).toThrow(
          expect.objectContaining({ code: 'E_GOVERNANCE_CHAIN_INVALID' }),
        );
      }),
      { numRuns: 300 },
    );
  });
});
