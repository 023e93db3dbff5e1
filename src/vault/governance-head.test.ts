import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { stateDigest, type GovernanceHeadRecord, type GovernanceState } from '../governance/index.ts';
import { genesisFixture, keysOf, Ledger, testUser } from '../../test/support/governance-kit.ts';
import { GovernanceHeads } from './governance-head.ts';

function heads() {
  const stored = new Map<string, GovernanceHeadRecord>();
  let puts = 0;
  const g = new GovernanceHeads({
    storage: {
      get: async (tenant) => stored.get(tenant),
      put: async (record) => {
        puts++;
        stored.set(record.tenant, record);
      },
    },
    macFor: async () => (bytes) =>
      new Uint8Array(createHmac('sha256', 'test mac key').update(bytes).digest()),
    now: () => new Date(),
  });
  return { g, puts: () => puts };
}

const headOf = (s: GovernanceState) => ({ height: s.height, digest: stateDigest(s) });

describe('GovernanceHeads keeps the verified head state', () => {
  const fixture = genesisFixture(3, 2);
  const ledger = new Ledger(fixture);
  const [a0, a1] = fixture.admins;
  ledger.apply(
    'add_user',
    { userId: 'usr_t', name: 't', kind: 'person', keys: keysOf(testUser('usr_t')) },
    a0!,
    [a0!, a1!],
  );
  const state = ledger.state;

  const transitions = [...ledger.transitions];

  async function accepted() {
    const h = heads();
    await h.g.accept('acme', headOf(state), {
      genesis: fixture.genesis,
      genesisSignatures: fixture.signatures,
      transitions,
    });
    return h;
  }

  it('the same state object at the same head is answered from what was verified, as a frozen copy', async () => {
    const { g } = await accepted();
    const presented = structuredClone(state);
    const first = await g.accept('acme', headOf(state), { from: presented, transitions: [] });
    const again = await g.accept('acme', headOf(state), { from: presented, transitions: [] });
    expect(again).toBe(first);
    expect(first.chain.head).toEqual(state);
    expect(first.chain.head).not.toBe(presented);
    expect(Object.isFrozen(first.chain.head) && Object.isFrozen(first.chain.head.users)).toBe(true);
    // Editing the presented object afterwards changes nothing the vault decides with.
    (presented.groups as Record<string, string[]>).admins = ['usr_t'];
    const later = await g.accept('acme', headOf(state), { from: presented, transitions: [] });
    expect(later.chain.head).toEqual(state);
  });

  it('a new object whose content differs from the recorded head is a rollback, as before', async () => {
    const { g } = await accepted();
    await g.accept('acme', headOf(state), { from: structuredClone(state), transitions: [] });
    const edited = structuredClone(state) as GovernanceState & { groups: Record<string, string[]> };
    edited.groups.admins = [...edited.groups.admins!, 'usr_t'].sort();
    await expect(g.accept('acme', headOf(state), { from: edited, transitions: [] })).rejects.toMatchObject({
      code: 'E_GOVERNANCE_ROLLBACK',
    });
    const older = ledger.states[0]!;
    await expect(g.accept('acme', headOf(older), { from: older, transitions: [] })).rejects.toMatchObject({
      code: 'E_GOVERNANCE_ROLLBACK',
    });
  });

  it('a head that moves forward is verified through its transitions and then kept', async () => {
    const { g, puts } = await accepted();
    const before = puts();
    const more = new Ledger(fixture);
    for (const t of transitions) more.transitions.push(t);
    more.state = state;
    more.apply(
      'add_user',
      { userId: 'usr_u', name: 'u', kind: 'person', keys: keysOf(testUser('usr_u')) },
      a0!,
      [a0!, a1!],
    );
    const moved = await g.accept('acme', headOf(more.state), {
      from: state,
      transitions: more.transitions.slice(-1),
    });
    expect(moved.chain.head).toEqual(more.state);
    expect(puts()).toBe(before + 1);
    const next = structuredClone(more.state);
    expect((await g.accept('acme', headOf(more.state), { from: next, transitions: [] })).chain.head).toEqual(
      more.state,
    );
    expect(await g.head('acme')).toMatchObject(headOf(more.state));
  });

  it('forget() drops the kept state with the tracker; the next accept verifies again', async () => {
    const { g } = await accepted();
    const presented = structuredClone(state);
    const first = await g.accept('acme', headOf(state), { from: presented, transitions: [] });
    g.forget('acme');
    const again = await g.accept('acme', headOf(state), { from: presented, transitions: [] });
    expect(again).not.toBe(first);
    expect(again.chain.head).toEqual(state);
  });
});
