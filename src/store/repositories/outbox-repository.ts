import { everyColumn, preparedInsert } from '../prepared-query.ts';
import type { Queryable } from '../queryable.ts';

interface OutboxInsert {
  tenant_id: string;
  topic: string;
  payload: string;
  created_at: string;
  delivered_at: string | null;
}

// Written with every audited change; compiled once per row count (see prepared-query.ts).
const insertManyQuery = preparedInsert(
  (q, rows: OutboxInsert[]) => q.insertInto('outbox').values(rows),
  everyColumn<OutboxInsert>()(['tenant_id', 'topic', 'payload', 'created_at', 'delivered_at']),
);

/** Events written in the same transaction as the change they describe; a worker delivers them (webhooks). */
export const outboxRepository = {
  async insert(q: Queryable, tenantId: string, topic: string, payload: unknown, at: string): Promise<void> {
    await q
      .insertInto('outbox')
      .values({
        tenant_id: tenantId,
        topic,
        payload: JSON.stringify(payload),
        created_at: at,
        delivered_at: null,
      })
      .execute();
  },
  async insertMany(
    q: Queryable,
    events: Array<{ tenant: string; topic: string; payload: unknown; at: string }>,
  ): Promise<void> {
    if (events.length === 0) return;
    await insertManyQuery.execute(
      q,
      events.map((e) => ({
        tenant_id: e.tenant,
        topic: e.topic,
        payload: JSON.stringify(e.payload),
        created_at: e.at,
        delivered_at: null,
      })),
    );
  },
  pending(q: Queryable, limit: number) {
    return q
      .selectFrom('outbox')
      .selectAll()
      .where('delivered_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .execute();
  },
};
