import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { progressWorkflow, type RecordedApproval } from './workflow-progress.ts';
import type { WorkflowSpec } from './workflow-spec.ts';

const C = 1_000_000; // createdAt
const wf: WorkflowSpec = {
  steps: [
    { group: 'ops', k: 2, excludeInitiator: true, distinctFromEarlierSteps: true },
    { group: 'compliance', k: 1, excludeInitiator: true, distinctFromEarlierSteps: true },
  ],
  expiresInSeconds: 3600,
};
const ap = (
  userId: string,
  groups: string[],
  at: number,
  kind: 'approval' | 'rejection' = 'approval',
  keyId = `${userId}-k1`,
): RecordedApproval => ({
  userId,
  keyId,
  groups,
  kind,
  at: C + at,
});
const run = (approvals: RecordedApproval[], now = C + 10_000, w = wf) =>
  progressWorkflow(w, { initiatorUserId: 'init', approvals, now, createdAt: C });

describe('progressWorkflow', () => {
  it('approves when each step has k distinct eligible approvers, in sequence', () => {
    const r = run([ap('a', ['ops'], 1), ap('b', ['ops'], 2), ap('c', ['compliance'], 3)]);
    expect(r).toMatchObject({ state: 'approved', step: 2, missing: 0, completedAt: C + 3 });
    expect(r.satisfied).toEqual([
      { step: 0, group: 'ops', approvers: ['a', 'b'] },
      { step: 1, group: 'compliance', approvers: ['c'] },
    ]);
  });

  it('counts two keys of one user once', () => {
    const r = run([ap('a', ['ops'], 1, 'approval', 'k1'), ap('a', ['ops'], 2, 'approval', 'k2')]);
    expect(r).toMatchObject({ state: 'pending', step: 0, missing: 1 });
  });

  it('ignores non-members, the initiator when excluded, and approvers of an earlier step when distinct', () => {
    expect(run([ap('x', ['traders'], 1), ap('init', ['ops'], 2), ap('a', ['ops'], 3)])).toMatchObject({
      state: 'pending',
      missing: 1,
    });
    const both = ['ops', 'compliance'];
    expect(run([ap('a', both, 1), ap('b', ['ops'], 2), ap('a', both, 3, 'approval', 'k2')])).toMatchObject({
      state: 'pending',
      step: 1,
    });
    const lax: WorkflowSpec = {
      ...wf,
      steps: [wf.steps[0]!, { ...wf.steps[1]!, distinctFromEarlierSteps: false }],
    };
    expect(
      run([ap('a', both, 1), ap('b', ['ops'], 2), ap('a', both, 3, 'approval', 'k2')], C + 10_000, lax).state,
    ).toBe('approved');
    const selfOk: WorkflowSpec = {
      ...wf,
      steps: [{ ...wf.steps[0]!, excludeInitiator: false }, wf.steps[1]!],
    };
    expect(
      run([ap('init', ['ops'], 1), ap('a', ['ops'], 2), ap('c', ['compliance'], 3)], C + 10_000, selfOk)
        .state,
    ).toBe('approved');
  });

  it("does not count a later step's approval signed before that step was active", () => {
    const r = run([ap('c', ['compliance'], 1), ap('a', ['ops'], 2), ap('b', ['ops'], 3)]);
    expect(r).toMatchObject({ state: 'pending', step: 1, missing: 1 });
  });

  it("one eligible rejection ends it; a stranger's rejection does not", () => {
    expect(run([ap('a', ['ops'], 1), ap('z', ['traders'], 2, 'rejection'), ap('b', ['ops'], 3)]).state).toBe(
      'pending',
    );
    const r = run([
      ap('a', ['ops'], 1),
      ap('c', ['compliance'], 2, 'rejection'),
      ap('b', ['ops'], 3),
      ap('d', ['compliance'], 4),
    ]);
    expect(r).toMatchObject({ state: 'rejected', rejectedBy: 'c' });
  });

  it('expires; approvals at or after the expiry, before creation or after now do not count', () => {
    const exp = 3600 * 1000;
    expect(run([ap('a', ['ops'], 1)], C + exp).state).toBe('expired');
    expect(
      run([ap('a', ['ops'], 1), ap('b', ['ops'], exp), ap('c', ['compliance'], exp + 1)], C + exp + 10).state,
    ).toBe('expired');
    expect(run([ap('a', ['ops'], -1), ap('b', ['ops'], 2), ap('c', ['compliance'], 3)]).state).toBe(
      'pending',
    );
    expect(
      run([ap('a', ['ops'], 1), ap('b', ['ops'], 2), ap('c', ['compliance'], 20_000)], C + 10_000).state,
    ).toBe('pending');
    // Approved in time stays approved after the expiry.
    expect(
      run([ap('a', ['ops'], 1), ap('b', ['ops'], 2), ap('c', ['compliance'], 3)], C + exp * 2).state,
    ).toBe('approved');
  });

  it('time-lock: waits, then approves; a veto-group rejection during the lock rejects', () => {
    const locked: WorkflowSpec = { ...wf, timeLock: { seconds: 60, vetoGroup: 'risk' } };
    const done = [ap('a', ['ops'], 1), ap('b', ['ops'], 2), ap('c', ['compliance'], 3)];
    expect(run(done, C + 3 + 59_999, locked)).toMatchObject({
      state: 'time_locked',
      timeLockEndsAt: C + 3 + 60_000,
    });
    expect(run(done, C + 3 + 60_000, locked).state).toBe('approved');
    expect(run([...done, ap('r', ['risk'], 30_000, 'rejection')], C + 100_000, locked)).toMatchObject({
      state: 'rejected',
      rejectedBy: 'r',
    });
    expect(run([...done, ap('r', ['risk'], 3 + 60_000, 'rejection')], C + 100_000, locked).state).toBe(
      'approved',
    );
    expect(run([...done, ap('o', ['ops'], 30_000, 'rejection')], C + 100_000, locked).state).toBe('approved');
  });
});

// Random approvals from a small population, so that quorums are sometimes complete.
const users = ['init', 'u1', 'u2', 'u3', 'u4', 'u5'];
const approvalArb = fc.record({
  userId: fc.constantFrom(...users),
  keyId: fc.constantFrom('k1', 'k2'),
  groups: fc.subarray(['ops', 'compliance', 'risk']),
  kind: fc.constantFrom('approval', 'approval', 'approval', 'approval', 'rejection') as fc.Arbitrary<
    'approval' | 'rejection'
  >,
  at: fc.integer({ min: -10, max: 4_000_000 }).map((t) => C + t),
});
const workflowArb: fc.Arbitrary<WorkflowSpec> = fc.record({
  steps: fc.array(
    fc.record({
      group: fc.constantFrom('ops', 'compliance'),
      k: fc.integer({ min: 1, max: 3 }),
      excludeInitiator: fc.boolean(),
      distinctFromEarlierSteps: fc.boolean(),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  expiresInSeconds: fc.constantFrom(600, 3600),
  timeLock: fc.option(fc.record({ seconds: fc.constantFrom(60, 600), vetoGroup: fc.constant('risk') }), {
    nil: undefined,
  }),
});

describe('progressWorkflow properties', () => {
  it('the order of approvals never changes the outcome', () => {
    fc.assert(
      fc.property(
        workflowArb,
        fc
          .array(approvalArb, { maxLength: 14 })
          .chain((a) =>
            fc.tuple(fc.constant(a), fc.shuffledSubarray(a, { minLength: a.length, maxLength: a.length })),
          ),
        fc.integer({ min: 0, max: 5_000_000 }),
        (w, [a, shuffled], t) => {
          const input = { initiatorUserId: 'init', now: C + t, createdAt: C };
          expect(progressWorkflow(w, { ...input, approvals: shuffled })).toEqual(
            progressWorkflow(w, { ...input, approvals: a }),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('nothing is approved without k distinct eligible approvers at each step, distinct across steps when required', () => {
    let approved = 0;
    fc.assert(
      fc.property(
        workflowArb,
        fc.array(approvalArb, { maxLength: 20 }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (w, approvals, t) => {
          const r = progressWorkflow(w, { initiatorUserId: 'init', approvals, now: C + t, createdAt: C });
          if (r.state !== 'approved' && r.state !== 'time_locked') return;
          approved++;
          const seen = new Set<string>();
          w.steps.forEach((step, s) => {
            const counted = r.satisfied[s]!.approvers;
            expect(new Set(counted).size).toBe(step.k);
            for (const u of counted) {
              // Each counted user really signed an approval, in time, as a member of the step's group.
              expect(
                approvals.some(
                  (a) =>
                    a.userId === u &&
                    a.kind === 'approval' &&
                    a.groups.includes(step.group) &&
                    a.at >= C &&
                    a.at < C + w.expiresInSeconds * 1000,
                ),
              ).toBe(true);
              if (step.excludeInitiator) expect(u).not.toBe('init');
              if (step.distinctFromEarlierSteps) expect(seen.has(u)).toBe(false);
            }
            for (const u of counted) seen.add(u);
          });
        },
      ),
      { numRuns: 3000 },
    );
    expect(approved).toBeGreaterThan(30);
  });
});
