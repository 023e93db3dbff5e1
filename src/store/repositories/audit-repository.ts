/** Storage of the hash-chained audit log. The chain logic itself is pure and lives in src/audit. */
import { sql } from 'kysely';
import type { Dialect } from '../database.ts';
import type { Queryable } from '../queryable.ts';
import type { AuditCheckpointsTable, AuditEntriesTable } from '../schema.ts';

export type AuditEntryRow = AuditEntriesTable;
export type AuditCheckpointRow = AuditCheckpointsTable;

export const auditRepository = {
  /**
   * Reads a tenant's chain head, locking it for the rest of the transaction on PostgreSQL so that writers on
   * several API nodes append one batch at a time. (SQLite has one writer by construction.)
   */
  async lockHead(
    q: Queryable,
    dialect: Dialect,
    tenantId: string,
  ): Promise<{ seq: number; hash: string } | undefined> {
    let s = q.selectFrom('audit_heads').select(['seq', 'hash']).where('tenant_id', '=', tenantId);
    if (dialect === 'postgres') s = s.forUpdate();
    const row = await s.executeTakeFirst();
    return row && { seq: Number(row.seq), hash: row.hash };
  },
  async setHead(q: Queryable, tenantId: string, seq: number, hash: string): Promise<void> {
    await q
      .insertInto('audit_heads')
      .values({ tenant_id: tenantId, seq, hash })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ seq, hash }))
      .execute();
  },
  /** Inserts rows in chunks (one statement per chunk keeps batched commits cheap on both dialects). */
  async insertEntries(q: Queryable, rows: AuditEntryRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      await q
        .insertInto('audit_entries')
        .values(rows.slice(i, i + 500))
        .execute();
    }
  },
  async count(q: Queryable, tenantId: string): Promise<number> {
    const r = await q
      .selectFrom('audit_entries')
      .select(sql<number>`count(*)`.as('n'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },
  /** Entries in sequence order, paged by seq so memory stays flat for millions of entries. */
  async *iterate(q: Queryable, tenantId: string, opts: { afterSeq?: number; pageSize?: number } = {}) {
    let after = opts.afterSeq ?? 0;
    const size = opts.pageSize ?? 5000;
    for (;;) {
      const rows = await q
        .selectFrom('audit_entries')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(size)
        .execute();
      for (const r of rows) yield { ...r, seq: Number(r.seq) };
      if (rows.length < size) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  },
  list(q: Queryable, tenantId: string, opts: { afterSeq: number; limit: number }): Promise<AuditEntryRow[]> {
    return q
      .selectFrom('audit_entries')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('seq', '>', opts.afterSeq)
      .orderBy('seq')
      .limit(opts.limit)
      .execute();
  },
  async insertCheckpoint(q: Queryable, row: AuditCheckpointRow): Promise<void> {
    await q.insertInto('audit_checkpoints').values(row).execute();
  },
  listCheckpoints(q: Queryable, tenantId: string): Promise<AuditCheckpointRow[]> {
    return q
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('seq')
      .execute();
  },
};
