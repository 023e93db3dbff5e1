import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { genesisFixture, Ledger, type TestUser } from '../../test/support/governance-kit.ts';
import { stateDigest } from './governance-state.ts';
import { GovernanceHeadTracker, type GovernanceHeadRecord } from './head-tracker.ts';

const macWith = (key: string) => (bytes: Uint8Array) =>
  new Uint8Array(createHmac('sha256', key).update(bytes).digest());
const mac = macWith('master-derived-key');

function chain(n: number) {
  const fixture = genesisFixture(3, 2);
  const [a0, a1] = fixture.admins as [TestUser, TestUser];
  const ledger = new Ledger(fixture);
  for (let i = 0; i < n; i++) {
    ledger.apply(
      'address_book_add',
      { entryId: `e${i}`, alias: `E${i}`, chain: 'evm', address: `0x${i}`, trust: 'low' },
      a0,
      [a0, a1],
    );
  }
  return ledger;
}

const headOf = (ledger: Ledger, height: number) => ({ height, digest: stateDigest(ledger.states[height]!) });
const fromGenesis = (ledger: Ledger, upTo: number) => ({
  genesis: ledger.fixture.genesis,
  genesisSignatures: ledger.fixture.signatures,
  transitions: ledger.transitions.slice(0, upTo),
});

function failure(f: () => unknown): { code?: string; details?: any } {
  try {
    f();
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('expected a refusal');
}

describe('GovernanceHeadTracker', () => {
  it('records the genesis, then moves forward with proofs from genesis or from the recorded head', () => {
    const ledger = chain(4);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    expect(tracker.head).toBeNull();
    const first = tracker.accept(headOf(ledger, 0), fromGenesis(ledger, 0));
    expect(first.record).toMatchObject({
      tenant: 'acme',
      height: 0,
      digest: stateDigest(ledger.fixture.genesis),
      genesis: stateDigest(ledger.fixture.genesis),
    });
    tracker.accept(headOf(ledger, 2), fromGenesis(ledger, 2));
    const r = tracker.accept(headOf(ledger, 4), {
      from: ledger.states[2]!,
      transitions: ledger.transitions.slice(2),
    });
    expect(r.record.height).toBe(4);
    expect(r.chain.head.height).toBe(4);
    // Re-presenting the same head is a no-op.
    tracker.accept(headOf(ledger, 4), { from: ledger.states[4]!, transitions: [] });
    expect(tracker.head?.height).toBe(4);
  });

  it('refuses any rollback: lower height, or the same height with another digest; nothing changes', () => {
    const ledger = chain(3);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    tracker.accept(headOf(ledger, 3), fromGenesis(ledger, 3));
    const before = tracker.record();
    expect(failure(() => tracker.accept(headOf(ledger, 1), fromGenesis(ledger, 1))).code).toBe(
      'E_GOVERNANCE_ROLLBACK',
    );
    expect(
      failure(() =>
        tracker.accept({ height: 3, digest: stateDigest(ledger.states[2]!) }, fromGenesis(ledger, 2)),
      ).code,
    ).toBe('E_GOVERNANCE_ROLLBACK');
    expect(tracker.record()).toEqual(before);
  });

  it('refuses a fork that does not pass through the recorded head, and a chain from another genesis', () => {
    const ledger = chain(2);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    tracker.accept(headOf(ledger, 2), fromGenesis(ledger, 2));
    // Another history from the same genesis, diverging at height 1, that is longer.
    const fork = new Ledger(ledger.fixture);
    const [a0, a1] = ledger.fixture.admins as [TestUser, TestUser];
    for (let i = 0; i < 3; i++)
      fork.apply(
        'address_book_add',
        { entryId: `f${i}`, alias: 'F', chain: 'btc', address: `bc1${i}`, trust: 'high' },
        a0,
        [a0, a1],
      );
    expect(failure(() => tracker.accept(headOf(fork, 3), fromGenesis(fork, 3))).code).toBe(
      'E_GOVERNANCE_ROLLBACK',
    );
    const other = chain(3);
    const e = failure(() => tracker.accept(headOf(other, 3), fromGenesis(other, 3)));
    expect(e.code).toBe('E_GOVERNANCE_CHAIN_INVALID');
    expect(e.details.reason).toBe('genesis');
  });

  it('refuses a proof that does not lead to the claimed head, or starts elsewhere than the recorded head', () => {
    const ledger = chain(3);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    tracker.accept(headOf(ledger, 1), fromGenesis(ledger, 1));
    expect(failure(() => tracker.accept(headOf(ledger, 3), fromGenesis(ledger, 2))).code).toBe(
      'E_GOVERNANCE_CHAIN_INVALID',
    );
    expect(
      failure(() =>
        tracker.accept(headOf(ledger, 3), { from: ledger.states[0]!, transitions: ledger.transitions }),
      ).code,
    ).toBe('E_GOVERNANCE_ROLLBACK');
    const fresh = GovernanceHeadTracker.create('acme', mac);
    expect(
      failure(() =>
        fresh.accept(headOf(ledger, 1), {
          from: ledger.states[0]!,
          transitions: ledger.transitions.slice(0, 1),
        }),
      ).code,
    ).toBe('E_GOVERNANCE_CHAIN_INVALID');
    expect(
      failure(() =>
        GovernanceHeadTracker.create('other', mac).accept(headOf(ledger, 1), fromGenesis(ledger, 1)),
      ).code,
    ).toBe('E_GOVERNANCE_CHAIN_INVALID');
  });

  it('load refuses a record whose MAC fails (edited height, digest, or another master key)', () => {
    const ledger = chain(2);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    const { record } = tracker.accept(headOf(ledger, 2), fromGenesis(ledger, 2));
    const loaded = GovernanceHeadTracker.load(record, mac);
    expect(loaded.head).toEqual({
      tenant: 'acme',
      genesis: record.genesis,
      height: 2,
      digest: record.digest,
    });
    const edits: GovernanceHeadRecord[] = [
      { ...record, height: 1 },
      { ...record, digest: stateDigest(ledger.states[1]!) },
      { ...record, tenant: 'other' },
      { ...record, mac: 'not base64!' },
    ];
    for (const r of edits)
      expect(failure(() => GovernanceHeadTracker.load(r, mac)).code).toBe('E_GOVERNANCE_CHAIN_INVALID');
    expect(failure(() => GovernanceHeadTracker.load(record, macWith('another key'))).code).toBe(
      'E_GOVERNANCE_CHAIN_INVALID',
    );
    // A rolled-back but genuinely MACed older record is the vault's own history: the lead must persist
    // every accept; loaded trackers keep refusing anything older than what they hold.
    expect(failure(() => loaded.accept(headOf(ledger, 1), fromGenesis(ledger, 1))).code).toBe(
      'E_GOVERNANCE_ROLLBACK',
    );
  });

  it('assertHeadState accepts only the recorded state', () => {
    const ledger = chain(2);
    const tracker = GovernanceHeadTracker.create('acme', mac);
    tracker.accept(headOf(ledger, 2), fromGenesis(ledger, 2));
    expect(() => tracker.assertHeadState(ledger.states[2]!)).not.toThrow();
    expect(failure(() => tracker.assertHeadState(ledger.states[1]!)).code).toBe('E_GOVERNANCE_ROLLBACK');
  });
});
