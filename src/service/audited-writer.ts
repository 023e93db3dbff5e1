/**
 * Every state change goes through here: it runs in a database transaction together with its audit entry
 * (and outbox events), so a change without its audit entry cannot exist. If the audit entry cannot be
 * written, the change is rolled back and the caller gets E_AUDIT_WRITE_FAILED (fail closed).
 *
 * Throughput: changes that arrive together are committed together. One transaction takes a batch; each
 * change runs inside its own savepoint, so a change that fails (bad input, replayed nonce) is rolled back
 * alone while the others commit. Only then is the tenant's chain head read (and, on PostgreSQL, row-locked)
 * and the batch's entries appended, so batches on several connections or API nodes do their work in
 * parallel and serialize only on the append.
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
  /** Batches in flight at once (default: 1 on SQLite, 4 on PostgreSQL). */
  maxConcurrentBatches?: number;
  /** Called after each commit with the new heads (used to schedule checkpoints). */
  onCommit?: (heads: Map<string, { seq: number; hash: string }>) => void;
}

export class AuditedWriter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly now: () => Date;
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly database: Database,
    private readonly options: AuditedWriterOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.maxBatch = options.maxBatch ?? 512;
    // SQLite has one writer; on PostgreSQL batches run their changes concurrently on separate connections
    // and serialize only on the chain head, at the end.
    this.maxConcurrent = options.maxConcurrentBatches ?? (database.dialect === 'postgres' ? 4 : 1);
  }

  /** Runs `change` in a transaction with its audit entry; resolves once durably committed. */
  write<T>(change: Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        change: change as Change<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  /** Resolves when everything queued so far is committed or failed. */
  async idle(): Promise<void> {
    while (this.inFlight || this.queue.length || this.scheduled) await new Promise((r) => setImmediate(r));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxConcurrent) return;
    this.scheduled = true;
    // Wait one turn of the event loop so that changes arriving together are committed together.
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length && this.inFlight < this.maxConcurrent) {
        const batch = this.queue.splice(0, this.maxBatch);
        this.inFlight++;
        void this.commitBatch(batch).finally(() => {
          this.inFlight--;
          if (this.queue.length) this.schedule();
        });
      }
    });
  }

  /**
   * Commits a batch. First optimistically, without savepoints (most batches contain no failing change);
   * if a change fails, the transaction is rolled back and the batch re-run with a savepoint per change so
   * that only the failing changes are refused.
   */
  private async commitBatch(batch: Pending[]): Promise<void> {
    let result = await this.tryBatch(batch, false);
    if (result === 'retry-isolated') result = await this.tryBatch(batch, true);
    if (result === 'retry-isolated') throw new Error('unreachable: isolated batches do not retry');
    const { outcomes, heads, failure } = result;
    if (failure) {
      for (const p of batch) p.reject(failure);
      return;
    }
    this.options.onCommit?.(heads);
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }

  private async tryBatch(
    batch: Pending[],
    isolated: boolean,
  ): Promise<
    | 'retry-isolated'
    | {
        outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }>;
        heads: Map<string, { seq: number; hash: string }>;
        failure?: unknown;
      }
  > {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const heads = new Map<string, { seq: number; hash: string }>();
    const single = batch.length === 1;
    let changeFailed = false;
    try {
      // Durable before anyone sees it; on SQLite without stalling the event loop on the fsync.
      await this.database.commitDurably((conn) =>
        conn.transaction().execute(async (trx) => {
          const done: Array<{ change: Change<unknown>; out: ChangeOutcome<unknown>; at: string }> = [];
          for (const p of batch) {
            const c = p.change;
            if (isolated) await sql`savepoint change`.execute(trx);
            try {
              const out = await c.run(trx);
              if (!out.noop) done.push({ change: c, out, at: this.now().toISOString() });
              if (isolated) await sql`release savepoint change`.execute(trx);
              outcomes.push({ ok: true, value: out.value });
            } catch (error) {
              if (!isolated) {
                changeFailed = true;
                outcomes.push({ ok: false, error });
                throw error;
              }
              await sql`rollback to savepoint change`.execute(trx);
              await sql`release savepoint change`.execute(trx);
              outcomes.push({ ok: false, error });
            }
          }
          if (done.length) await this.appendAudit(trx, done, heads);
        }),
      );
    } catch (error) {
      if (changeFailed) {
        // A single change's own failure is its answer; in a larger batch, isolate it and commit the rest.
        if (single) return { outcomes, heads };
        return 'retry-isolated';
      }
      return {
        outcomes,
        heads,
        failure:
          error instanceof StrongroomError
            ? error
            : new StrongroomError(
                'E_AUDIT_WRITE_FAILED',
                'the change could not be committed with its audit entry',
                { cause: error },
              ),
      };
    }
    return { outcomes, heads };
  }

  /** Appends the batch's audit entries and outbox events; any failure fails the whole transaction. */
  private async appendAudit(
    trx: Trx,
    done: Array<{ change: Change<unknown>; out: ChangeOutcome<unknown>; at: string }>,
    heads: Map<string, { seq: number; hash: string }>,
  ): Promise<void> {
    try {
      // Lock heads in a fixed order so concurrent writers (here or on other nodes) cannot deadlock.
      const current = new Map<string, { seq: number; hash: string } | null>();
      for (const t of [...new Set(done.map((d) => d.change.tenant))].sort()) {
        current.set(t, (await auditRepository.lockHead(trx, this.database.dialect, t)) ?? null);
      }
      const records: AuditRecord[] = [];
      const events: Array<{ tenant: string; topic: string; payload: unknown; at: string }> = [];
      for (const { change: c, out, at } of done) {
        const rec = createAuditEntry(current.get(c.tenant) ?? null, {
          at,
          tenant: c.tenant,
          actor: c.actor,
          action: c.action,
          requestDigest: c.requestDigest,
          payloadDigest: out.payloadDigest,
        });
        records.push(rec);
        current.set(c.tenant, { seq: rec.seq, hash: rec.hash });
        for (const ev of out.events ?? [])
          events.push({ tenant: c.tenant, topic: ev.topic, payload: ev.payload, at });
      }
      await auditRepository.insertEntries(trx, records.map(toRow));
      await outboxRepository.insertMany(trx, events);
      for (const [tenant, head] of current) {
        if (!head) continue;
        await auditRepository.setHead(trx, tenant, head.seq, head.hash);
        heads.set(tenant, head);
      }
    } catch (cause) {
      throw new StrongroomError(
        'E_AUDIT_WRITE_FAILED',
        'the audit entry could not be written; nothing was changed',
        { cause },
      );
    }
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
