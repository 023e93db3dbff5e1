/**
 * Governance chain, governance requests and approvals, policy documents, and transfer decisions with their
 * approvals. JSON documents are stored as text exactly as the service hands them over; nothing here
 * interprets them (the service and the vault verify).
 */
import type { Kysely } from 'kysely';
import type { Queryable } from '../queryable.ts';

export interface GovernanceStateRow {
  tenant_id: string;
  height: number;
  digest: string;
  state: string;
  evidence: string;
  created_at: string;
}
export interface GovernanceRequestRow {
  id: string;
  tenant_id: string;
  kind: string;
  request: string;
  initiator_signature: string;
  request_digest: string;
  status: 'pending' | 'applied' | 'rejected';
  applied_height: number | null;
  created_at: string;
}
export interface GovernanceApprovalRow {
  request_id: string;
  approver: string;
  key_id: string;
  approval: string;
}
export interface RequestDecisionRow {
  request_id: string;
  tenant_id: string;
  policy_digest: string;
  policy_version: number;
  context: string;
  context_digest: string;
  decision: string;
  rule_id: string | null;
  workflow: string | null;
  trace: string;
  evaluated_at: string;
}
export interface RequestApprovalRow {
  request_id: string;
  tenant_id: string;
  approver: string;
  key_id: string;
  approval: string;
}

interface GovernanceSchema {
  governance_states: GovernanceStateRow;
  governance_requests: GovernanceRequestRow;
  governance_approvals: GovernanceApprovalRow;
  governance_policies: { tenant_id: string; digest: string; document: string };
  request_decisions: RequestDecisionRow;
  request_approvals: RequestApprovalRow;
  requests: { id: string; tenant_id: string; status: string; type: string; created_at: string; payload: string; initiator_user_id: string };
}

// These tables are this module's own; the shared StoreSchema does not list them.
const g = (q: Queryable) => q as unknown as Kysely<GovernanceSchema>;

export const governanceRepository = {
  async insertState(q: Queryable, row: GovernanceStateRow): Promise<void> {
    await g(q).insertInto('governance_states').values(row).execute();
  },
  latestState(q: Queryable, tenant: string): Promise<GovernanceStateRow | undefined> {
    return g(q).selectFrom('governance_states').selectAll().where('tenant_id', '=', tenant).orderBy('height', 'desc').limit(1).executeTakeFirst();
  },
  stateAt(q: Queryable, tenant: string, height: number): Promise<GovernanceStateRow | undefined> {
    return g(q).selectFrom('governance_states').selectAll().where('tenant_id', '=', tenant).where('height', '=', height).executeTakeFirst();
  },
  /** States with height > `after`, in order. */
  statesAfter(q: Queryable, tenant: string, after: number): Promise<GovernanceStateRow[]> {
    return g(q).selectFrom('governance_states').selectAll().where('tenant_id', '=', tenant).where('height', '>', after).orderBy('height').execute();
  },

  async insertRequest(q: Queryable, row: GovernanceRequestRow): Promise<void> {
    await g(q).insertInto('governance_requests').values(row).execute();
  },
  getRequest(q: Queryable, tenant: string, id: string): Promise<GovernanceRequestRow | undefined> {
    return g(q).selectFrom('governance_requests').selectAll().where('tenant_id', '=', tenant).where('id', '=', id).executeTakeFirst();
  },
  listRequests(q: Queryable, tenant: string, status?: string): Promise<GovernanceRequestRow[]> {
    let s = g(q).selectFrom('governance_requests').selectAll().where('tenant_id', '=', tenant);
    if (status) s = s.where('status', '=', status as GovernanceRequestRow['status']);
    return s.orderBy('created_at', 'desc').limit(500).execute();
  },
  async setRequestStatus(q: Queryable, id: string, status: GovernanceRequestRow['status'], appliedHeight: number | null): Promise<void> {
    await g(q).updateTable('governance_requests').set({ status, applied_height: appliedHeight }).where('id', '=', id).execute();
  },
  async insertApproval(q: Queryable, row: GovernanceApprovalRow): Promise<boolean> {
    const r = await g(q).insertInto('governance_approvals').values(row).onConflict((oc) => oc.columns(['request_id', 'approver', 'key_id']).doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
  async approvals(q: Queryable, requestId: string): Promise<string[]> {
    const rows = await g(q).selectFrom('governance_approvals').select('approval').where('request_id', '=', requestId).orderBy('approver').orderBy('key_id').execute();
    return rows.map((r) => r.approval);
  },

  async putPolicy(q: Queryable, tenant: string, digest: string, document: string): Promise<void> {
    await g(q).insertInto('governance_policies').values({ tenant_id: tenant, digest, document }).onConflict((oc) => oc.columns(['tenant_id', 'digest']).doNothing()).execute();
  },
  async getPolicy(q: Queryable, tenant: string, digest: string): Promise<string | undefined> {
    const r = await g(q).selectFrom('governance_policies').select('document').where('tenant_id', '=', tenant).where('digest', '=', digest).executeTakeFirst();
    return r?.document;
  },

  async insertDecision(q: Queryable, row: RequestDecisionRow): Promise<void> {
    await g(q).insertInto('request_decisions').values(row).execute();
  },
  getDecision(q: Queryable, requestId: string): Promise<RequestDecisionRow | undefined> {
    return g(q).selectFrom('request_decisions').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  },
  async insertRequestApproval(q: Queryable, row: RequestApprovalRow): Promise<boolean> {
    const r = await g(q).insertInto('request_approvals').values(row).onConflict((oc) => oc.columns(['request_id', 'approver', 'key_id']).doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
  async requestApprovals(q: Queryable, requestId: string): Promise<string[]> {
    const rows = await g(q).selectFrom('request_approvals').select('approval').where('request_id', '=', requestId).orderBy('approver').orderBy('key_id').execute();
    return rows.map((r) => r.approval);
  },
  async setRequestStatusOf(q: Queryable, tenant: string, id: string, status: string): Promise<void> {
    await g(q).updateTable('requests').set({ status }).where('tenant_id', '=', tenant).where('id', '=', id).execute();
  },
  /** Transfer requests of the tenant in the given statuses created at or after `since`, with their decision context. */
  recentRequests(q: Queryable, tenant: string, statuses: string[], since: string, limit = 10_000) {
    return g(q)
      .selectFrom('requests')
      .leftJoin('request_decisions', 'request_decisions.request_id', 'requests.id')
      .select(['requests.id', 'requests.status', 'requests.payload', 'requests.initiator_user_id', 'requests.created_at', 'request_decisions.context'])
      .where('requests.tenant_id', '=', tenant)
      .where('requests.status', 'in', statuses)
      .where('requests.created_at', '>=', since)
      .orderBy('requests.created_at', 'desc')
      .limit(limit)
      .execute();
  },
};
