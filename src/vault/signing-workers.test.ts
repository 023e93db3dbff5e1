import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Transaction } from 'ethers';
import { buildEthTransfer } from '../chains/evm/tx.ts';
import {
  DESTINATION,
  EVIDENCE_ASSETS,
  EVIDENCE_CHAINS,
  evidenceKit,
  type EvidenceKit,
} from '../../test/support/evidence-kit.ts';
import { checkEvidence, type EvidenceBundle } from './evidence.ts';
import { masterFromSeed } from './hd.ts';
import { signEvmTransaction } from './signers/evm-signer.ts';
import type { EvmTransferIntent } from './signers/intent.ts';
import { SigningWorkers, type CheckInput } from './signing-workers.ts';

const AT = Date.now() - 10_000;
let kit: EvidenceKit;
let threads: SigningWorkers;
const inline = new SigningWorkers({ workers: 0, assets: EVIDENCE_ASSETS });

const input = (bundle: EvidenceBundle): CheckInput => ({
  state: kit.state,
  stateDigest: kit.stateDigest,
  bundle,
  walletTier: 'warm',
  now: Date.now(),
});

async function outcome<T>(p: Promise<T>): Promise<T | { code: string; reason: unknown }> {
  try {
    return await p;
  } catch (e) {
    const err = e as { code: string; details?: { reason?: unknown } };
    return { code: err.code, reason: err.details?.reason };
  }
}

beforeAll(async () => {
  kit = evidenceKit();
  threads = new SigningWorkers({ workers: 2, chains: EVIDENCE_CHAINS, assets: EVIDENCE_ASSETS });
  threads.start();
  for (let i = 0; !threads.ready; i++) {
    if (i > 600) throw new Error('signing threads did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);
afterAll(async () => {
  await threads?.close();
  await inline.close();
});

describe('SigningWorkers: evidence checks', () => {
  it('a thread authorizes exactly what the calling thread and checkEvidence authorize', async () => {
    const bundles = await Promise.all([0, 1, 2].map((i) => kit.bundle(i, AT)));
    const onThreads = await Promise.all(bundles.map((b) => threads.check(input(b))));
    const here = await Promise.all(bundles.map((b) => inline.check(input(b))));
    const direct = await Promise.all(
      bundles.map((b) => checkEvidence(b, kit.state, Date.now(), 'warm', EVIDENCE_ASSETS)),
    );
    expect(onThreads).toEqual(here);
    expect(onThreads).toEqual(direct);
    expect(onThreads[0]!.decision).toBe('workflow');
    expect([...onThreads[0]!.approvers].sort()).toEqual(
      [kit.admins[0]!.userId, kit.admins[1]!.userId].sort(),
    );
  });

  it('refusals cross the thread boundary with their code and reason, in the order of the checks', async () => {
    const b = await kit.bundle(10, AT);
    const edited = { ...b.approvals[0]!, signedAt: new Date(AT + 2000).toISOString() };
    const cases: Array<[EvidenceBundle, string, string]> = [
      [{ ...b, approvals: [edited, b.approvals[1]!] }, 'E_EVIDENCE_INVALID', 'approval_signature'],
      [
        { ...b, request: { ...b.request, payload: { ...b.request.payload, amount: '1' } } },
        'E_EVIDENCE_INVALID',
        'payload_mismatch',
      ],
      [{ ...b, approvals: [b.approvals[0]!] }, 'E_QUORUM_INCOMPLETE', 'pending'],
      [{ ...b, policy: { ...b.policy, name: 'edited' } }, 'E_EVIDENCE_INVALID', 'policy_not_in_force'],
      // Both the initiator and an approval are bad: the initiator's refusal comes first, as checked in order.
      [
        {
          ...b,
          approvals: [edited, b.approvals[1]!],
          initiatorRequest: { ...b.initiatorRequest, body: b.initiatorRequest.body.replace('0.25', '0.26') },
        },
        'E_EVIDENCE_INVALID',
        'initiator_signature',
      ],
    ];
    for (const [bundle, code, reason] of cases) {
      const there = await outcome(threads.check(input(bundle)));
      expect(there, reason).toEqual({ code, reason });
      expect(await outcome(inline.check(input(bundle))), reason).toEqual(there);
    }
  });

  it('a policy object edited after it was first presented is checked as first presented, never as edited', async () => {
    const b = await kit.bundle(20, AT);
    const policy = structuredClone(b.policy) as {
      rules: Array<{ action: { workflow: { steps: Array<{ k: number }> } } }>;
    };
    const shared = { ...b, policy: policy as unknown as EvidenceBundle['policy'] };
    expect((await threads.check(input(shared))).decision).toBe('workflow');
    policy.rules[0]!.action.workflow.steps[0]!.k = 1;
    const one = { ...shared, approvals: [b.approvals[0]!] };
    // The threads hold the copy they were given (2 of treasury): one approval is not enough.
    expect(await outcome(threads.check(input(one)))).toEqual({
      code: 'E_QUORUM_INCOMPLETE',
      reason: 'pending',
    });
    // Presented afresh, the edited document is not the policy in force.
    expect(await outcome(inline.check(input(one)))).toEqual({
      code: 'E_EVIDENCE_INVALID',
      reason: 'policy_not_in_force',
    });
  });
});

describe('SigningWorkers: EVM signatures', () => {
  const seed = randomBytes(32);
  const secret = Uint8Array.from([1, 32, ...seed]);
  const fees = { gasLimit: 21_000n, maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
  const intent: EvmTransferIntent = {
    chain: 'ethereum',
    network: 'anvil',
    chainId: 31337n,
    asset: 'ETH',
    destination: DESTINATION,
    amount: 10n ** 17n,
    feeCap: 21_000n * 20_000_000_000n,
    addressIndex: 0,
  };
  const payload = (nonce: number) =>
    buildEthTransfer({ chainId: 31337n, nonce, to: DESTINATION, amount: 10n ** 17n, fees }).unsignedTx;

  it('signs on the threads exactly as on the calling thread and as the HDKey signer', async () => {
    const master = masterFromSeed(seed);
    try {
      const tasks = [0, 1, 2, 3].map((n) => ({ wallet: 'acme/w/1', unsignedTx: payload(n), intent }));
      const there = await Promise.all(tasks.map((t) => threads.signEvm(t, secret)));
      const here = await Promise.all(tasks.map((t) => inline.signEvm(t, secret)));
      expect(there).toEqual(here);
      tasks.forEach((t, i) => {
        const reference = signEvmTransaction({ master, unsignedTx: t.unsignedTx, intent });
        expect(there[i]!.rawTx).toBe(reference.rawTx);
        expect(there[i]!.hash).toBe(reference.hash);
        expect(Transaction.from(there[i]!.rawTx).from).toBe(reference.from);
      });
      // The caller's secret is the caller's: left as it was.
      expect([...secret.subarray(2)]).toEqual([...seed]);
    } finally {
      master.wipePrivateData();
    }
  });

  it('a payload that does not match the intent is refused on the thread with the field named', async () => {
    const r = await outcome(
      threads.signEvm(
        { wallet: 'acme/w/1', unsignedTx: payload(9), intent: { ...intent, amount: 1n } },
        secret,
      ),
    );
    expect(r).toEqual({ code: 'E_EVIDENCE_INVALID', reason: undefined });
    const e = await threads
      .signEvm({ wallet: 'acme/w/1', unsignedTx: payload(9), intent: { ...intent, amount: 1n } }, secret)
      .catch((x: unknown) => x);
    expect((e as { details: { field: string } }).details.field).toBe('amount');
  });
});
