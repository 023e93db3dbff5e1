/**
 * Transfer requests under the policy in force: evaluation right after submit (context recorded; approve,
 * deny or workflow), approvals signed by approvers over (request, policy, context), progress of the workflow
 * (quorum, rejection, expiry, time-lock with veto), and authorization by the vault from the stored evidence.
 *
 * `governanceServices` is what the composition root spreads in: these services plus the requests and
 * directory services wrapped so that submits are evaluated and, once a genesis exists, directory writes go
 * through governance.
 */
import { digestOf, type Digest } from '../domain/canonical.ts';
import type { AssetRegistry } from '../domain/assets.ts';
import type { ChainsConfig } from './chains-config.ts';
import { createDestinationCheck } from './destination-check.ts';
import { StrongroomError } from '../domain/errors.ts';
import { verifyCurrentSigner, type GovernanceState } from '../governance/index.ts';
import {
  compilePolicy,
  evaluate,
  progressWorkflow,
  simulate,
  toPolicyContext,
  validatePolicy,
  runPolicyTests,
  type CompiledPolicy,
  type PastRequest,
  type PolicyDocument,
  type RecordedApproval,
  type TierName,
  type WorkflowProgress,
  type WorkflowSpec,
} from '../policy/index.ts';
import { requestsRepository, type Queryable } from '../store/index.ts';
import { evidenceRepository } from '../store/repositories/evidence-repository.ts';
import { governanceRepository, type RequestDecisionRow } from '../store/repositories/governance-repository.ts';
import type { RequestRow } from '../store/repositories/requests-repository.ts';
import {
  policyRequestOf,
  transferApprovalBytes,
  type Authorization,
  type EvidenceBundle,
  type EvidenceRequest,
  type RecordedContext,
  type SignedHttpRequest,
  type TransferApproval,
} from '../vault/evidence.ts';
import type { Vault } from '../vault/vault.ts';
import type { AuditedWriter } from './audited-writer.ts';
import { createContextService, type ContextService } from './context-service.ts';
import { createDirectoryService } from './directory-service.ts';
import { chainFrom, createGovernanceService, createHeadCache, loadHead, type GovernanceService, type HeadCache } from './governance-service.ts';
import type { Principal, Reply } from './principal.ts';
import { createRequestsService } from './requests-service.ts';
import { readBatcher } from './read-batcher.ts';
import { signedWrite } from './signed-change.ts';

export interface ApprovalStatusView {
  requestId: string;
  status: string;
  decision: string;
  ruleId: string | null;
  /** What an approver signs, minus kind, approver, keyId and signedAt. */
  requestDigest: Digest;
  policyDigest: Digest;
  policyVersion: number;
  contextDigest: Digest;
  context: RecordedContext;
  workflow: WorkflowSpec | null;
  progress: WorkflowProgress | null;
  approvals: TransferApproval[];
}

const STATUS_OF: Record<WorkflowProgress['state'], string> = {
  pending: 'pending_approval', time_locked: 'time_locked', approved: 'approved', rejected: 'rejected', expired: 'expired',
};
/** Approvers' clocks may lead or lag the server's by this much; a statement dated further off is refused. */
const SIGNED_AT_TOLERANCE_MS = 5 * 60_000;

export function evidenceRequestOf(row: RequestRow): EvidenceRequest {
  return {
    id: row.id, tenant: row.tenant_id, type: 'transfer', payload: JSON.parse(row.payload) as Record<string, unknown>, initiator: row.initiator_user_id,
    keyId: row.key_id, idempotencyKey: row.idempotency_key, createdAt: row.created_at, expiresAt: row.expires_at ?? row.created_at,
  };
}

export function createApprovalsService(deps: {
  writer: AuditedWriter;
  db: Queryable;
  now: () => Date;
  vault: Vault;
  context: ContextService;
  heads?: HeadCache;
}) {
  const { writer, db, now, vault, context } = deps;
  const compiled = new Map<string, CompiledPolicy>();

  async function policyDoc(q: Queryable, tenant: string, digest: string): Promise<{ doc: PolicyDocument; policy: CompiledPolicy }> {
    const text = await governanceRepository.getPolicy(q, tenant, digest);
    if (text === undefined) throw new StrongroomError('E_NOT_FOUND', 'the policy document is not stored', { details: { digest } });
    const doc = validatePolicy(JSON.parse(text));
    let policy = compiled.get(digest);
    if (!policy || policy.digest !== digest) {
      policy = compilePolicy(doc);
      compiled.set(digest, policy);
    }
    return { doc, policy };
  }

  async function walletTier(tenant: string, walletId: string): Promise<TierName | undefined> {
    return vault.wallet(tenant, walletId).then((w) => w.tier, () => undefined);
  }

  function progressOf(state: GovernanceState, d: RequestDecisionRow, r: EvidenceRequest, approvals: TransferApproval[], at: number): WorkflowProgress | null {
    if (d.workflow === null) return null;
    const recorded: RecordedApproval[] = approvals.flatMap((a) => {
      const user = state.users[a.approver];
      if (!user || user.status !== 'active' || user.keys[a.keyId]?.status !== 'active') return [];
      const groups = Object.keys(state.groups).filter((g) => state.groups[g]!.includes(a.approver)).sort();
      return [{ userId: a.approver, keyId: a.keyId, groups, kind: a.kind, at: Date.parse(a.signedAt) }];
    });
    return progressWorkflow(JSON.parse(d.workflow) as WorkflowSpec, { initiatorUserId: r.initiator, approvals: recorded, now: at, createdAt: Date.parse(r.createdAt) });
  }

  async function load(q: Queryable, tenant: string, id: string) {
    const row = await requestsRepository.get(q, tenant, id);
    if (!row) throw new StrongroomError('E_NOT_FOUND', 'request not found');
    const decision = await governanceRepository.getDecision(q, id);
    const approvals = (await governanceRepository.requestApprovals(q, id)).map((a) => JSON.parse(a) as TransferApproval);
    return { row, decision, approvals, request: evidenceRequestOf(row) };
  }

  async function statusView(q: Queryable, tenant: string, id: string, at: number): Promise<ApprovalStatusView> {
    const { row, decision, approvals, request } = await load(q, tenant, id);
    if (!decision) throw new StrongroomError('E_REQUEST_STATE', 'this request was not evaluated under a policy', { details: { status: row.status } });
    const head = await loadHead(q, tenant);
    return {
      requestId: id, status: row.status, decision: decision.decision, ruleId: decision.rule_id,
      requestDigest: digestOfRequest(request), policyDigest: decision.policy_digest as Digest, policyVersion: Number(decision.policy_version),
      contextDigest: decision.context_digest as Digest, context: JSON.parse(decision.context) as RecordedContext,
      workflow: decision.workflow ? (JSON.parse(decision.workflow) as WorkflowSpec) : null,
      progress: head ? progressOf(head.state, decision, request, approvals, at) : null,
      approvals,
    };
  }

  // ---- evidence bundles, read in batches (the signing path asks for one per request it signs) ----

  /**
   * Parsed governance states and policy documents, kept with the exact text they were parsed from and
   * reused only while the stored text is the same: a bundle then carries the same objects as the previous
   * one, which the vault recognizes without digesting them again. A row edited in the database has another
   * text, is parsed anew, and the vault checks what it says (and refuses it).
   */
  const parsedStates = new Map<string, { text: string; digest: string; height: number; chain: EvidenceBundle['governance'] }>();
  const parsedPolicies = new Map<string, { text: string; doc: PolicyDocument }>();

  async function governanceChainFor(tenant: string): Promise<EvidenceBundle['governance']> {
    const vh = await vault.governanceHead(tenant);
    const latest = await governanceRepository.latestState(db, tenant);
    if (!latest) throw new StrongroomError('E_NOT_INITIALIZED', 'no governance genesis');
    const height = Number(latest.height);
    // If the database no longer holds the vault's head (rolled back), send what it has: the vault refuses.
    if (vh && height > vh.height) {
      const chain = await chainFrom(db, tenant, vh.height);
      if (!chain) throw new StrongroomError('E_NOT_INITIALIZED', 'no governance genesis');
      return chain;
    }
    const known = parsedStates.get(tenant);
    if (known && known.text === latest.state && known.digest === latest.digest && known.height === height) return known.chain;
    const chain = { from: JSON.parse(latest.state) as GovernanceState, transitions: [], head: { height, digest: latest.digest as Digest } };
    parsedStates.set(tenant, { text: latest.state, digest: latest.digest, height, chain });
    return chain;
  }

  async function policyFor(tenant: string, digest: string): Promise<PolicyDocument> {
    const text = await governanceRepository.getPolicy(db, tenant, digest);
    if (text === undefined) return null as unknown as PolicyDocument; // the vault refuses a bundle without one
    const key = `${tenant} ${digest}`;
    const known = parsedPolicies.get(key);
    if (known && known.text === text) return known.doc;
    const doc = JSON.parse(text) as PolicyDocument;
    if (parsedPolicies.size >= 256) parsedPolicies.clear();
    parsedPolicies.set(key, { text, doc });
    return doc;
  }

  /** Bundles of one batch: three queries for the requests, one per tenant for the chain, one per policy. */
  async function evidenceOf(keys: Array<{ tenant: string; id: string }>): Promise<Array<EvidenceBundle | Error>> {
    const out = new Array<EvidenceBundle | Error>(keys.length);
    const tenants = new Map<string, number[]>();
    keys.forEach((k, i) => {
      const list = tenants.get(k.tenant);
      if (list) list.push(i);
      else tenants.set(k.tenant, [i]);
    });
    for (const [tenant, indices] of tenants) {
      const ids = indices.map((i) => keys[i]!.id);
      const rows = await evidenceRepository.requests(db, tenant, ids);
      const decisions = await evidenceRepository.decisions(db, ids);
      const approvals = await evidenceRepository.approvals(db, ids);
      let governance: EvidenceBundle['governance'] | Error;
      try {
        governance = await governanceChainFor(tenant);
      } catch (e) {
        governance = e instanceof Error ? e : new Error(String(e));
      }
      const policies = new Map<string, PolicyDocument>();
      for (const i of indices) {
        const id = keys[i]!.id;
        const row = rows.get(id);
        const decision = decisions.get(id);
        if (!row) {
          out[i] = new StrongroomError('E_NOT_FOUND', 'request not found');
          continue;
        }
        if (!decision) {
          out[i] = new StrongroomError('E_REQUEST_STATE', 'this request was not evaluated under a policy');
          continue;
        }
        if (governance instanceof Error) {
          out[i] = governance;
          continue;
        }
        let policy = policies.get(decision.policy_digest);
        if (policy === undefined) policies.set(decision.policy_digest, (policy = await policyFor(tenant, decision.policy_digest)));
        out[i] = {
          request: evidenceRequestOf(row),
          initiatorRequest: JSON.parse(row.evidence) as SignedHttpRequest,
          governance,
          policy,
          context: JSON.parse(decision.context) as RecordedContext,
          approvals: (approvals.get(id) ?? []).map((a) => JSON.parse(a) as TransferApproval),
        };
      }
    }
    return out;
  }
  const bundles = readBatcher(evidenceOf);

  return {
    /**
     * Evaluates a submitted transfer under the policy in force (nothing happens before a policy is
     * published). Deny: stored as rejected, then E_POLICY_DENIED. Returns the new status, or undefined.
     */
    async evaluate(tenant: string, id: string, actor: string): Promise<string | undefined> {
      const head = deps.heads ? await deps.heads.get(tenant) : await loadHead(db, tenant);
      const active = head?.state.policies.active;
      if (!head || !active) return undefined;
      const existing = await governanceRepository.getDecision(db, id);
      // Read before the transaction: on SQLite the vault's storage shares the one connection.
      const submitted = existing ? undefined : await requestsRepository.get(db, tenant, id);
      const tier = submitted ? await walletTier(tenant, String((JSON.parse(submitted.payload) as { from?: string }).from)) : undefined;
      const outcome = existing
        ? { status: (await requestsRepository.get(db, tenant, id))!.status, decision: existing.decision, ruleId: existing.rule_id, trace: JSON.parse(existing.trace) as unknown }
        : await writer.write({
            tenant,
            actor,
            action: 'request.evaluate',
            requestDigest: null,
            run: async (trx) => {
              const row = await requestsRepository.get(trx, tenant, id);
              if (!row) throw new StrongroomError('E_NOT_FOUND', 'request not found');
              if (row.status !== 'submitted') throw new StrongroomError('E_REQUEST_STATE', `the request is ${row.status}`);
              const r = evidenceRequestOf(row);
              const { policy } = await policyDoc(trx, tenant, active.digest);
              const recorded = await context.record(trx, r, head.state, policy, tier);
              const result = evaluate(policy, policyRequestOf(r), toPolicyContext(recorded.facts), Date.parse(r.createdAt));
              const status = result.decision === 'deny' ? 'rejected' : result.decision === 'approve' ? 'approved' : 'pending_approval';
              const contextDigest = digestOf(recorded);
              await governanceRepository.insertDecision(trx, {
                request_id: id, tenant_id: tenant, policy_digest: active.digest, policy_version: active.version, context: JSON.stringify(recorded),
                context_digest: contextDigest, decision: result.decision, rule_id: result.ruleId, workflow: result.workflow ? JSON.stringify(result.workflow) : null,
                trace: JSON.stringify(result.trace), evaluated_at: r.createdAt,
              });
              await governanceRepository.setRequestStatusOf(trx, tenant, id, status);
              const value = { status, decision: result.decision, ruleId: result.ruleId, trace: result.trace as unknown };
              return { value, payloadDigest: digestOf({ id, status, policy: active.digest, context: contextDigest }), events: [{ topic: `request.${status}`, payload: { id } }] };
            },
          });
      if (outcome.decision === 'deny') {
        throw new StrongroomError('E_POLICY_DENIED', 'the policy in force denies this request; it was recorded as rejected', {
          details: { requestId: id, ruleId: outcome.ruleId, trace: outcome.trace },
        });
      }
      return outcome.status;
    },

    status: (p: Principal, id: string) => statusView(db, p.tenant, id, now().getTime()),

    /** An approval or rejection (veto) signed by the approver over (request, policy, context). */
    approve(p: Principal, id: string, approval: TransferApproval): Promise<Reply<ApprovalStatusView>> {
      return signedWrite<ApprovalStatusView>(
        writer,
        {
          principal: p,
          action: approval?.kind === 'rejection' ? 'request.reject' : 'request.approve',
          requestDigest: digestOf(approval ?? null),
          run: async (trx, at) => {
            if (approval?.approver !== p.userId) throw new StrongroomError('E_FORBIDDEN', 'an approval is submitted by its own approver');
            const { row, decision, request } = await load(trx, p.tenant, id);
            if (!decision || (row.status !== 'pending_approval' && row.status !== 'time_locked')) {
              throw new StrongroomError('E_REQUEST_STATE', `the request is ${row.status}; nothing to approve`, { details: { status: row.status } });
            }
            const expected = { requestDigest: digestOfRequest(request), policyDigest: decision.policy_digest, contextDigest: decision.context_digest };
            for (const [f, v] of Object.entries(expected)) {
              if ((approval as unknown as Record<string, unknown>)[f] !== v) {
                throw new StrongroomError('E_DIGEST_MISMATCH', `the approval names another ${f}`, { details: { field: f, expected: v } });
              }
            }
            if (approval.kind !== 'approval' && approval.kind !== 'rejection') throw new StrongroomError('E_VALIDATION', 'kind must be approval or rejection', { details: { field: 'kind' } });
            const signedAt = Date.parse(approval.signedAt);
            if (Number.isNaN(signedAt) || new Date(signedAt).toISOString() !== approval.signedAt || Math.abs(signedAt - at.getTime()) > SIGNED_AT_TOLERANCE_MS) {
              throw new StrongroomError('E_VALIDATION', 'signedAt must be ISO-8601 UTC with milliseconds, within 5 minutes of now', { details: { field: 'signedAt' } });
            }
            const head = await loadHead(trx, p.tenant);
            if (!head) throw new StrongroomError('E_NOT_INITIALIZED', 'no governance genesis');
            verifyCurrentSigner(head.state, { userId: approval.approver, keyId: approval.keyId, signature: approval.signature }, transferApprovalBytes(approval), approval.kind);
            const clean: TransferApproval = {
              kind: approval.kind, requestDigest: approval.requestDigest, policyDigest: approval.policyDigest, contextDigest: approval.contextDigest,
              approver: approval.approver, keyId: approval.keyId, signedAt: approval.signedAt, signature: approval.signature,
            };
            if (!(await governanceRepository.insertRequestApproval(trx, { request_id: id, tenant_id: p.tenant, approver: clean.approver, key_id: clean.keyId, approval: JSON.stringify(clean) }))) {
              throw new StrongroomError('E_CONFLICT', 'this key already signed this request');
            }
            const approvals = (await governanceRepository.requestApprovals(trx, id)).map((a) => JSON.parse(a) as TransferApproval);
            const progress = progressOf(head.state, decision, request, approvals, at.getTime())!;
            const status = STATUS_OF[progress.state];
            if (status !== row.status) await governanceRepository.setRequestStatusOf(trx, p.tenant, id, status);
            const view = await statusView(trx, p.tenant, id, at.getTime());
            return { value: { status: 200, body: view }, payloadDigest: digestOf(clean), events: [{ topic: `request.${status}`, payload: { id } }] };
          },
        },
        now,
      );
    },

    /** Moves a request whose workflow expired or whose time-lock passed to its end state. */
    async refresh(p: Principal, id: string): Promise<ApprovalStatusView> {
      const view = await statusView(db, p.tenant, id, now().getTime());
      const target = view.progress ? STATUS_OF[view.progress.state] : view.status;
      if (target === view.status || !['pending_approval', 'time_locked'].includes(view.status)) return view;
      await writer.write({
        tenant: p.tenant,
        actor: p.keyId,
        action: `request.${target}`,
        requestDigest: view.requestDigest,
        run: async (trx) => {
          await governanceRepository.setRequestStatusOf(trx, p.tenant, id, target);
          return { value: undefined, payloadDigest: digestOf({ id, status: target }) };
        },
      });
      return { ...view, status: target };
    },

    /** Hands the stored evidence to the vault, which decides by itself (and audits either way). */
    async authorize(p: Principal, id: string): Promise<Authorization> {
      return vault.authorize(p.tenant, await this.evidence(p, id));
    },

    /**
     * The evidence bundle for a request, from storage, with the governance chain from the vault's head.
     * Requests asked for together are read together (see `evidenceOf`).
     */
    async evidence(p: Principal, id: string): Promise<EvidenceBundle & { actor: string }> {
      return { actor: p.keyId, ...(await bundles.load({ tenant: p.tenant, id })) };
    },

    /** Runs a draft policy's own tests. */
    test(document: unknown) {
      const doc = validatePolicy(document);
      return runPolicyTests(doc);
    },

    /** Dry-runs a draft against the last `last` evaluated requests; lists every outcome that would change. */
    async simulate(p: Principal, document: unknown, last = 100) {
      const draft = compilePolicy(validatePolicy(document));
      const head = await loadHead(db, p.tenant);
      const active = head?.state.policies.active;
      const current = active ? (await policyDoc(db, p.tenant, active.digest)).policy : compilePolicy({ version: 1, name: 'empty', rules: [] });
      const rows = await governanceRepository.recentRequests(db, p.tenant, ['approved', 'pending_approval', 'time_locked', 'rejected', 'expired'], '0000', Math.min(last, 10_000));
      const past: PastRequest[] = rows
        .filter((r) => r.context !== null)
        .map((r) => {
          const full = (r as unknown as RequestRow);
          const req = evidenceRequestOf({ ...full, id: r.id, tenant_id: p.tenant, initiator_user_id: r.initiator_user_id, payload: r.payload, type: 'transfer', key_id: '', idempotency_key: '', digest: '', evidence: '', status: r.status, created_at: r.created_at, expires_at: null });
          return { requestId: r.id, request: policyRequestOf(req), context: toPolicyContext((JSON.parse(r.context!) as RecordedContext).facts), at: Date.parse(r.created_at) };
        });
      return { replayed: past.length, changed: simulate(draft, current, past) };
    },
  };
}

function digestOfRequest(r: EvidenceRequest): Digest {
  return digestOf({
    tenant: r.tenant, type: r.type, payload: r.payload, initiator: r.initiator, keyId: r.keyId,
    idempotencyKey: r.idempotencyKey, createdAt: r.createdAt, expiresAt: r.expiresAt,
  });
}

export type ApprovalsService = ReturnType<typeof createApprovalsService>;

type RequestsService = ReturnType<typeof createRequestsService>;
type DirectoryService = ReturnType<typeof createDirectoryService>;
/**
 * `requests` and `directory` replace the plain ones the composition root lists before this spread (typed
 * optional only so the object literal may override them; they are always present).
 */
export interface GovernanceServices {
  governance: GovernanceService;
  approvals: ApprovalsService;
  context: ContextService;
  requests: RequestsService;
  directory: DirectoryService;
}

/**
 * What the composition root spreads into its services: governance, approvals and context, plus `requests`
 * (submits evaluated under the policy in force) and `directory` (writes refused once a genesis exists).
 */
export function governanceServices(deps: { writer: AuditedWriter; db: Queryable; now: () => Date; vault: Vault; assets?: AssetRegistry; chains?: ChainsConfig }): GovernanceServices {
  const context = createContextService();
  const heads = createHeadCache(deps.db, deps.now);
  const governance: GovernanceService = createGovernanceService({ ...deps, heads });
  const approvals = createApprovalsService({ ...deps, context, heads });
  const checkDestination = createDestinationCheck({ chains: deps.chains, state: async (t) => (await heads.get(t))?.state });
  const requests = createRequestsService({ ...deps, checkDestination });
  const directory = createDirectoryService(deps);
  const guarded = <A extends unknown[], R>(fn: (p: Principal, ...a: A) => Promise<R>) =>
    async (p: Principal, ...a: A): Promise<R> => {
      if (await governance.hasGenesis(p.tenant)) {
        throw new StrongroomError('E_FORBIDDEN', 'after the genesis, users, keys and groups change only through governance requests', {
          hints: ['propose a governance request (strongroom governance propose) for the quorum to approve'],
        });
      }
      return fn(p, ...a);
    };
  return {
    governance,
    approvals,
    context,
    requests: {
      ...requests,
      async create(...args: Parameters<typeof requests.create>): ReturnType<typeof requests.create> {
        const reply = await requests.create(...args);
        const status = await approvals.evaluate(args[0].tenant, reply.body.id, args[0].keyId);
        return status === undefined ? reply : { ...reply, body: { ...reply.body, status } };
      },
    },
    directory: {
      ...directory,
      createUser: guarded(directory.createUser),
      addKey: guarded(directory.addKey),
      revokeKey: guarded(directory.revokeKey),
      createGroup: guarded(directory.createGroup),
      addMember: guarded(directory.addMember),
      removeMember: guarded(directory.removeMember),
    },
  };
}
