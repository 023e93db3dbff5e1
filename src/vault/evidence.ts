/**
 * The evidence the vault checks, by itself, before it authorizes a request (DESIGN.md "Evidence bundle").
 * Nothing in the bundle is believed: the initiator's RFC 9421 signature is verified over the stored HTTP
 * request with the key the governance state holds; the request payload is re-derived from the signed body;
 * the policy must be the one in force in the verified governance state; the governance facts of the context
 * (groups, address book, wallet tier) are re-derived here; the policy is re-evaluated; every approval
 * signature is verified against a current user's active key; the workflow is re-run to 'approved'; the
 * wallet must not be frozen.
 *
 * Pure apart from signature verification: time is an input. The three signatures are verified at once (in
 * libuv's pool, or on the calling thread when it is one of the vault's signing threads) while the rest is
 * checked. The governance chain itself is verified by the caller (GovernanceHeads), which hands over the
 * verified head state. Compiled policies are kept by digest (content-addressed, never stale).
 */
import { assetInfo, DEFAULT_ASSETS, type AssetRegistry } from '../domain/assets.ts';
import { parseAmount } from '../domain/amount.ts';
import { canonicalize, digestOf, type Digest } from '../domain/canonical.ts';
import { StrongroomError, isStrongroomError, type ErrorCode } from '../domain/errors.ts';
import { PublicKeyCache, verifySignature } from '../domain/keys.ts';
import {
  addressBookDestination,
  assertNotFrozen,
  assertPolicyInForce,
  groupsOf,
  ownerOfKey,
  verifyUserSignature,
  verifyUserSignatureAsync,
  type GovernanceState,
  type GovernanceTransition,
} from '../governance/index.ts';
import {
  compilePolicy,
  evaluate,
  progressWorkflow,
  toPolicyContext,
  toPolicyRequest,
  type CompiledPolicy,
  type DestinationContext,
  type PolicyContextJsonType,
  type PolicyDocument,
  type PolicyRequest,
  type RecordedApproval,
  type TierName,
  type WorkflowProgress,
} from '../policy/index.ts';
// The verifier is pure and framework-agnostic; it lives with the API only because the API uses it first.
import { verifySignedRequest } from '../domain/http-signatures.ts';

/** The request as stored (DESIGN.md "Request digest" fields, plus its id). */
export interface EvidenceRequest {
  readonly id: string;
  readonly tenant: string;
  readonly type: 'transfer';
  readonly payload: Readonly<Record<string, unknown>>;
  readonly initiator: string;
  readonly keyId: string;
  readonly idempotencyKey: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** The initiator's signed HTTP request, exactly as received. */
export interface SignedHttpRequest {
  readonly method: string;
  readonly targetUri: string;
  readonly signatureInput: string;
  readonly signature: string;
  readonly contentDigest: string;
  readonly body: string;
}

/**
 * What was gathered before the policy ran, recorded with the request and covered by every approval
 * (`contextDigest = digestOf(context)`): the policy engine's facts and where the price and screening came from.
 */
export interface RecordedContext {
  readonly facts: PolicyContextJsonType;
  readonly sources: {
    readonly price?: { readonly asset: string; readonly fiatPerUnit: string; readonly currency: string; readonly source: string };
    readonly screening?: { readonly address: string; readonly risk: string; readonly source: string };
  };
  /** When the policy was evaluated (the request's creation time). */
  readonly evaluatedAt: string;
}

/** The canonical statement an approver signs for a request (DESIGN.md "Approval"). */
export interface TransferApprovalStatement {
  readonly kind: 'approval' | 'rejection';
  readonly requestDigest: Digest;
  readonly policyDigest: Digest;
  readonly contextDigest: Digest;
  readonly approver: string;
  readonly keyId: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly signedAt: string;
}

export interface TransferApproval extends TransferApprovalStatement {
  /** Base64 signature by `keyId` over `transferApprovalBytes(statement)`. */
  readonly signature: string;
}

export interface EvidenceBundle {
  readonly request: EvidenceRequest;
  readonly initiatorRequest: SignedHttpRequest;
  /** From the vault's recorded head state to the state in force (`head`: that state's height and digest). */
  readonly governance: {
    readonly from: GovernanceState;
    readonly transitions: readonly GovernanceTransition[];
    readonly head: { readonly height: number; readonly digest: Digest };
  };
  readonly policy: PolicyDocument;
  readonly context: RecordedContext;
  readonly approvals: readonly TransferApproval[];
}

export interface Authorization {
  readonly requestId: string;
  readonly requestDigest: Digest;
  readonly policyDigest: Digest;
  readonly policyVersion: number;
  readonly contextDigest: Digest;
  readonly governanceHeight: number;
  readonly governanceDigest: Digest;
  readonly decision: 'approve' | 'workflow';
  readonly ruleId: string | null;
  /** Users counted, per step (empty for a rule that approves outright). */
  readonly approvers: readonly string[];
}

const STATEMENT_KEYS = ['kind', 'requestDigest', 'policyDigest', 'contextDigest', 'approver', 'keyId', 'signedAt'] as const;
const TRANSFER_FIELDS = new Set(['type', 'asset', 'amount', 'from', 'to', 'note', 'maxFee', 'expiresInSeconds']);
const DEFAULT_EXPIRY_S = 24 * 3600;

/** The bytes an approver signs: the statement's seven fields in RFC 8785 form, nothing else. */
export function transferApprovalBytes(s: TransferApprovalStatement): Uint8Array {
  return new TextEncoder().encode(canonicalize({
    kind: s.kind, requestDigest: s.requestDigest, policyDigest: s.policyDigest, contextDigest: s.contextDigest,
    approver: s.approver, keyId: s.keyId, signedAt: s.signedAt,
  }));
}

/** DESIGN.md "Request digest": what approvals name. */
export function evidenceRequestDigest(r: EvidenceRequest): Digest {
  return digestOf({
    tenant: r.tenant, type: r.type, payload: r.payload, initiator: r.initiator, keyId: r.keyId,
    idempotencyKey: r.idempotencyKey, createdAt: r.createdAt, expiresAt: r.expiresAt,
  });
}

/** The request as the policy engine reads it. */
export function policyRequestOf(r: EvidenceRequest): PolicyRequest {
  const p = r.payload as Record<string, string>;
  return toPolicyRequest({ id: r.id, type: r.type, initiator: r.initiator, wallet: p.from, chain: p.chain, asset: p.asset, amount: p.amount, destination: p.to });
}

/**
 * The context facts that follow from the governance state and the vault's wallet record alone; the service
 * records them and the vault re-derives them, so an edited group, address-book entry or tier is caught.
 */
export function governanceFacts(
  state: GovernanceState,
  r: Pick<EvidenceRequest, 'initiator' | 'payload'>,
  tier: TierName | undefined,
): Pick<PolicyContextJsonType, 'initiatorGroups' | 'destination' | 'tier'> {
  const p = r.payload as Record<string, string>;
  let destination: DestinationContext = { kind: 'external' };
  for (const [entryId, e] of Object.entries(state.addressBook)) {
    if (e.chain === p.chain && e.address === p.to) destination = addressBookDestination(state, entryId)!;
  }
  return { initiatorGroups: groupsOf(state, r.initiator), destination, ...(tier ? { tier } : {}) };
}

function refuse(code: ErrorCode, reason: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown): never {
  throw new StrongroomError(code, `evidence refused: ${message}`, { details: { reason, ...extra }, ...(cause ? { cause } : {}) });
}

/** Decimals of each chain's native coin, in which a request's `maxFee` is given. */
const NATIVE_DECIMALS: Record<string, number> = { bitcoin: 8, ethereum: 18 };

/**
 * The canonical payload of a transfer (amounts in base units as decimal strings), from what its initiator
 * sent: the API stores it at submit and the vault re-derives it from the signed body, with the same code.
 * Throws a typed error (E_UNKNOWN_ASSET, E_AMOUNT_*) on bad input.
 */
export function transferPayloadOf(input: Readonly<Record<string, unknown>>, assets: AssetRegistry = DEFAULT_ASSETS): Record<string, unknown> {
  const asset = assetInfo(input.asset, assets);
  const amount = parseAmount(input.amount as string, asset.decimals);
  if (amount === 0n) {
    throw new StrongroomError('E_AMOUNT_INVALID', 'amount must be greater than zero', { details: { field: 'amount' } });
  }
  const payload: Record<string, unknown> = { asset: asset.symbol, chain: asset.chain, amount: amount.toString(), from: input.from, to: input.to };
  if (asset.contract !== undefined) payload.contract = asset.contract;
  if (input.maxFee !== undefined) {
    try {
      payload.maxFee = parseAmount(input.maxFee as string, NATIVE_DECIMALS[asset.chain]!).toString();
    } catch (e) {
      throw isStrongroomError(e) ? new StrongroomError(e.code, `maxFee: ${e.message}`, { details: { field: 'maxFee' } }) : e;
    }
  }
  if (input.note !== undefined) payload.note = input.note;
  return payload;
}

/** Re-derives the transfer payload from the body the initiator signed (as the API did at submit). */
function payloadFromSignedBody(body: string, assets: AssetRegistry): { payload: Record<string, unknown>; expiresInSeconds: number } {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(body) as Record<string, unknown>;
  } catch (cause) {
    return refuse('E_EVIDENCE_INVALID', 'body_unreadable', 'the signed body is not JSON', {}, cause);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input) || input.type !== 'transfer') {
    refuse('E_EVIDENCE_INVALID', 'not_a_transfer', 'the signed body is not a transfer');
  }
  for (const k of Object.keys(input)) if (!TRANSFER_FIELDS.has(k)) refuse('E_EVIDENCE_INVALID', 'body_field', `unknown field ${k} in the signed body`);
  const payload = transferPayloadOf(input, assets);
  const expiresInSeconds = input.expiresInSeconds === undefined ? DEFAULT_EXPIRY_S : Number(input.expiresInSeconds);
  return { payload, expiresInSeconds };
}

async function checkInitiator(state: GovernanceState, r: EvidenceRequest, http: SignedHttpRequest, assets: AssetRegistry, sync: boolean): Promise<void> {
  if (http.method !== 'POST' || !/^https?:\/\/[^/]+\/v1\/requests$/.test(http.targetUri)) {
    refuse('E_EVIDENCE_INVALID', 'initiator_target', 'the signed HTTP request is not a request submission');
  }
  const created = Date.parse(r.createdAt);
  try {
    const verified = await verifySignedRequest(
      {
        method: http.method,
        targetUri: http.targetUri,
        headers: { 'signature-input': http.signatureInput, signature: http.signature, 'content-digest': http.contentDigest },
        body: http.body,
      },
      {
        // Freshness is judged against the request itself: the signature must be from when it was submitted.
        now: Math.floor(created / 1000),
        ...(sync ? { verify: verifySignature } : {}),
        resolveKey: (keyId) => {
          if (keyId !== r.keyId || ownerOfKey(state, keyId) !== r.initiator) return undefined;
          const key = state.users[r.initiator]!.keys[keyId]!;
          if (key.status !== 'active' || state.users[r.initiator]!.status !== 'active') {
            throw new StrongroomError('E_KEY_REVOKED', 'the initiator key is not active in the governance state');
          }
          return { alg: key.alg, key: initiatorKeys.get(key.alg, key.publicKey) };
        },
      },
    );
    if (verified.keyId !== r.keyId) refuse('E_EVIDENCE_INVALID', 'initiator_key', 'the request was signed by another key');
  } catch (e) {
    if (isStrongroomError(e, 'E_EVIDENCE_INVALID')) throw e;
    refuse('E_EVIDENCE_INVALID', 'initiator_signature', 'the initiator signature does not verify', { cause: isStrongroomError(e) ? e.code : 'E_INTERNAL' }, e);
  }
  const derived = payloadFromSignedBody(http.body, assets);
  if (canonicalize(derived.payload) !== canonicalize(r.payload)) {
    refuse('E_EVIDENCE_INVALID', 'payload_mismatch', 'the stored payload is not what the initiator signed');
  }
  if (Date.parse(r.expiresAt) !== created + derived.expiresInSeconds * 1000) {
    refuse('E_EVIDENCE_INVALID', 'expiry_mismatch', 'the stored expiry is not what the initiator asked for');
  }
}

/**
 * Starts verifying every approval's signature at once (libuv's pool, off the event loop); each promise
 * resolves to the failure, or undefined. `checkApprovals` reads them in order, after each approval's own
 * field checks, so a refusal names the same approval and reason as checking one by one would.
 */
function verifyApprovalSignatures(state: GovernanceState, approvals: readonly TransferApproval[], sync: boolean): Array<Promise<unknown>> {
  if (!Array.isArray(approvals)) return [];
  return approvals.map(async (a) => {
    try {
      const claim = { userId: a.approver, keyId: a.keyId, signature: a.signature };
      if (sync) verifyUserSignature(state, claim, transferApprovalBytes(a), a.kind);
      else await verifyUserSignatureAsync(state, claim, transferApprovalBytes(a), a.kind);
      return undefined;
    } catch (e) {
      return e ?? new Error('approval verification failed');
    }
  });
}

async function checkApprovals(
  state: GovernanceState,
  approvals: readonly TransferApproval[],
  expected: Pick<TransferApprovalStatement, 'requestDigest' | 'policyDigest' | 'contextDigest'>,
  signatures: ReadonlyArray<Promise<unknown>>,
): Promise<RecordedApproval[]> {
  if (!Array.isArray(approvals)) refuse('E_EVIDENCE_INVALID', 'approvals', 'approvals must be an array');
  const out: RecordedApproval[] = [];
  for (const [i, a] of approvals.entries()) {
    const who = { approver: a?.approver, keyId: a?.keyId };
    for (const k of Object.keys(a ?? {})) {
      if (k !== 'signature' && !(STATEMENT_KEYS as readonly string[]).includes(k)) refuse('E_EVIDENCE_INVALID', 'approval_field', `unknown field ${k}`, who);
    }
    if (a.kind !== 'approval' && a.kind !== 'rejection') refuse('E_EVIDENCE_INVALID', 'approval_kind', 'kind must be approval or rejection', who);
    for (const f of ['requestDigest', 'policyDigest', 'contextDigest'] as const) {
      if (a[f] !== expected[f]) refuse('E_EVIDENCE_INVALID', 'approval_digest', `an approval names another ${f}`, { ...who, field: f });
    }
    const at = Date.parse(a.signedAt);
    if (typeof a.signedAt !== 'string' || Number.isNaN(at) || new Date(at).toISOString() !== a.signedAt) {
      refuse('E_EVIDENCE_INVALID', 'approval_time', 'signedAt must be ISO-8601 UTC with milliseconds', who);
    }
    const failure = await signatures[i];
    if (failure !== undefined) {
      refuse('E_EVIDENCE_INVALID', 'approval_signature', `an approval does not verify (${isStrongroomError(failure) ? failure.code : 'E_INTERNAL'})`, who, failure);
    }
    out.push({ userId: a.approver, keyId: a.keyId, groups: groupsOf(state, a.approver), kind: a.kind, at });
  }
  return out;
}

/** Digest and compiled form of policy documents by digest (content-addressed: never stale). */
const compiled = new Map<Digest, CompiledPolicy>();
/**
 * Policy document objects already digested. A caller that hands the same parsed document again (the
 * service keeps it) costs no canonicalization; the compiled policy is the one made when it was digested.
 */
const digested = new WeakMap<object, { digest: Digest; policy: CompiledPolicy }>();

function policyInForce(state: GovernanceState, document: PolicyDocument): { version: number; digest: Digest; policy: CompiledPolicy } {
  const seen = document !== null && typeof document === 'object' ? digested.get(document) : undefined;
  const active = state.policies.active;
  if (seen && active !== null && seen.digest === active.digest) return { version: active.version, digest: seen.digest, policy: seen.policy };
  const inForce = assertPolicyInForce(state, document);
  let policy = compiled.get(inForce.digest);
  if (!policy) {
    policy = compilePolicy(document);
    if (compiled.size > 64) compiled.clear();
    compiled.set(inForce.digest, policy);
  }
  digested.set(document, { digest: inForce.digest, policy });
  return { ...inForce, policy };
}

/** Parsed initiator keys (parsing a key costs more than verifying with it; keys are immutable). */
const initiatorKeys = new PublicKeyCache();

/**
 * Checks a bundle against the verified governance head `state`, as of `now` (ms). `walletTier` is the tier
 * of the source wallet in the vault's own records (undefined when the vault holds no such wallet).
 * Returns what was authorized; throws E_EVIDENCE_INVALID (details.reason), E_POLICY_DENIED,
 * E_QUORUM_INCOMPLETE, E_REQUEST_REJECTED, E_REQUEST_EXPIRED or E_FROZEN.
 */
export async function checkEvidence(
  bundle: Omit<EvidenceBundle, 'governance'>,
  state: GovernanceState,
  now: number,
  walletTier: TierName | undefined,
  assets: AssetRegistry = DEFAULT_ASSETS,
  options: CheckEvidenceOptions = {},
): Promise<Authorization> {
  const r = bundle?.request;
  if (!r || r.type !== 'transfer' || r.tenant !== state.tenant) refuse('E_EVIDENCE_INVALID', 'request', 'not a transfer of this tenant');
  // The three signatures are verified at once, off the event loop, while the rest is checked here; refusals
  // still come in the order of the checks (initiator first, then policy and context, then each approval).
  const sync = options.verification === 'sync';
  const initiator = checkInitiator(state, r, bundle.initiatorRequest, assets, sync);
  initiator.catch(() => undefined); // handled below, possibly after other awaits
  const signatures = verifyApprovalSignatures(state, bundle.approvals, sync);
  try {
    const authorization = await checkRest(bundle, r, state, now, walletTier, options, signatures);
    await initiator;
    return authorization;
  } catch (e) {
    await initiator;
    throw e;
  } finally {
    // Settle every verification before returning (their failures are read above or superseded).
    await Promise.all(signatures);
  }
}

export interface CheckEvidenceOptions {
  /** Digest of `state` when the caller knows it (the vault's verified head); computed otherwise. */
  readonly stateDigest?: Digest;
  /**
   * 'async' (default): signatures are verified in libuv's thread pool, off the event loop. 'sync': on the
   * calling thread, for a thread that does nothing else (the vault's signing threads).
   */
  readonly verification?: 'async' | 'sync';
}

async function checkRest(
  bundle: Omit<EvidenceBundle, 'governance'>,
  r: EvidenceRequest,
  state: GovernanceState,
  now: number,
  walletTier: TierName | undefined,
  options: CheckEvidenceOptions,
  signatures: ReadonlyArray<Promise<unknown>>,
): Promise<Authorization> {
  const requestDigest = evidenceRequestDigest(r);
  const inForce = policyInForce(state, bundle.policy);
  const policy = inForce.policy;

  const context = bundle.context;
  const derived = governanceFacts(state, r, walletTier);
  const recorded = context?.facts ?? {};
  for (const k of ['initiatorGroups', 'destination', 'tier'] as const) {
    if (canonicalize(recorded[k] ?? null) !== canonicalize(derived[k] ?? null)) {
      refuse('E_EVIDENCE_INVALID', 'context_mismatch', `the recorded ${k} is not what the governance state says`, { field: k });
    }
  }
  const contextDigest = digestOf(context);
  const evaluatedAt = Date.parse(context.evaluatedAt);
  if (evaluatedAt !== Date.parse(r.createdAt)) refuse('E_EVIDENCE_INVALID', 'context_time', 'the context was not evaluated at the request time');

  const result = evaluate(policy, policyRequestOf(r), toPolicyContext(recorded), evaluatedAt, { trace: false });
  if (result.decision === 'deny') {
    refuse('E_POLICY_DENIED', 'policy_denied', 'the policy in force denies this request', { ruleId: result.ruleId });
  }
  assertNotFrozen(state, String(r.payload.from));

  const approvals = await checkApprovals(state, bundle.approvals, { requestDigest, policyDigest: inForce.digest, contextDigest }, signatures);
  let approvers: string[] = [];
  if (result.decision === 'workflow') {
    const progress: WorkflowProgress = progressWorkflow(result.workflow!, {
      initiatorUserId: r.initiator, approvals, now, createdAt: Date.parse(r.createdAt),
    });
    const details = { state: progress.state, step: progress.step, missing: progress.missing, explanation: progress.explanation };
    if (progress.state === 'rejected') refuse('E_REQUEST_REJECTED', 'rejected', `rejected by ${progress.rejectedBy}`, details);
    if (progress.state === 'expired') refuse('E_REQUEST_EXPIRED', 'expired', 'the request expired before its quorum was complete', details);
    if (progress.state !== 'approved') refuse('E_QUORUM_INCOMPLETE', progress.state, progress.explanation.join('; '), details);
    approvers = progress.satisfied.flatMap((s) => s.approvers);
  } else if (now > Date.parse(r.expiresAt)) {
    refuse('E_REQUEST_EXPIRED', 'expired', 'the request has expired');
  }
  return {
    requestId: r.id, requestDigest, policyDigest: inForce.digest, policyVersion: inForce.version, contextDigest,
    governanceHeight: state.height, governanceDigest: options.stateDigest ?? digestOf(state), decision: result.decision, ruleId: result.ruleId, approvers,
  };
}
