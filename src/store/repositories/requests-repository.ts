import type { Queryable } from '../queryable.ts';
import type { RequestsTable } from '../schema.ts';

export type RequestRow = RequestsTable;

export const requestsRepository = {
  async insert(q: Queryable, row: RequestRow): Promise<void> {
    await q.insertInto('requests').values(row).execute();
  },
  get(q: Queryable, tenantId: string, id: string): Promise<RequestRow | undefined> {
    return q
      .selectFrom('requests')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },
  list(q: Queryable, tenantId: string, opts: { limit: number; before?: string }): Promise<RequestRow[]> {
    let s = q.selectFrom('requests').selectAll().where('tenant_id', '=', tenantId);
    if (opts.before) s = s.where('id', '<', opts.before);
    return s.orderBy('id', 'desc').limit(opts.limit).execute();
  },
};
