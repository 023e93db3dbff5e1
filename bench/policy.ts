/**
 * Policy evaluation throughput (issue 4): a 1,000-rule policy with velocity conditions where most rules
 * fail (a third at the wallet, a third at the amount, a third only at the velocity limit, after every other
 * condition held) and the match is near the end (rule 996); and a 20-rule policy shaped the same way (match
 * at rule 18). Each is measured without the trace (targets: ≥ 20,000/s and ≥ 200,000/s) and with it.
 * Baseline, measured in the same run: JSON.parse of the request and context as recorded (JSON text).
 */
import { median, opsPerSecond, report, type Figure } from './harness.ts';
import {
  compilePolicy,
  evaluate,
  toPolicyContext,
  toPolicyRequest,
  type PolicyDocument,
  type RuleJson,
} from '../src/policy/index.ts';

const WINDOWS = [3600, 86_400, 7 * 86_400];

function rule(i: number, matching: boolean): RuleJson {
  const kind = matching ? 3 : i % 3;
  const windowSeconds = WINDOWS[i % WINDOWS.length]!;
  return {
    id: `r${i}`,
    when: {
      requestType: ['transfer'],
      wallet: [kind === 0 ? `w_other_${i}` : 'w_treasury', `w_spare_${i}`],
      asset: ['BTC'],
      initiatorGroups: ['traders', `g${i}`],
      destination: { kind: 'address_book', trust: ['medium', 'high'] },
      amount: { min: '1000', max: kind === 1 ? String(1000 + i) : '10000000000' },
      velocity: {
        scope: 'wallet',
        windowSeconds,
        maxUnits: kind === 2 ? String(200_000_000 + i) : '100000000000',
      },
    },
    action: matching
      ? { workflow: { steps: [{ group: 'operations', k: 2 }], expiresInSeconds: 86_400 } }
      : 'deny',
  };
}

function policy(size: number, matchAt: number): PolicyDocument {
  const rules = Array.from({ length: size }, (_, i) => rule(i, i === matchAt));
  return { version: 1, name: `bench-${size}`, rules };
}

const requestJson = JSON.stringify({
  id: 'req_01hzx3q9m4t7v2k8n5r6p0j1s2',
  type: 'transfer',
  initiator: 'usr_alice',
  wallet: 'w_treasury',
  chain: 'bitcoin',
  asset: 'BTC',
  amount: '150000000',
  destination: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
});
const contextJson = JSON.stringify({
  tier: 'warm',
  initiatorGroups: ['traders', 'operations-observers'],
  destination: { kind: 'address_book', entryId: 'ab_cold_b', trust: 'high', locked: false },
  fiat: '9500000',
  screening: { risk: 'low' },
  velocity: WINDOWS.map((w, i) => ({
    scope: 'wallet',
    windowSeconds: w,
    units: String(60_000_000 * (i + 1)),
    fiat: String(3_800_000 * (i + 1)),
  })),
});

export async function run(): Promise<void> {
  const request = toPolicyRequest(JSON.parse(requestJson));
  const context = toPolicyContext(JSON.parse(contextJson));
  const now = Date.parse('2025-01-15T10:20:30Z');
  const cases = [
    { label: '1,000 rules, velocity, match at #996', compiled: compilePolicy(policy(1000, 996)), n: 20_000 },
    { label: '20 rules, velocity, match at #18', compiled: compilePolicy(policy(20, 18)), n: 400_000 },
  ];
  let sink = 0;
  const parse = () =>
    void (sink += (JSON.parse(requestJson) as object) && (JSON.parse(contextJson) as object) ? 1 : 0);
  opsPerSecond(200_000, parse);
  const baselineValue = await median(5, () => opsPerSecond(200_000, parse));
  const baseline = { name: 'JSON.parse of request + context', value: baselineValue, unit: 'ops/s' };

  const figures: Figure[] = [];
  for (const { label, compiled, n } of cases) {
    const check = evaluate(compiled, request, context, now);
    if (check.decision !== 'workflow' || check.trace.length !== Number(check.ruleId!.slice(1)) + 1) {
      throw new Error(`bench policy does not behave as designed: ${check.decision} ${check.ruleId}`);
    }
    const fast = () =>
      void (sink += evaluate(compiled, request, context, now, { trace: false }).trace.length);
    const traced = () => void (sink += evaluate(compiled, request, context, now).trace.length > 0 ? 1 : 0);
    opsPerSecond(n, fast);
    opsPerSecond(n / 4, traced);
    const fastOps = await median(5, () => opsPerSecond(n, fast));
    const tracedOps = await median(5, () => opsPerSecond(n / 4, traced));
    figures.push({ name: `evaluate, ${label}, no trace`, value: fastOps, unit: 'ops/s', baseline });
    figures.push({ name: `evaluate, ${label}, with trace`, value: tracedOps, unit: 'ops/s', baseline });
    figures.push({
      name: `  trace cost per evaluation, ${label}`,
      value: 1e6 / tracedOps - 1e6 / fastOps,
      unit: 'µs',
    });
  }
  if (sink === -1) throw new Error('unreachable');
  report('policy', figures);
}
