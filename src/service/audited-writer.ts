/**
 * Every state change goes through here: it runs in a database transaction together with its audit entry
 * (and outbox events), so a change without its audit entry cannot exist. If the audit entry cannot be
 * written, the change is rolled back and the caller gets E_AUDIT_WRITE_FAILED (fail closed).
 *
 * Throughput: changes that arrive together are committed together. One transaction takes a batch; each
 * change runs inside its own savepoint, so a change that fails (bad input, replayed nonce) is rolled back
 * alone while the others commit. The tenant's chain head is read (and, on PostgreSQL, row-locked) once per
 * batch, so several API nodes append to one chain a batch at a time instead of a row at a time.
 */
import { sql, type Transaction } from 'kysely';
import { createAuditEntry, type AuditRecord } from '../audit/audit-entry.ts';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { auditRepository, outboxRepository } from '../store/index.ts';
import type { StoreSchema } from '../store/schema.ts';

export type Trx = Transaction<StoreSchema>;

export interface ChangeOutcome<T> {
  value: T;
  /** Digest of what changed (never a secret). */
  payloadDigest: Digest | null;
  /** True when nothing changed (e.g. an idempotent repeat): no audit entry is appended. */
  noop?: boolean;
  /** Outbox events committed with the change. */
  events?: Array<{ topic: string; payload: unknown }>;
}

export interface Change<T> {
  tenant: string;
  /** Key id of the author, or 'system'. */
  actor: string;
  action: string;
  requestDigest: Digest | null;
  run(trx: Trx): Promise<ChangeOutcome<T>>;
}

interface Pending {
  change: Change<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface AuditedWriterOptions {
  now?: () => Date;
  /** Most changes committed in one transaction. */
  maxBatch?: number;
  /** Called after each commit with the new heads (used to schedule checkpoints). */
  onCommit?: (heads: Map<string, { seq: number; hash: string }>) => void;
}

export class AuditedWriter {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly now: () => Date;
  private readonly maxBatch: number;

  constructor(
    private readonly database: Database,
    private readonly options: AuditedWriterOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.maxBatch = options.maxBatch ?? 512;
  }

  /** Runs `change` in a transaction with its audit entry; resolves once durably committed. */
  write<T>(change: Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ change: change as Change<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves when everything queued so far is committed or failed. */
  async idle(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise((r) => setImmediate(r));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.commitBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const heads = new Map<string, { seq: number; hash: string } | null>();
    try {
      await this.database.db.transaction().execute(async (trx) => {
        // Lock heads in a fixed order so concurrent writers on other nodes cannot deadlock.
        for (const t of [...new Set(batch.map((p) => p.change.tenant))].sort()) {
          heads.set(t, (await auditRepository.lockHead(trx, this.database.dialect, t)) ?? null);
        }
        const records: AuditRecord[] = [];
        for (const p of batch) {
          const c = p.change;
          const single = batch.length === 1;
          if (!single) await sql`savepoint change`.execute(trx);
          try {
            const out = await c.run(trx);
            if (!out.noop) {
              const rec = createAuditEntry(heads.get(c.tenant) ?? null, {
                at: this.now().toISOString(),
                tenant: c.tenant,
                actor: c.actor,
                action: c.action,
                requestDigest: c.requestDigest,
                payloadDigest: out.payloadDigest,
              });
              records.push(rec);
              heads.set(c.tenant, { seq: rec.seq, hash: rec.hash });
              for (const ev of out.events ?? []) {
                await outboxRepository.insert(trx, c.tenant, ev.topic, ev.payload, rec.at);
              }
            }
            if (!single) await sql`release savepoint change`.execute(trx);
            outcomes.push({ ok: true, value: out.value });
          } catch (error) {
            if (single) throw error;
            await sql`rollback to savepoint change`.execute(trx);
            await sql`release savepoint change`.execute(trx);
            outcomes.push({ ok: false, error });
          }
        }
        if (records.length) {
          try {
            await auditRepository.insertEntries(trx, records.map(toRow));
            for (const [tenant, head] of heads) if (head) await auditRepository.setHead(trx, tenant, head.seq, head.hash);
          } catch (cause) {
            throw new StrongroomError('E_AUDIT_WRITE_FAILED', 'the audit entry could not be written; nothing was changed', {
              cause,
            });
          }
        }
      });
    } catch (error) {
      // A single change that threw is its own failure; anything else (audit, commit) fails the whole batch.
      const failure =
        batch.length === 1 && outcomes.length === 0
          ? error
          : error instanceof StrongroomError
            ? error
            : new StrongroomError('E_AUDIT_WRITE_FAILED', 'the change could not be committed with its audit entry', {
                cause: error,
              });
      for (const p of batch) p.reject(failure);
      return;
    }
    this.options.onCommit?.(heads as Map<string, { seq: number; hash: string }>);
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}

function toRow(r: AuditRecord) {
  return {
    tenant_id: r.tenant,
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    request_digest: r.requestDigest,
    payload_digest: r.payloadDigest,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}
