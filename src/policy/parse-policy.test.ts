import { describe, expect, it } from 'vitest';
import { isStrongroomError } from '../domain/errors.ts';
import { normalizePolicy, parsePolicyText, policyDigest, validatePolicy } from './parse-policy.ts';
import type { PolicyDocument } from './policy-schema.ts';

const yaml = `
version: 1
name: treasury
rules:
  - id: small-btc
    description: small BTC transfers to trusted entries
    when:
      requestType: [transfer]
      asset: [BTC]
      amount: { max: "100000000" }
      destination: { kind: address_book, trust: [high], unlockedOnly: true }
      timeWindow: { days: [1, 2, 3, 4, 5], from: "09:00", to: "17:30", tz: UTC }
    action: approve
  - id: large
    when:
      amount: { min: "100000001" }
    action:
      workflow:
        steps:
          - { group: operations, k: 2 }
          - { group: compliance, k: 1, excludeInitiator: true, distinctFromEarlierSteps: true }
        expiresInSeconds: 86400
        timeLock: { seconds: 3600, vetoGroup: risk }
`;

const json = JSON.stringify({
  version: 1,
  name: 'treasury',
  rules: [
    {
      id: 'small-btc',
      description: 'small BTC transfers to trusted entries',
      when: {
        requestType: ['transfer'],
        asset: ['BTC'],
        amount: { max: '100000000' },
        destination: { kind: 'address_book', trust: ['high'], unlockedOnly: true },
        timeWindow: { days: [1, 2, 3, 4, 5], from: '09:00', to: '17:30', tz: 'UTC' },
      },
      action: 'approve',
    },
    {
      id: 'large',
      when: { amount: { min: '100000001' } },
      action: {
        workflow: {
          steps: [
            { group: 'operations', k: 2, excludeInitiator: true, distinctFromEarlierSteps: true },
            { group: 'compliance', k: 1 },
          ],
          expiresInSeconds: 86400,
          timeLock: { seconds: 3600, vetoGroup: 'risk' },
        },
      },
    },
  ],
});

function refusal(fn: () => unknown): { code: string; path: unknown; message: string } {
  try {
    fn();
  } catch (e) {
    if (isStrongroomError(e)) return { code: e.code, path: e.details.path, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('parsePolicyText', () => {
  it('reads YAML and JSON of the same policy to the same normalized document and digest', () => {
    const a = parsePolicyText(yaml, 'yaml');
    const b = parsePolicyText(json, 'json');
    expect(normalizePolicy(a)).toEqual(normalizePolicy(b));
    expect(policyDigest(a)).toBe(policyDigest(b));
    expect(policyDigest(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('digest changes with any rule change and fills defaults (explicit true == omitted)', () => {
    const a = parsePolicyText(json, 'json');
    const b = structuredClone(a);
    b.rules[0]!.when.amount = { max: '100000001' };
    expect(policyDigest(b)).not.toBe(policyDigest(a));
    const steps = normalizePolicy(a).rules[1]!.action as {
      workflow: { steps: { excludeInitiator: boolean }[] };
    };
    expect(steps.workflow.steps[1]!.excludeInitiator).toBe(true);
  });

  it.each([
    ['an unknown field', (d: any) => (d.rules[0].when.amonut = { max: '1' }), '/rules/0/when/amonut'],
    ['a number amount', (d: any) => (d.rules[0].when.amount.max = 100000000), '/rules/0/when/amount/max'],
    ['a negative amount', (d: any) => (d.rules[0].when.amount.max = '-1'), '/rules/0/when/amount/max'],
    ['a decimal amount', (d: any) => (d.rules[0].when.amount.max = '1.5'), '/rules/0/when/amount/max'],
    ['min above max', (d: any) => (d.rules[0].when.amount = { min: '10', max: '9' }), '/rules/0/when/amount'],
    ['a duplicate rule id', (d: any) => (d.rules[1].id = 'small-btc'), '/rules/1/id'],
    [
      'trust on a non address-book destination',
      (d: any) => (d.rules[0].when.destination.kind = 'any'),
      '/rules/0/when/destination',
    ],
    [
      'an empty time window',
      (d: any) => (d.rules[0].when.timeWindow.to = '09:00'),
      '/rules/0/when/timeWindow',
    ],
    [
      'a velocity without limit',
      (d: any) => (d.rules[0].when.velocity = { scope: 'wallet', windowSeconds: 60 }),
      '/rules/0/when/velocity',
    ],
    ['k of zero', (d: any) => (d.rules[1].action.workflow.steps[0].k = 0), '/rules/1/action'],
    ['an unknown format version', (d: any) => (d.version = 2), '/version'],
    [
      'a test naming an unknown rule',
      (d: any) =>
        (d.tests = [
          {
            name: 't',
            request: { type: 'transfer', initiator: 'u' },
            context: {},
            expect: { decision: 'deny', rule: 'nope' },
          },
        ]),
      '/tests/0/expect/rule',
    ],
  ])('refuses %s with E_POLICY_INVALID naming the path', (_what, mutate, path) => {
    const doc = JSON.parse(json);
    mutate(doc);
    const r = refusal(() => validatePolicy(doc));
    expect(r.code).toBe('E_POLICY_INVALID');
    expect(r.path).toBe(path);
  });

  it('refuses duplicate keys in JSON and YAML, YAML aliases and unquoted YAML amounts', () => {
    expect(
      refusal(() => parsePolicyText('{"version":1,"name":"a","name":"b","rules":[]}', 'json')).code,
    ).toBe('E_POLICY_INVALID');
    expect(refusal(() => parsePolicyText('version: 1\nname: a\nname: b\nrules: []\n', 'yaml')).code).toBe(
      'E_POLICY_INVALID',
    );
    const alias =
      'version: 1\nname: a\nrules:\n  - id: r1\n    when: &w { asset: [BTC] }\n    action: deny\n  - id: r2\n    when: *w\n    action: deny\n';
    expect(refusal(() => parsePolicyText(alias, 'yaml')).code).toBe('E_POLICY_INVALID');
    const r = refusal(() => parsePolicyText(yaml.replace('max: "100000000"', 'max: 100000000'), 'yaml'));
    expect(r).toMatchObject({ code: 'E_POLICY_INVALID', path: '/rules/0/when/amount/max' });
  });

  it('refuses __proto__ keys rather than letting them change prototypes', () => {
    const r = refusal(() =>
      parsePolicyText('{"version":1,"name":"a","rules":[],"__proto__":{"x":1}}', 'json'),
    );
    expect(r.code).toBe('E_POLICY_INVALID');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('does not mutate the input when normalizing', () => {
    const doc = JSON.parse(json) as PolicyDocument;
    const before = JSON.stringify(doc);
    normalizePolicy(validatePolicy(doc));
    expect(JSON.stringify(doc)).toBe(before);
  });
});
