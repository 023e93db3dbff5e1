/**
 * Strict JSON parsing of a typical ~1 KB request body, against JSON.parse on the same text (target: within
 * 3x of JSON.parse).
 */
import { opsPerSecond, report } from './harness.ts';
import { parseStrictJson } from '../src/api/strict-json.ts';

// Shaped like a transfer request: nested objects, decimal-string amounts, a few escapes and numbers.
const body = JSON.stringify({
  type: 'transfer',
  idempotencyKey: '6f1c2b4e-2d3a-4c5b-9e8f-0a1b2c3d4e5f',
  payload: {
    wallet: 'w_01HZX3Q9M4T7V2K8N5R6P0J1S2',
    account: 'a_01HZX3QB7YF2C9D4E6G8H0J2K4',
    chain: 'bitcoin:mainnet',
    asset: 'BTC',
    amount: '150000000',
    destination: { address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', label: 'Cold storage "B"\n' },
    fee: { strategy: 'economy', maxFeeRate: 25, replaceable: true },
    memo: 'Quarterly rebalance — treasury → cold',
  },
  metadata: {
    ticket: 'OPS-4821',
    tags: ['rebalance', 'treasury', 'q3'],
    requestedBy: 'u_alice',
    priority: 2,
  },
  approvalsHint: [
    { group: 'operations', quorum: 2, excludeInitiator: true },
    { group: 'compliance', quorum: 1, excludeInitiator: true },
  ],
  createdAt: '2025-01-15T10:20:30.000Z',
  expiresAt: '2025-01-16T10:20:30.000Z',
  limits: { perDay: '500000000', perTx: '200000000', ratio: 0.125, window: 86400 },
  extra: 'x'.repeat(180),
});

export async function run(): Promise<void> {
  const n = 100_000;
  let sink = 0;
  // Warm both up so neither pays JIT costs inside the measurement.
  opsPerSecond(n, () => void (sink += JSON.parse(body) === null ? 1 : 0));
  opsPerSecond(n, () => void (sink += parseStrictJson(body) === null ? 1 : 0));
  // Alternate round by round so load from other processes hits both alike.
  const strict: number[] = [];
  const native: number[] = [];
  for (let round = 0; round < 5; round++) {
    strict.push(opsPerSecond(n, () => void (sink += parseStrictJson(body) === null ? 1 : 0)));
    native.push(opsPerSecond(n, () => void (sink += JSON.parse(body) === null ? 1 : 0)));
  }
  if (sink !== 0) throw new Error('unreachable');
  report('strict-json', [
    {
      name: `parseStrictJson, ${body.length}-byte body`,
      value: middle(strict),
      unit: 'parses/s',
      baseline: { name: 'JSON.parse', value: middle(native), unit: 'parses/s' },
    },
  ]);
}

function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
