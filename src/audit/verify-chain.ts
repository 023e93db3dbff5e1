/**
 * Offline verification of one tenant's audit chain, streamed in constant memory (a lookahead window of
 * `WINDOW` records plus the checkpoints), so it scales to millions of entries.
 *
 * Each record is checked three ways against the last accepted entry (the "tip"): its own hash (does the
 * stored hash match its fields?), its seq (tip + 1?) and its link (prevHash = tip's hash?). A clean chain
 * passes all three on the fast path. When a record does not, the verifier looks at the next few records to
 * NAME what happened rather than just say "broken":
 *
 * - edited:    the fields no longer match the stored hash, or a rewritten entry's hash was recomputed
 *              so its successor no longer links to it;
 * - deleted:   seq jumps and the link breaks (a gap);
 * - inserted:  an extra record that the chain does not need (the next record links past it), a second
 *              record claiming an existing seq, or a record of another tenant;
 * - reordered: the next few records form a valid chain only in another order (covers lines swapped in an
 *              export and seq values swapped between database rows);
 * - truncated: a valid signed checkpoint lies beyond the last entry;
 * - checkpoint-signature / checkpoint-mismatch: a checkpoint does not verify, or does not match the entry
 *              at its seq (or names another tenant).
 *
 * After a problem the verifier resynchronises on the record it judged genuine and carries on, so one
 * tampering is reported once, not once per later entry.
 */
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { GENESIS_PREV_HASH, hashAuditEntry, isWellTypedEntry, type AuditRecord } from './audit-entry.ts';
import {
  PublicKeyCache,
  verifyCheckpoint,
  type SignedCheckpoint,
  type TrustedAuditKeys,
} from './checkpoint.ts';

export type AuditProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'checkpoint-signature'
  | 'checkpoint-mismatch';

export interface AuditProblem {
  kind: AuditProblemKind;
  /** The seq where the problem starts (for a range, its first seq). */
  seq: number;
  message: string;
}

export interface AuditVerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  tenant: string;
  /** Records read. */
  count: number;
  /** Seq and hash of the chain's head as verified. */
  headSeq: number;
  headHash: string;
  /**
   * Highest seq vouched for by a valid checkpoint that matched the chain (0: none). Entries after it are
   * chained but not yet anchored: a truncation there cannot be detected.
   */
  anchoredSeq: number;
  problems: AuditProblem[];
  /** Problems beyond `maxProblems` are counted, not kept. */
  omittedProblems: number;
}

export interface VerifyAuditChainOptions {
  tenant: string;
  checkpoints?: Iterable<SignedCheckpoint>;
  trustedKeys: TrustedAuditKeys;
  /** Default 1000. */
  maxProblems?: number;
}

/** How many records the verifier may look ahead to tell tamper kinds apart. */
const WINDOW = 16;
/** Bound on remembered gaps and early records, to keep memory constant on a badly damaged chain. */
const MEMORY = 1000;

interface Item {
  readonly rec: AuditRecord;
  /** Hash recomputed from the eight fields, or null when they are not well typed. */
  readonly computed: Digest | null;
}

/**
 * Push-style verifier: feed records in stored order with `push`, then call `finish`. `verifyAuditChain`
 * wraps it for iterables; use it directly to verify from a cursor in batches.
 */
export class AuditChainVerifier {
  readonly #tenant: string;
  readonly #maxProblems: number;
  readonly #problems: AuditProblem[] = [];
  #omitted = 0;
  #count = 0;
  #finished = false;

  // The tip: the last accepted entry. `alt` is its recomputed hash when it was edited (its successor may
  // link to either); `prevHash` is the hash of the entry before it (to judge two records with one seq).
  #tipSeq = 0;
  #tipHash: string = GENESIS_PREV_HASH;
  #tipAlt: string | null = null;
  #tipPrevHash: string | null = null;
  // The tip was reported edited: a broken link right after it is the same tampering, not a new one.
  #tipEdited = false;

  readonly #pending: Item[] = [];
  // Single missing seqs reported as deleted, so a record that turns up later is renamed "reordered".
  readonly #missing = new Map<number, { problem: AuditProblem; prevHash: string; hash: string }>();
  // Self-consistent records found before their place (seq far ahead, smaller seqs after them), kept until
  // the chain reaches their seq. Leftovers at the end were not needed: inserted.
  readonly #early = new Map<number, { hash: string; prevHash: string; after: number }>();

  // Valid checkpoints of this tenant, ascending by seq; #cpIndex is the next one to compare.
  readonly #checkpoints: SignedCheckpoint[] = [];
  #cpIndex = 0;
  #anchoredSeq = 0;

  constructor(options: VerifyAuditChainOptions) {
    if (typeof options?.tenant !== 'string' || options.tenant.length === 0) {
      throw new StrongroomError('E_VALIDATION', 'verifyAuditChain: tenant must be a non-empty string', {
        details: { parameter: 'tenant' },
      });
    }
    if (!(options.trustedKeys instanceof Map)) {
      throw new StrongroomError(
        'E_VALIDATION',
        'verifyAuditChain: trustedKeys must be a Map of keyId to public key',
        {
          details: { parameter: 'trustedKeys' },
        },
      );
    }
    this.#tenant = options.tenant;
    this.#maxProblems = options.maxProblems ?? 1000;
    const keys = new PublicKeyCache(options.trustedKeys);
    for (const cp of options.checkpoints ?? []) {
      const v = verifyCheckpoint(cp, keys);
      const seq = Number.isSafeInteger(cp?.seq) ? cp.seq : 0;
      if (!v.ok) this.#problem('checkpoint-signature', seq, `checkpoint at seq ${seq}: ${v.message}`);
      else if (cp.tenant !== this.#tenant) {
        this.#problem(
          'checkpoint-mismatch',
          seq,
          `checkpoint at seq ${seq} is signed for tenant ${JSON.stringify(cp.tenant)}`,
        );
      } else this.#checkpoints.push(cp);
    }
    this.#checkpoints.sort((a, b) => a.seq - b.seq);
  }

  push(rec: AuditRecord): void {
    if (this.#finished) throw new StrongroomError('E_INTERNAL', 'AuditChainVerifier: push after finish');
    this.#count++;
    const computed = isWellTypedEntry(rec) ? hashAuditEntry(rec) : null;
    // Fast path: nothing pending and the record extends the chain.
    if (
      this.#pending.length === 0 &&
      computed !== null &&
      computed === rec.hash &&
      rec.seq === this.#tipSeq + 1 &&
      (rec.prevHash === this.#tipHash || rec.prevHash === this.#tipAlt) &&
      rec.tenant === this.#tenant
    ) {
      this.#accept(rec.seq, rec.hash, null);
      return;
    }
    this.#pending.push({ rec, computed });
    if (this.#pending.length >= WINDOW) this.#drain(false);
  }

  finish(): AuditVerifyReport {
    if (!this.#finished) {
      this.#finished = true;
      this.#drain(true);
      while (this.#takeEarly());
      for (const [seq, e] of this.#early) {
        this.#problem(
          'inserted',
          seq,
          `a record claiming seq ${seq} was inserted after entry ${e.after}; the chain does not need it`,
        );
      }
      this.#early.clear();
      this.#finalizeTip();
      const beyond = this.#checkpoints.filter((cp) => cp.seq > this.#tipSeq);
      const newest = beyond[beyond.length - 1];
      if (newest !== undefined) {
        this.#problem(
          'truncated',
          this.#tipSeq + 1,
          `chain ends at seq ${this.#tipSeq} but a checkpoint signed at ${newest.at} covers seq ${newest.seq}: ` +
            `entries ${this.#tipSeq + 1}..${newest.seq} are missing`,
        );
      }
    }
    return {
      ok: this.#problems.length === 0 && this.#omitted === 0,
      tenant: this.#tenant,
      count: this.#count,
      headSeq: this.#tipSeq,
      headHash: this.#tipHash,
      anchoredSeq: this.#anchoredSeq,
      // Stable sort: problems found out of order (early records, checkpoints) go to their place.
      problems: this.#problems.sort((a, b) => a.seq - b.seq),
      omittedProblems: this.#omitted,
    };
  }

  #problem(kind: AuditProblemKind, seq: number, message: string): AuditProblem | null {
    if (this.#problems.length >= this.#maxProblems) {
      this.#omitted++;
      return null;
    }
    const p = { kind, seq, message };
    this.#problems.push(p);
    return p;
  }

  #linked(rec: AuditRecord): boolean {
    return rec.prevHash === this.#tipHash || (this.#tipAlt !== null && rec.prevHash === this.#tipAlt);
  }

  #fits(item: Item): boolean {
    const r = item.rec;
    return (
      item.computed !== null &&
      item.computed === r.hash &&
      r.seq === this.#tipSeq + 1 &&
      this.#linked(r) &&
      r.tenant === this.#tenant
    );
  }

  /** Compares the outgoing tip with checkpoints at its seq, then makes (seq, hash) the tip. */
  #accept(seq: number, hash: string, alt: string | null): void {
    this.#finalizeTip();
    this.#tipPrevHash = this.#tipHash;
    this.#tipSeq = seq;
    this.#tipHash = hash;
    this.#tipAlt = alt;
    this.#tipEdited = false;
  }

  #finalizeTip(): void {
    const cps = this.#checkpoints;
    // Checkpoints whose seq was skipped sit in a gap already reported as deleted or edited.
    while (this.#cpIndex < cps.length && cps[this.#cpIndex]!.seq < this.#tipSeq) this.#cpIndex++;
    while (this.#cpIndex < cps.length && cps[this.#cpIndex]!.seq === this.#tipSeq) {
      const cp = cps[this.#cpIndex++]!;
      if (cp.headHash === this.#tipHash || cp.headHash === this.#tipAlt) {
        this.#anchoredSeq = Math.max(this.#anchoredSeq, cp.seq);
      } else {
        this.#problem(
          'checkpoint-mismatch',
          cp.seq,
          `checkpoint signed at ${cp.at} says entry ${cp.seq} has hash ${cp.headHash}, the chain has ${this.#tipHash}`,
        );
      }
    }
  }

  #drain(final: boolean): void {
    const pending = this.#pending;
    while (pending.length > 0 && (final || pending.length >= WINDOW)) {
      if (this.#fits(pending[0]!)) {
        const r = pending.shift()!.rec;
        this.#accept(r.seq, r.hash, null);
      } else if (!this.#takeEarly()) {
        this.#resolve();
      }
    }
  }

  /** Names what is wrong with pending[0] (which does not extend the chain) and consumes at least it. */
  #resolve(): void {
    const pending = this.#pending;
    const item = pending[0]!;
    const r = item.rec;
    const next = pending[1];
    const expected = this.#tipSeq + 1;
    const selfOk = item.computed !== null && item.computed === r.hash;
    const seqOf = (x: AuditRecord): number => (Number.isSafeInteger(x.seq) ? x.seq : expected);

    const order = this.#reorderedRun();
    if (order !== null) {
      const last = expected + order.length - 1;
      const stored = order.map((i) => seqOf(pending[i]!.rec)).join(', ');
      this.#problem(
        'reordered',
        expected,
        `entries ${expected}..${last} are out of order (found in chain order at positions holding seq ${stored})`,
      );
      for (const i of order) this.#accept(this.#tipSeq + 1, pending[i]!.rec.hash, null);
      pending.splice(0, order.length);
      return;
    }

    if (next !== undefined && this.#fits(next)) {
      // The chain does not need r: the next record extends the tip directly.
      this.#extra(item);
      pending.shift();
      return;
    }

    if (
      selfOk &&
      r.tenant === this.#tenant &&
      r.seq === this.#tipSeq &&
      r.prevHash === this.#tipPrevHash &&
      (next !== undefined ? next.rec.prevHash === r.hash : this.#vouched(r.seq, r.hash))
    ) {
      // Two records claim seq = tip; the chain continues from this one, so the accepted one was inserted.
      this.#problem(
        'inserted',
        r.seq,
        `two records claim seq ${r.seq}; the chain continues from the second, the first was inserted`,
      );
      this.#tipHash = r.hash;
      this.#tipAlt = null;
      pending.shift();
      return;
    }

    if (item.computed === null || (!selfOk && this.#linked(r))) {
      const why = item.computed === null ? 'is malformed' : 'no longer matches its hash';
      this.#problem('edited', expected, `entry ${expected} ${why}: a field was changed`);
      this.#accept(expected, typeof r.hash === 'string' ? r.hash : '', item.computed);
      this.#tipEdited = true;
      pending.shift();
      return;
    }

    if (r.seq <= this.#tipSeq || (selfOk && r.tenant !== this.#tenant)) {
      this.#extra(item);
      pending.shift();
      return;
    }

    // From here r.seq > tip and r does not link to the tip.
    if (!selfOk) {
      if (r.seq > expected) this.#deleted(expected, r);
      this.#problem('edited', r.seq, `entry ${r.seq} no longer matches its hash: a field was changed`);
      this.#accept(r.seq, r.hash, item.computed);
    } else if (this.#linked(r)) {
      // Self-consistent and linked, yet seq jumps: its seq was rewritten and its hash recomputed.
      this.#problem(
        'edited',
        expected,
        `entry ${expected} claims seq ${r.seq}: its seq was rewritten and its hash recomputed`,
      );
      this.#accept(expected, r.hash, null);
      this.#tipEdited = true;
    } else if (r.seq > expected) {
      if (next !== undefined && next.rec.seq < r.seq && this.#early.size < MEMORY) {
        // Smaller seqs follow: r is not past a gap but ahead of its place. Keep it for when the chain
        // reaches its seq.
        this.#early.set(r.seq, { hash: r.hash, prevHash: r.prevHash, after: this.#tipSeq });
      } else {
        this.#deleted(expected, r);
        this.#accept(r.seq, r.hash, null);
      }
    } else if (this.#tipEdited) {
      this.#accept(r.seq, r.hash, null);
    } else if (next !== undefined ? next.rec.prevHash === r.hash : this.#vouched(r.seq, r.hash)) {
      // Right seq, wrong link, and the chain carries on from r (or a checkpoint vouches for r), so r is
      // intact: the tip was rewritten and its hash recomputed (r still records the old hash).
      this.#problem(
        'edited',
        this.#tipSeq,
        `entry ${r.seq} does not link to entry ${this.#tipSeq}: entry ${this.#tipSeq} was rewritten and its hash recomputed`,
      );
      this.#accept(r.seq, r.hash, null);
    } else if (next !== undefined) {
      // Links broken on both sides of r: r itself was rewritten and its hash recomputed.
      this.#problem(
        'edited',
        r.seq,
        `entry ${r.seq} was rewritten and its hash recomputed: it links to neither neighbour`,
      );
      this.#accept(r.seq, r.hash, null);
      this.#tipEdited = true;
    } else {
      this.#problem(
        'inserted',
        r.seq,
        `the last record (seq ${r.seq}) does not link to entry ${this.#tipSeq}: it was appended by someone who could not chain it`,
      );
      this.#accept(r.seq, r.hash, null);
    }
    pending.shift();
  }

  /**
   * Reports a record the chain does not need: "inserted", unless it is exactly the entry earlier
   * reported missing at its seq (same link, same hash), which makes that gap a "reordered" entry.
   */
  #extra(item: Item): void {
    const r = item.rec;
    const selfOk = item.computed !== null && item.computed === r.hash;
    const ours = selfOk && r.tenant === this.#tenant;
    const moved = ours ? this.#missing.get(r.seq) : undefined;
    if (ours && r.seq > this.#tipSeq + 1 && !this.#early.has(r.seq) && this.#early.size < MEMORY) {
      // Ahead of its place: judged when the chain reaches its seq (reordered) or at the end (inserted).
      this.#early.set(r.seq, { hash: r.hash, prevHash: r.prevHash, after: this.#tipSeq });
    } else if (moved !== undefined && moved.prevHash === r.prevHash && moved.hash === r.hash) {
      moved.problem.kind = 'reordered';
      moved.problem.message = `entry ${r.seq} is out of order: it was found after entry ${this.#tipSeq}`;
      this.#missing.delete(r.seq);
    } else if (typeof r.tenant === 'string' && r.tenant !== this.#tenant) {
      this.#problem(
        'inserted',
        r.seq,
        `a record of tenant ${JSON.stringify(r.tenant)} (seq ${r.seq}) was inserted after entry ${this.#tipSeq}`,
      );
    } else {
      const seq = Number.isSafeInteger(r.seq) ? r.seq : this.#tipSeq + 1;
      this.#problem('inserted', seq, `a record claiming seq ${seq} was inserted after entry ${this.#tipSeq}`);
    }
  }

  /** True when a valid checkpoint of this tenant says entry `seq` has `hash`. */
  #vouched(seq: number, hash: string): boolean {
    return this.#checkpoints.some((cp) => cp.seq === seq && cp.headHash === hash);
  }

  /** Accepts the early record that extends the tip, if any, naming it reordered. */
  #takeEarly(): boolean {
    const seq = this.#tipSeq + 1;
    const e = this.#early.get(seq);
    if (e === undefined || (e.prevHash !== this.#tipHash && e.prevHash !== this.#tipAlt)) return false;
    this.#problem('reordered', seq, `entry ${seq} is out of order: it was found after entry ${e.after}`);
    this.#early.delete(seq);
    this.#accept(seq, e.hash, null);
    return true;
  }

  #deleted(from: number, r: AuditRecord): void {
    const to = r.seq - 1;
    const p = this.#problem(
      'deleted',
      from,
      from === to ? `entry ${from} is missing` : `entries ${from}..${to} are missing`,
    );
    if (p !== null && from === to && this.#missing.size < MEMORY) {
      this.#missing.set(from, { problem: p, prevHash: this.#tipHash, hash: r.prevHash });
    }
  }

  /**
   * If the first m >= 2 pending records, taken in another order, extend the chain (each links to the
   * previous and matches its hash at the seq it should have), returns that order; else null. Covers both
   * lines swapped in a file (seq fields intact) and seq values swapped between rows (seq fields wrong).
   */
  #reorderedRun(): number[] | null {
    const pending = this.#pending;
    // Cheap gate: some later record must link to the tip.
    let gate = false;
    for (let j = 1; j < pending.length && !gate; j++) gate = this.#linked(pending[j]!.rec);
    if (!gate) return null;

    const order: number[] = [];
    let hash: string = this.#tipHash;
    let alt: string | null = this.#tipAlt;
    let maxIndex = -1;
    for (let seq = this.#tipSeq + 1; ; seq++) {
      let found = -1;
      // From the back: of two identical records (a duplicate), the later one is taken as in place.
      for (let j = pending.length - 1; j >= 0 && found < 0; j--) {
        const { rec, computed } = pending[j]!;
        if (computed === null || order.includes(j) || rec.tenant !== this.#tenant) continue;
        if (rec.prevHash !== hash && rec.prevHash !== alt) continue;
        const atSeq = rec.seq === seq ? computed : hashAuditEntry({ ...rec, seq });
        if (atSeq === rec.hash) found = j;
      }
      if (found < 0) return null;
      if (order.length === 0 && found === 0) return null; // pending[0] is next: not a reordering
      order.push(found);
      maxIndex = Math.max(maxIndex, found);
      hash = pending[found]!.rec.hash;
      alt = null;
      if (order.length >= 2 && maxIndex === order.length - 1) {
        // Confirmed only if the chain carries on from the block (or the stream ends with it); otherwise
        // the block may be closed by a duplicate, and r is better judged as ahead of its place.
        const after = pending[order.length];
        return (after === undefined ? this.#finished : after.rec.prevHash === hash) ? order : null;
      }
    }
  }
}

/**
 * Verifies one tenant's chain from records in stored (seq) order, e.g. a database cursor or
 * `readAuditExport`. Never throws for tampered data: every problem is in the report.
 *
 * @example
 * const report = await verifyAuditChain(db.prepare(sql).iterate(tenant), { tenant, checkpoints, trustedKeys });
 * if (!report.ok) console.error(report.problems);
 */
export async function verifyAuditChain(
  records: Iterable<AuditRecord> | AsyncIterable<AuditRecord>,
  options: VerifyAuditChainOptions,
): Promise<AuditVerifyReport> {
  const verifier = new AuditChainVerifier(options);
  if (Symbol.asyncIterator in records) {
    for await (const r of records) verifier.push(r);
  } else {
    // A plain loop for synchronous sources: `for await` would cost a microtask per record.
    for (const r of records) verifier.push(r);
  }
  return verifier.finish();
}
