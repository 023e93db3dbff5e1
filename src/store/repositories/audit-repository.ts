/** Storage of the hash-chained audit log. The chain logic itself is pure and lives in src/audit. */
import { sql } from 'kysely';
import type { Dialect } from '../database.ts';
import { everyColumn, preparedInsert, preparedQuery } from '../prepared-query.ts';
import type { Queryable } from '../queryable.ts';
import type { AuditCheckpointsTable, AuditEntriesTable } from '../schema.ts';

export type AuditEntryRow = AuditEntriesTable;
export type AuditCheckpointRow = AuditCheckpointsTable;

// The statements every audited write runs, compiled once (see prepared-query.ts).
const readHeadQuery = preparedQuery((q, p: { tenantId: string }) =>
  q.selectFrom('audit_heads').select(['seq', 'hash']).where('tenant_id', '=', p.tenantId),
);
const lockHeadQuery = preparedQuery((q, p: { tenantId: string }) =>
  q.selectFrom('audit_heads').select(['seq', 'hash']).where('tenant_id', '=', p.tenantId).forUpdate(),
);
const setHeadQuery = preparedQuery((q, p: { tenantId: string; seq: number; hash: string }) =>
  q
    .insertInto('audit_heads')
    .values({ tenant_id: p.tenantId, seq: p.seq, hash: p.hash })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ seq: p.seq, hash: p.hash })),
);
const insertEntriesQuery = preparedInsert(
  (q, rows: AuditEntryRow[]) => q.insertInto('audit_entries').values(rows),
  everyColumn<AuditEntryRow>()([
    'tenant_id',
    'seq',
    'at',
    'actor',
    'action',
    'request_digest',
    'payload_digest',
    'prev_hash',
    'hash',
  ]),
);

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
    const r = await (dialect === 'postgres' ? lockHeadQuery : readHeadQuery).execute(q, { tenantId });
    const row = r.rows[0];
    return row && { seq: Number(row.seq), hash: row.hash };
  },
  async setHead(q: Queryable, tenantId: string, seq: number, hash: string): Promise<void> {
    await setHeadQuery.execute(q, { tenantId, seq, hash });
  },
  /** Inserts rows in chunks (one statement per chunk keeps batched commits cheap on both dialects). */
  async insertEntries(q: Queryable, rows: AuditEntryRow[]): Promise<void> {
    await insertEntriesQuery.execute(q, rows);
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
