import type { Queryable } from '../queryable.ts';

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
    for (let i = 0; i < events.length; i += 500) {
      const rows = events.slice(i, i + 500).map((e) => ({
        tenant_id: e.tenant,
        topic: e.topic,
        payload: JSON.stringify(e.payload),
        created_at: e.at,
        delivered_at: null,
      }));
      await q.insertInto('outbox').values(rows).execute();
    }
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
