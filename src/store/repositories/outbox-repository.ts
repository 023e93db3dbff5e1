import type { Queryable } from '../queryable.ts';

/** Events written in the same transaction as the change they describe; a worker delivers them (webhooks). */
export const outboxRepository = {
  async insert(q: Queryable, tenantId: string, topic: string, payload: unknown, at: string): Promise<void> {
    await q
      .insertInto('outbox')
      .values({ tenant_id: tenantId, topic, payload: JSON.stringify(payload), created_at: at, delivered_at: null })
      .execute();
  },
  pending(q: Queryable, limit: number) {
    return q.selectFrom('outbox').selectAll().where('delivered_at', 'is', null).orderBy('id').limit(limit).execute();
  },
};
