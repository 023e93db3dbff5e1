/**
 * Governance over the API: the genesis the tenant's admins sign, governance requests and their approvals,
 * and the chain of states. Each accepted change is one audited transaction that also stores the new state
 * and brings the directory tables (users, keys, groups) in line with it, so every existing endpoint sees
 * governance results. The vault is told of each new head (it re-verifies the chain itself).
 */
import { digestOf, type Digest } from '../domain/canonical.ts';
import { StrongroomError, isStrongroomError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import {
  applyGovernanceRequest,
  createGenesis,
  requestDigest,
  requestStatementBytes,
  stateDigest,
  tallyApprovals,
  validateGovernanceRequest,
  verifyGenesis,
  verifyUserSignature,
  type GenesisSignature,
  type GovernanceApproval,
  type GovernanceRequest,
  type GovernanceState,
  type GovernanceTransition,
  type SignedGovernanceRequest,
} from '../governance/index.ts';
import { assertPublishable, type PolicyDocument } from '../policy/index.ts';
import { directoryRepository, type Queryable } from '../store/index.ts';
import { governanceRepository, type GovernanceRequestRow } from '../store/repositories/governance-repository.ts';
import type { Vault } from '../vault/vault.ts';
import type { AuditedWriter, Trx } from './audited-writer.ts';
import { ADMIN_GROUP } from './directory-service.ts';
import type { Principal, Reply } from './principal.ts';
import { signedWrite } from './signed-change.ts';

export interface GovernanceHeadView {
  height: number;
  digest: Digest;
  state: GovernanceState;
  /** What the vault has verified (null when it has not, or cannot say: sealed). */
  vaultHead: { height: number; digest: Digest } | null;
}

export interface GovernanceRequestView {
  id: string;
  kind: string;
  status: GovernanceRequestRow['status'];
  request: GovernanceRequest;
  initiatorSignature: string;
  requestDigest: Digest;
  approvals: GovernanceApproval[];
  appliedHeight: number | null;
  createdAt: string;
}

export interface LoadedState {
  state: GovernanceState;
  digest: Digest;
  height: number;
}

export async function loadHead(q: Queryable, tenant: string): Promise<LoadedState | undefined> {
  const row = await governanceRepository.latestState(q, tenant);
  if (!row) return undefined;
  return { state: JSON.parse(row.state) as GovernanceState, digest: row.digest as Digest, height: Number(row.height) };
}

/**
 * The submit path reads the governance head of every request; on SQLite each read waits for the one
 * connection between write batches. A head at most a second old routes a request just as well (the vault
 * checks the policy in force itself before it authorizes anything), and this node forgets it on every change.
 */
export function createHeadCache(db: Queryable, now: () => Date, ttlMs = 1000) {
  const heads = new Map<string, { at: number; head: LoadedState | undefined }>();
  return {
    async get(tenant: string): Promise<LoadedState | undefined> {
      const t = now().getTime();
      const hit = heads.get(tenant);
      if (hit && t - hit.at < ttlMs) return hit.head;
      const head = await loadHead(db, tenant);
      heads.set(tenant, { at: t, head });
      return head;
    },
    forget(tenant: string): void {
      heads.delete(tenant);
    },
  };
}
export type HeadCache = ReturnType<typeof createHeadCache>;

/** The chain from `fromHeight` to the newest stored state, as the vault wants it. */
export async function chainFrom(q: Queryable, tenant: string, fromHeight: number) {
  const from = await governanceRepository.stateAt(q, tenant, fromHeight);
  if (!from) return undefined;
  const later = await governanceRepository.statesAfter(q, tenant, fromHeight);
  const last = later[later.length - 1] ?? from;
  return {
    from: JSON.parse(from.state) as GovernanceState,
    transitions: later.map((r) => JSON.parse(r.evidence) as GovernanceTransition),
    head: { height: Number(last.height), digest: last.digest as Digest },
  };
}

/** Makes users, keys, groups and memberships of the directory what `state` says (for the users it lists). */
async function syncDirectory(trx: Trx, tenant: string, state: GovernanceState, at: string): Promise<void> {
  for (const [userId, u] of Object.entries(state.users)) {
    const status = u.status === 'active' ? 'active' : 'disabled';
    const row = await directoryRepository.getUser(trx, tenant, userId);
    if (!row) await directoryRepository.insertUser(trx, { id: userId, tenant_id: tenant, name: u.name, kind: u.kind, status, created_at: at });
    else if (row.status !== status) await trx.updateTable('users').set({ status }).where('tenant_id', '=', tenant).where('id', '=', userId).execute();
    for (const [keyId, k] of Object.entries(u.keys)) {
      const kr = await directoryRepository.getKey(trx, keyId);
      if (!kr) {
        await directoryRepository.insertKey(trx, {
          id: keyId, tenant_id: tenant, user_id: userId, alg: k.alg, public_key: k.publicKey, status: k.status, created_at: at,
          revoked_at: k.status === 'revoked' ? at : null,
        });
      } else if (kr.tenant_id !== tenant || kr.user_id !== userId) {
        throw new StrongroomError('E_CONFLICT', `key ${keyId} is registered to someone else in the directory`, { details: { keyId } });
      } else if (kr.status !== k.status) {
        await trx.updateTable('user_keys').set({ status: k.status, revoked_at: k.status === 'revoked' ? at : null }).where('id', '=', keyId).execute();
      }
    }
  }
  const groups = await directoryRepository.listGroups(trx, tenant);
  for (const [name, members] of Object.entries(state.groups)) {
    let group = groups.find((g) => g.name === name);
    if (!group) {
      group = { id: newId('grp'), tenant_id: tenant, name, created_at: at };
      await directoryRepository.insertGroup(trx, group);
    }
    const current = await directoryRepository.listMembers(trx, tenant, group.id);
    for (const m of members) if (!current.includes(m)) await directoryRepository.addMember(trx, tenant, group.id, m, at);
    for (const m of current) if (!members.includes(m)) await directoryRepository.removeMember(trx, tenant, group.id, m);
  }
  // A group governance does not know has no members: nobody may act through it.
  for (const group of groups) {
    if (Object.hasOwn(state.groups, group.name)) continue;
    for (const m of await directoryRepository.listMembers(trx, tenant, group.id)) await directoryRepository.removeMember(trx, tenant, group.id, m);
  }
}

function requestView(row: GovernanceRequestRow, approvals: string[]): GovernanceRequestView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    request: JSON.parse(row.request) as GovernanceRequest,
    initiatorSignature: row.initiator_signature,
    requestDigest: row.request_digest as Digest,
    approvals: approvals.map((a) => JSON.parse(a) as GovernanceApproval),
    appliedHeight: row.applied_height === null ? null : Number(row.applied_height),
    createdAt: row.created_at,
  };
}

export function createGovernanceService(deps: { writer: AuditedWriter; db: Queryable; now: () => Date; vault: Vault; heads?: HeadCache }) {
  const { writer, db, now, vault } = deps;
  const write = <T>(w: Parameters<typeof signedWrite<T>>[1]) => signedWrite<T>(writer, w, now);

  async function requireHead(q: Queryable, tenant: string): Promise<LoadedState> {
    const head = await loadHead(q, tenant);
    if (!head) {
      throw new StrongroomError('E_NOT_INITIALIZED', 'this tenant has no governance genesis yet', {
        hints: ['the admins sign a genesis first: strongroom governance genesis'],
      });
    }
    return head;
  }

  /** Brings the vault's recorded head up to the stored one; best effort (a sealed vault catches up later). */
  async function advanceVault(tenant: string, actor: string): Promise<void> {
    try {
      const vh = await vault.governanceHead(tenant);
      if (!vh) return;
      const chain = await chainFrom(db, tenant, vh.height);
      if (!chain || chain.head.height === vh.height) return;
      await vault.acceptGovernanceHead(tenant, { head: chain.head, proof: { from: chain.from, transitions: chain.transitions }, actor });
    } catch {
      // The next authorize carries the chain from the vault's head; nothing is lost.
    }
  }

  async function tryApply(trx: Trx, p: Principal, row: GovernanceRequestRow, head: LoadedState, at: Date): Promise<GovernanceRequestRow> {
    const signed: SignedGovernanceRequest = { request: JSON.parse(row.request) as GovernanceRequest, initiatorSignature: row.initiator_signature };
    const approvals = (await governanceRepository.approvals(trx, row.id)).map((a) => JSON.parse(a) as GovernanceApproval);
    let next: GovernanceState;
    try {
      next = applyGovernanceRequest(head.state, signed, approvals, { now: at.getTime() });
    } catch (e) {
      if (isStrongroomError(e, 'E_QUORUM_INCOMPLETE')) return row;
      throw e;
    }
    const transition: GovernanceTransition = { ...signed, approvals };
    const iso = at.toISOString();
    await governanceRepository.insertState(trx, {
      tenant_id: p.tenant, height: next.height, digest: stateDigest(next), state: JSON.stringify(next), evidence: JSON.stringify(transition), created_at: iso,
    });
    await governanceRepository.setRequestStatus(trx, row.id, 'applied', next.height);
    await syncDirectory(trx, p.tenant, next, iso);
    deps.heads?.forget(p.tenant);
    return { ...row, status: 'applied', applied_height: next.height };
  }

  return {
    loadHead: (tenant: string) => loadHead(db, tenant),
    chainFrom: (tenant: string, fromHeight: number) => chainFrom(db, tenant, fromHeight),
    async hasGenesis(tenant: string): Promise<boolean> {
      return (await governanceRepository.stateAt(db, tenant, 0)) !== undefined;
    },

    /** The genesis the admins of the directory would sign: every admin with their active keys. */
    async genesisDraft(p: Principal, input: { k: number; groups?: Record<string, string[]>; freezeGroup?: string }): Promise<GovernanceState> {
      const adminGroup = await directoryRepository.getGroupByName(db, p.tenant, ADMIN_GROUP);
      const adminIds = adminGroup ? await directoryRepository.listMembers(db, p.tenant, adminGroup.id) : [];
      const admins = [];
      for (const userId of adminIds) {
        const user = await directoryRepository.getUser(db, p.tenant, userId);
        const keys = (await directoryRepository.listKeys(db, p.tenant, userId)).filter((k) => k.status === 'active');
        if (!user || user.status !== 'active' || keys.length === 0) continue;
        admins.push({ userId, name: user.name, keys: keys.map((k) => ({ alg: k.alg as never, publicKey: k.public_key })) });
      }
      return createGenesis({
        tenant: p.tenant,
        admins,
        ...(input.groups ? { groups: input.groups } : {}),
        governance: { group: ADMIN_GROUP, k: input.k },
        freezeGroup: input.freezeGroup ?? ADMIN_GROUP,
        createdAt: now().toISOString(),
      });
    },

    /** Records the signed genesis: the vault accepts it first (one-shot, bound to its master key). */
    async genesis(p: Principal, input: { genesis: GovernanceState; signatures: GenesisSignature[] }, idempotencyKey: string): Promise<Reply<GovernanceHeadView>> {
      if (input.genesis?.tenant !== p.tenant) {
        throw new StrongroomError('E_VALIDATION', 'the genesis is for another tenant', { details: { parameter: 'genesis.tenant' } });
      }
      const digest = verifyGenesis(input.genesis, input.signatures);
      if (await governanceRepository.stateAt(db, p.tenant, 0)) {
        const existing = await governanceRepository.stateAt(db, p.tenant, 0);
        if (existing!.digest !== digest) throw new StrongroomError('E_CONFLICT', 'this tenant already has a genesis');
      }
      await vault.acceptGovernanceHead(p.tenant, {
        head: { height: 0, digest },
        proof: { genesis: input.genesis, genesisSignatures: input.signatures, transitions: [] },
        actor: p.keyId,
      });
      return write<GovernanceHeadView>({
        principal: p,
        action: 'governance.genesis',
        idempotencyKey,
        requestDigest: digest,
        run: async (trx, at) => {
          const groups = await directoryRepository.groupNamesOfUser(trx, p.tenant, p.userId);
          if (!groups.includes(ADMIN_GROUP)) throw new StrongroomError('E_FORBIDDEN', `only members of "${ADMIN_GROUP}" may record the genesis`);
          if (await governanceRepository.stateAt(trx, p.tenant, 0)) throw new StrongroomError('E_CONFLICT', 'this tenant already has a genesis');
          for (const [userId, u] of Object.entries(input.genesis.users)) {
            const row = await directoryRepository.getUser(trx, p.tenant, userId);
            if (!row) throw new StrongroomError('E_VALIDATION', `genesis user ${userId} is not in the directory`, { details: { userId } });
            for (const keyId of Object.keys(u.keys)) {
              const k = await directoryRepository.getKey(trx, keyId);
              if (k && (k.tenant_id !== p.tenant || k.user_id !== userId)) throw new StrongroomError('E_CONFLICT', `key ${keyId} belongs to someone else`);
            }
          }
          const iso = at.toISOString();
          await governanceRepository.insertState(trx, {
            tenant_id: p.tenant, height: 0, digest, state: JSON.stringify(input.genesis), evidence: JSON.stringify(input.signatures), created_at: iso,
          });
          await syncDirectory(trx, p.tenant, input.genesis, iso);
          deps.heads?.forget(p.tenant);
          const view: GovernanceHeadView = { height: 0, digest, state: input.genesis, vaultHead: { height: 0, digest } };
          return { value: { status: 201, body: view }, payloadDigest: digest, events: [{ topic: 'governance.genesis', payload: { digest } }] };
        },
      });
    },

    async show(p: Principal): Promise<GovernanceHeadView> {
      const head = await requireHead(db, p.tenant);
      const vh = await vault.governanceHead(p.tenant).catch(() => null);
      return { ...head, vaultHead: vh ? { height: vh.height, digest: vh.digest } : null };
    },

    /** A signed governance request, against the current head. A freeze takes effect at once. */
    async propose(p: Principal, input: SignedGovernanceRequest, idempotencyKey: string): Promise<Reply<GovernanceRequestView>> {
      const request = validateGovernanceRequest(input?.request);
      const digest = requestDigest(request);
      if (request.tenant !== p.tenant) throw new StrongroomError('E_VALIDATION', 'the request is for another tenant', { details: { field: 'request.tenant' } });
      if (request.initiator !== p.userId) throw new StrongroomError('E_FORBIDDEN', 'a governance request is proposed by its own initiator');
      let policy: PolicyDocument | undefined;
      if (request.kind === 'publish_policy') {
        // Policy as code: a document whose own tests fail is refused before anyone is asked to approve it.
        policy = assertPublishable((request.payload as { document: unknown }).document).compiled.document;
      }
      const reply = await write<GovernanceRequestView>({
        principal: p,
        action: `governance.propose.${request.kind}`,
        idempotencyKey,
        requestDigest: digest,
        run: async (trx, at) => {
          const head = await requireHead(trx, p.tenant);
          if (request.baseState !== head.digest) {
            throw new StrongroomError('E_CONFLICT', 'the request was made against another governance state', {
              details: { baseState: request.baseState, current: head.digest, height: head.height },
              hints: ['re-create and re-sign the request against the current governance head'],
            });
          }
          verifyUserSignature(head.state, { userId: request.initiator, keyId: request.keyId, signature: input.initiatorSignature }, requestStatementBytes(digest), 'initiator');
          if (policy) await governanceRepository.putPolicy(trx, p.tenant, (request.payload as { digest: string }).digest, JSON.stringify((request.payload as { document: unknown }).document));
          let row: GovernanceRequestRow = {
            id: newId('gov'), tenant_id: p.tenant, kind: request.kind, request: JSON.stringify(request), initiator_signature: input.initiatorSignature,
            request_digest: digest, status: 'pending', applied_height: null, created_at: at.toISOString(),
          };
          await governanceRepository.insertRequest(trx, row);
          if (request.kind === 'freeze') row = await tryApply(trx, p, row, head, at);
          const view = requestView(row, []);
          return { value: { status: 201, body: view }, payloadDigest: digest, events: [{ topic: 'governance.request', payload: { id: row.id, kind: row.kind, status: row.status } }] };
        },
      });
      if (reply.body.status === 'applied') await advanceVault(p.tenant, p.keyId);
      return reply;
    },

    /** An approval or rejection signed by the approver; the request is applied once its quorum is complete. */
    async approve(p: Principal, id: string, approval: GovernanceApproval): Promise<Reply<GovernanceRequestView>> {
      if (approval?.approver !== p.userId) throw new StrongroomError('E_FORBIDDEN', 'an approval is submitted by its own approver');
      const reply = await write<GovernanceRequestView>({
        principal: p,
        action: `governance.${approval.kind === 'rejection' ? 'reject' : 'approve'}`,
        requestDigest: digestOf(approval),
        run: async (trx, at) => {
          let row = await governanceRepository.getRequest(trx, p.tenant, id);
          if (!row) throw new StrongroomError('E_NOT_FOUND', 'governance request not found');
          if (row.status !== 'pending') throw new StrongroomError('E_REQUEST_STATE', `the request is ${row.status}`, { details: { status: row.status } });
          const head = await requireHead(trx, p.tenant);
          const request = JSON.parse(row.request) as GovernanceRequest;
          if (request.baseState !== head.digest) {
            throw new StrongroomError('E_REQUEST_STATE', 'governance moved on since this request was made; it can no longer apply', {
              details: { baseState: request.baseState, current: head.digest },
            });
          }
          // Checks this one approval fully (signature, membership, times) before it is stored.
          tallyApprovals(head.state, request, [approval], { requestDigest: row.request_digest as Digest, notAfter: at.getTime() + 5 * 60_000 });
          if (!(await governanceRepository.insertApproval(trx, { request_id: id, approver: approval.approver, key_id: approval.keyId, approval: JSON.stringify(approval) }))) {
            throw new StrongroomError('E_CONFLICT', 'this key already signed this request');
          }
          if (approval.kind === 'rejection') {
            await governanceRepository.setRequestStatus(trx, id, 'rejected', null);
            row = { ...row, status: 'rejected' };
          } else {
            row = await tryApply(trx, p, row, head, at);
          }
          const view = requestView(row, await governanceRepository.approvals(trx, id));
          return { value: { status: 200, body: view }, payloadDigest: digestOf({ id, status: row.status, approval }) };
        },
      });
      if (reply.body.status === 'applied') await advanceVault(p.tenant, p.keyId);
      return reply;
    },

    async get(p: Principal, id: string): Promise<GovernanceRequestView> {
      const row = await governanceRepository.getRequest(db, p.tenant, id);
      if (!row) throw new StrongroomError('E_NOT_FOUND', 'governance request not found');
      return requestView(row, await governanceRepository.approvals(db, id));
    },
    async list(p: Principal, status?: string): Promise<GovernanceRequestView[]> {
      const rows = await governanceRepository.listRequests(db, p.tenant, status);
      return Promise.all(rows.map(async (r) => requestView(r, await governanceRepository.approvals(db, r.id))));
    },
  };
}

export type GovernanceService = ReturnType<typeof createGovernanceService>;

/** What clients (the CLI) build and sign themselves: the shells reach governance and policy through here. */
export {
  approvalBytes,
  createGovernanceRequest,
  encodeSignature,
  genesisStatementBytes,
  requestDigest,
  requestStatementBytes,
  stateDigest,
} from '../governance/index.ts';
export { parsePolicyText, policyDigest } from '../policy/index.ts';
export type { GovernanceState } from '../governance/index.ts';
