/**
 * Test kit for the governance core: users with real keys, a signed genesis, and a `Ledger` that builds
 * signed requests and approvals, applies them and keeps the transitions (the chain) as it goes.
 */
import type { KeyAlgorithm } from '../../src/domain/keys.ts';
import {
  applyGovernanceRequest,
  createGenesis,
  createGovernanceRequest,
  requestDigest,
  signApproval,
  signGenesis,
  signGovernanceRequest,
  stateDigest,
  type GenesisSignature,
  type GovernanceApproval,
  type GovernanceState,
  type GovernanceTransition,
  type PayloadOf,
  type RequestKind,
  type SignedGovernanceRequest,
  type StatementSigner,
} from '../../src/governance/index.ts';
import { generateRequestSigner, type RequestSigner } from '../../src/sdk/signer.ts';

export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();

/** The SDK signer's `sign` is synchronous for in-memory keys; governance's helpers take a synchronous signer. */
export const sync = (s: RequestSigner): StatementSigner => ({
  keyId: s.keyId,
  sign: (b) => s.sign(b) as Uint8Array,
});

export interface TestUser {
  readonly userId: string;
  readonly signers: RequestSigner[];
  readonly signer: RequestSigner;
}

export function testUser(userId: string, algs: KeyAlgorithm[] = ['ed25519']): TestUser {
  const signers = algs.map((a) => generateRequestSigner(a));
  return { userId, signers, signer: signers[0]! };
}

export const keysOf = (u: TestUser) => u.signers.map((s) => ({ alg: s.alg, publicKey: s.publicKeySpki }));

export interface GenesisFixture {
  genesis: GovernanceState;
  signatures: GenesisSignature[];
  admins: TestUser[];
}

/** `n` admins (a0, a1, …), governance k of `admins`, freeze group `admins`. */
export function genesisFixture(n = 3, k = 2, tenant = 'acme'): GenesisFixture {
  const admins = Array.from({ length: n }, (_, i) => testUser(`a${i}`));
  const genesis = createGenesis({
    tenant,
    admins: admins.map((a) => ({ userId: a.userId, name: `Admin ${a.userId}`, keys: keysOf(a) })),
    governance: { group: 'admins', k },
    freezeGroup: 'admins',
    createdAt: iso(T0),
  });
  const signatures = admins.map((a) => signGenesis(genesis, a.userId, sync(a.signer)));
  return { genesis, signatures, admins };
}

export interface RequestOptions {
  createdAt?: number;
  expiresAt?: number;
  signer?: RequestSigner;
}

export function makeRequest<K extends RequestKind>(
  state: GovernanceState,
  kind: K,
  payload: PayloadOf<K>,
  initiator: TestUser,
  o: RequestOptions = {},
): SignedGovernanceRequest<K> {
  const createdAt = o.createdAt ?? T0 + 60_000 * (state.height + 1);
  const signer = o.signer ?? initiator.signer;
  const request = createGovernanceRequest({
    tenant: state.tenant,
    kind,
    payload,
    baseState: stateDigest(state),
    initiator: initiator.userId,
    keyId: signer.keyId,
    createdAt: iso(createdAt),
    expiresAt: iso(o.expiresAt ?? createdAt + 86_400_000),
  });
  return signGovernanceRequest(request, sync(signer));
}

export function approve(
  signed: SignedGovernanceRequest,
  by: TestUser,
  o: { kind?: 'approval' | 'rejection'; at?: number; signer?: RequestSigner } = {},
): GovernanceApproval {
  const signer = o.signer ?? by.signer;
  return signApproval(
    {
      kind: o.kind ?? 'approval',
      requestDigest: requestDigest(signed.request),
      stateDigest: signed.request.baseState,
      approver: by.userId,
      keyId: signer.keyId,
      signedAt: iso(o.at ?? Date.parse(signed.request.createdAt) + 1000),
    },
    sync(signer),
  );
}

/** A governance history under construction: apply requests, keep the transitions. */
export class Ledger {
  state: GovernanceState;
  readonly transitions: GovernanceTransition[] = [];
  readonly states: GovernanceState[];

  constructor(readonly fixture: GenesisFixture) {
    this.state = fixture.genesis;
    this.states = [fixture.genesis];
  }

  /** Builds, approves (by `approvers`) and applies a request; returns the new state. */
  apply<K extends RequestKind>(
    kind: K,
    payload: PayloadOf<K>,
    initiator: TestUser,
    approvers: TestUser[],
  ): GovernanceState {
    const signed = makeRequest(this.state, kind, payload, initiator);
    const approvals = approvers.map((a) => approve(signed, a));
    const next = applyGovernanceRequest(this.state, signed, approvals, {
      now: Date.parse(signed.request.createdAt) + 5000,
    });
    this.transitions.push({ ...signed, approvals });
    this.states.push(next);
    this.state = next;
    return next;
  }
}
