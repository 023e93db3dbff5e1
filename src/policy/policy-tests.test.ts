import { describe, expect, it } from 'vitest';
import { isStrongroomError } from '../domain/errors.ts';
import { compilePolicy } from './compile-policy.ts';
import { toPolicyContext, toPolicyRequest } from './evaluation-input.ts';
import { assertPublishable, runPolicyTests } from './policy-tests.ts';
import type { PolicyDocument } from './policy-schema.ts';
import { simulate } from './simulate.ts';

const base: PolicyDocument = {
  version: 1,
  name: 'treasury',
  rules: [
    {
      id: 'big',
      when: { amount: { min: '100000000' } },
      action: { workflow: { steps: [{ group: 'ops', k: 2 }], expiresInSeconds: 86400 } },
    },
    { id: 'small', when: { requestType: ['transfer'] }, action: 'approve' },
    { id: 'shadowed', when: { requestType: ['transfer'], asset: ['BTC'] }, action: 'deny' },
  ],
  tests: [
    {
      name: 'small transfer approved',
      request: { type: 'transfer', initiator: 'u1', amount: '5' },
      context: {},
      expect: { decision: 'approve', rule: 'small' },
    },
    {
      name: 'big transfer needs ops',
      request: { type: 'transfer', initiator: 'u1', amount: '100000000' },
      context: {},
      expect: { decision: 'workflow' },
    },
    {
      name: 'governance denied by default',
      request: { type: 'governance', initiator: 'u1' },
      context: {},
      expect: { decision: 'deny', rule: null },
    },
  ],
};

function thrown(fn: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    if (isStrongroomError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('policy as code', () => {
  it("runs the document's own tests", () => {
    expect(runPolicyTests(base)).toEqual({
      passed: ['small transfer approved', 'big transfer needs ops', 'governance denied by default'],
      failed: [],
    });
  });

  it('assertPublishable returns the compiled policy, digest and shadowing warnings', () => {
    const p = assertPublishable(base);
    expect(p.compiled.digest).toMatch(/^sha256:/);
    expect(p.warnings.map((w) => w.ruleId)).toEqual(['shadowed']);
  });

  it('refuses to publish when a test fails, listing it (E_POLICY_TESTS_FAILED)', () => {
    const broken = structuredClone(base);
    broken.rules[1]!.action = 'deny';
    const report = runPolicyTests(broken);
    expect(report.failed.map((f) => f.name)).toEqual(['small transfer approved']);
    expect(report.failed[0]!.actual).toEqual({ decision: 'deny', rule: 'small' });
    expect(report.failed[0]!.trace.at(-1)).toEqual({ ruleId: 'small', matched: true });
    const e = thrown(() => assertPublishable(broken));
    expect(e.code).toBe('E_POLICY_TESTS_FAILED');
    expect(e.details.failed).toEqual([
      {
        name: 'small transfer approved',
        expected: { decision: 'approve', rule: 'small' },
        actual: { decision: 'deny', rule: 'small' },
      },
    ]);
  });

  it('refuses an invalid document with E_POLICY_INVALID', () => {
    expect(
      thrown(() => assertPublishable({ ...base, rules: [{ id: 'x', when: {}, action: 'allow' }] })).code,
    ).toBe('E_POLICY_INVALID');
    expect(
      thrown(() =>
        assertPublishable({
          ...base,
          tests: [{ ...base.tests![0]!, request: { type: 'transfer', initiator: 'u', amount: 5 } }],
        }),
      ).code,
    ).toBe('E_POLICY_INVALID');
  });
});

describe('simulate', () => {
  it('lists exactly the past requests whose outcome would change', () => {
    const current = compilePolicy(base);
    const draft = compilePolicy({
      ...base,
      rules: [{ id: 'cap', when: { amount: { min: '1000' } }, action: 'deny' }, ...base.rules],
    });
    const past = [
      { id: 'req_a', amount: '5' }, // approve → approve
      { id: 'req_b', amount: '5000' }, // approve → deny
      { id: 'req_c', amount: '200000000' }, // workflow → deny
    ].map(({ id, amount }) => ({
      requestId: id,
      request: toPolicyRequest({ type: 'transfer', initiator: 'u1', amount }),
      context: toPolicyContext({}),
      at: 0,
    }));
    expect(simulate(draft, current, past)).toEqual([
      {
        requestId: 'req_b',
        before: { decision: 'approve', ruleId: 'small' },
        after: { decision: 'deny', ruleId: 'cap' },
      },
      {
        requestId: 'req_c',
        before: { decision: 'workflow', ruleId: 'big', workflow: current.rules[0]!.outcome.workflow },
        after: { decision: 'deny', ruleId: 'cap' },
      },
    ]);
    expect(simulate(current, current, past)).toEqual([]);
  });
});
