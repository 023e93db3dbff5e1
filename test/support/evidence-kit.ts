/**
 * A governed tenant and approved transfer requests with real signatures, built in memory (no store): a
 * 2-of-3 admin genesis, a trader (tina) added by governance, a treasury group of the three admins, a
 * 2-of-treasury policy for ETH; each bundle carries the trader's RFC 9421 signed submission and two
 * treasury approvals. For unit tests of the vault's evidence check and signing threads.
 */
import { signRequest } from '../../src/domain/http-signatures.ts';
import { digestOf } from '../../src/domain/canonical.ts';
import { stateDigest, type GovernanceState } from '../../src/governance/index.ts';
import { policyDigest, type PolicyDocument } from '../../src/policy/index.ts';
import {
  evidenceRequestDigest,
  governanceFacts,
  transferApprovalBytes,
  transferPayloadOf,
  type EvidenceBundle,
  type EvidenceRequest,
  type RecordedContext,
  type TransferApproval,
} from '../../src/vault/evidence.ts';
import { vaultAssets, type VaultChainsConfig } from '../../src/vault/intents.ts';
import { genesisFixture, keysOf, Ledger, testUser, type TestUser } from './governance-kit.ts';

export const EVIDENCE_CHAINS: VaultChainsConfig = {
  ethereum: { network: 'anvil', chainId: '31337', maxFee: '10000000000000000' },
  tokens: [],
};
export const EVIDENCE_ASSETS = vaultAssets(EVIDENCE_CHAINS);
export const DESTINATION = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

export const ETH_POLICY: PolicyDocument = {
  version: 1,
  name: 'withdrawals',
  rules: [
    {
      id: 'two-of-treasury',
      when: { requestType: ['transfer'], asset: ['ETH'] },
      action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } },
    },
  ],
  tests: [],
};

export interface EvidenceKit {
  ledger: Ledger;
  state: GovernanceState;
  stateDigest: ReturnType<typeof stateDigest>;
  admins: TestUser[];
  tina: TestUser;
  /** An approved transfer's bundle, created at `at` (ms) and approved by the first two admins. */
  bundle(i: number, at: number, body?: Record<string, unknown>): Promise<EvidenceBundle>;
}

export function evidenceKit(tenant = 'acme'): EvidenceKit {
  const fixture = genesisFixture(3, 2, tenant);
  const ledger = new Ledger(fixture);
  const admins = fixture.admins;
  const tina = testUser('usr_tina');
  ledger.apply(
    'add_user',
    { userId: tina.userId, name: 'tina', kind: 'person', keys: keysOf(tina) },
    admins[0]!,
    [admins[0]!, admins[1]!],
  );
  ledger.apply(
    'set_group_members',
    { group: 'treasury', members: admins.map((a) => a.userId).sort() },
    admins[0]!,
    [admins[0]!, admins[1]!],
  );
  ledger.apply(
    'publish_policy',
    { version: 1, digest: policyDigest(ETH_POLICY), document: ETH_POLICY },
    admins[0]!,
    [admins[0]!, admins[1]!],
  );
  const state = ledger.state;

  async function bundle(i: number, at: number, body: Record<string, unknown> = {}): Promise<EvidenceBundle> {
    const input = {
      type: 'transfer',
      from: 'wal_treasury',
      asset: 'ETH',
      amount: '0.25',
      to: DESTINATION,
      ...body,
    };
    const text = JSON.stringify(input);
    const targetUri = 'https://strongroom.example/v1/requests';
    const headers = await signRequest({
      method: 'POST',
      targetUri,
      body: text,
      signer: tina.signer,
      created: Math.floor(at / 1000),
    });
    const createdAt = new Date(at).toISOString();
    const request: EvidenceRequest = {
      id: `req_${i}`,
      tenant,
      type: 'transfer',
      payload: transferPayloadOf(input, EVIDENCE_ASSETS),
      initiator: tina.userId,
      keyId: tina.signer.keyId,
      idempotencyKey: `idem-${i}-abcdef`,
      createdAt,
      expiresAt: new Date(at + 86_400_000).toISOString(),
    };
    const context: RecordedContext = {
      facts: governanceFacts(state, request, 'warm'),
      sources: {},
      evaluatedAt: createdAt,
    };
    const approvals: TransferApproval[] = admins.slice(0, 2).map((a) => {
      const statement = {
        kind: 'approval' as const,
        requestDigest: evidenceRequestDigest(request),
        policyDigest: policyDigest(ETH_POLICY),
        contextDigest: digestOf(context),
        approver: a.userId,
        keyId: a.signer.keyId,
        signedAt: new Date(at + 1000).toISOString(),
      };
      return {
        ...statement,
        signature: Buffer.from(a.signer.sign(transferApprovalBytes(statement)) as Uint8Array).toString(
          'base64',
        ),
      };
    });
    return {
      request,
      initiatorRequest: {
        method: 'POST',
        targetUri,
        signatureInput: headers['signature-input'],
        signature: headers.signature,
        contentDigest: headers['content-digest'],
        body: text,
      },
      governance: {
        from: state,
        transitions: [],
        head: { height: state.height, digest: stateDigest(state) },
      },
      policy: ETH_POLICY,
      context,
      approvals,
    };
  }

  return { ledger, state, stateDigest: stateDigest(state), admins, tina, bundle };
}
