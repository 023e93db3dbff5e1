/**
 * Batched reads of what a withdrawal's evidence bundle is made of (the request row with the initiator's
 * signed HTTP request, its policy decision and context, its approvals) and of its stored payload, for many
 * requests in one query each. The signing path reads these for every request it signs: one query per batch
 * instead of one per request and table.
 *
 * Each query is compiled once per dialect and list size; lists are padded to a power of two (repeating an
 * id), so a handful of SQL texts serve every batch size.
 */
import type { Compilable, Kysely } from 'kysely';
import { preparedQuery, type PreparedQuery } from '../prepared-query.ts';
import type { Queryable } from '../queryable.ts';
import type { RequestsTable } from '../schema.ts';
import type { ExecutionsTable } from './executions-repository.ts';
import type { RequestDecisionRow } from './governance-repository.ts';

interface EvidenceSchema {
  requests: RequestsTable;
  request_decisions: RequestDecisionRow;
  request_approvals: {
    request_id: string;
    tenant_id: string;
    approver: string;
    key_id: string;
    approval: string;
  };
  executions: ExecutionsTable;
}
const e = (q: Queryable) => q as unknown as Kysely<EvidenceSchema>;

/** Most ids in one query. */
export const MAX_IDS = 256;

type IdArgs = Record<string, string>;

/** A query over a list of ids, compiled once per dialect and (padded) list length. */
function byIds<R>(build: (q: Queryable, p: IdArgs, ids: string[]) => Compilable<R>) {
  const bySize = new Map<number, PreparedQuery<IdArgs, R>>();
  return async (q: Queryable, fixed: Record<string, string>, ids: readonly string[]): Promise<R[]> => {
    const out: R[] = [];
    for (let start = 0; start < ids.length; start += MAX_IDS) {
      const chunk = ids.slice(start, start + MAX_IDS);
      let n = 1;
      while (n < chunk.length) n *= 2;
      let query = bySize.get(n);
      if (!query) {
        const names = Array.from({ length: n }, (_, i) => `i${i}`);
        query = preparedQuery<IdArgs, R>((qq, p) =>
          build(
            qq,
            p,
            names.map((k) => p[k]!),
          ),
        );
        bySize.set(n, query);
      }
      const args: IdArgs = { ...fixed };
      for (let i = 0; i < n; i++) args[`i${i}`] = chunk[Math.min(i, chunk.length - 1)]!;
      out.push(...(await query.execute(q, args)).rows);
    }
    return out;
  };
}

/** What a bundle needs of a decision (not its trace, which can be long). */
export type DecisionEvidence = Pick<RequestDecisionRow, 'request_id' | 'policy_digest' | 'context'>;
/** What signing needs of an execution: its chain and the stored payload. */
export type StoredPayload = Pick<ExecutionsTable, 'request_id' | 'chain' | 'unsigned_payload'>;

const requestsQuery = byIds<RequestsTable>((q, p, ids) =>
  e(q).selectFrom('requests').selectAll().where('tenant_id', '=', p.tenant!).where('id', 'in', ids),
);
const decisionsQuery = byIds<DecisionEvidence>((q, _p, ids) =>
  e(q)
    .selectFrom('request_decisions')
    .select(['request_id', 'policy_digest', 'context'])
    .where('request_id', 'in', ids),
);
const approvalsQuery = byIds<{ request_id: string; approval: string }>((q, _p, ids) =>
  e(q)
    .selectFrom('request_approvals')
    .select(['request_id', 'approval'])
    .where('request_id', 'in', ids)
    .orderBy('request_id')
    .orderBy('approver')
    .orderBy('key_id'),
);
const payloadsQuery = byIds<StoredPayload>((q, p, ids) =>
  e(q)
    .selectFrom('executions')
    .select(['request_id', 'chain', 'unsigned_payload'])
    .where('tenant_id', '=', p.tenant!)
    .where('request_id', 'in', ids),
);

const unique = (ids: readonly string[]) => [...new Set(ids)];

export const evidenceRepository = {
  /** Request rows of `tenant` by id. */
  async requests(q: Queryable, tenant: string, ids: readonly string[]): Promise<Map<string, RequestsTable>> {
    const rows = await requestsQuery(q, { tenant }, unique(ids));
    return new Map(rows.map((r) => [r.id, r]));
  },
  /** Policy decisions by request id (callers check the tenant on the request row). */
  async decisions(q: Queryable, ids: readonly string[]): Promise<Map<string, DecisionEvidence>> {
    const rows = await decisionsQuery(q, {}, unique(ids));
    return new Map(rows.map((r) => [r.request_id, r]));
  },
  /** Approvals (stored JSON) by request id, each list ordered by approver and key, as `requestApprovals`. */
  async approvals(q: Queryable, ids: readonly string[]): Promise<Map<string, string[]>> {
    const rows = await approvalsQuery(q, {}, unique(ids));
    const out = new Map<string, string[]>();
    for (const r of rows) {
      let list = out.get(r.request_id);
      if (!list) out.set(r.request_id, (list = []));
      list.push(r.approval);
    }
    return out;
  },
  /** Stored payloads of `tenant`'s executions by request id. */
  async payloads(q: Queryable, tenant: string, ids: readonly string[]): Promise<Map<string, StoredPayload>> {
    const rows = await payloadsQuery(q, { tenant }, unique(ids));
    return new Map(rows.map((r) => [r.request_id, r]));
  },
};
