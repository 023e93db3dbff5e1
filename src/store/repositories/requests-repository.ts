import { everyColumn, preparedInsert } from '../prepared-query.ts';
import type { Queryable } from '../queryable.ts';
import type { RequestsTable } from '../schema.ts';

export type RequestRow = RequestsTable;

// On every submit: compiled once (see prepared-query.ts).
const insertQuery = preparedInsert(
  (q, rows: RequestRow[]) => q.insertInto('requests').values(rows),
  everyColumn<RequestRow>()([
    'id',
    'tenant_id',
    'type',
    'status',
    'initiator_user_id',
    'key_id',
    'payload',
    'digest',
    'idempotency_key',
    'evidence',
    'created_at',
    'expires_at',
  ]),
);

export const requestsRepository = {
  async insert(q: Queryable, row: RequestRow): Promise<void> {
    await insertQuery.execute(q, [row]);
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
