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
 * A database's primary key on (tenant, seq) forces whoever inserts or deletes a row in the middle to
 * renumber the rows after it; the verifier recognises a run of renumbered rows (each matches its hash at
 * its old seq and links on), names the insertion or deletion once and follows the shift. Reported seqs
 * are always the chain's own (the seq that was hashed).
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
  /** Hash recomputed from the eight fields at seq `rec.seq - shift`, or null when they are not well typed. */
  computed: Digest | null;
  shift: number;
}

/** The record's hash recomputed as if its seq were `seq` (to recognise renumbered or swapped rows). */
function hashAt(rec: AuditRecord, seq: number): Digest {
  return rec.seq === seq ? hashAuditEntry(rec) : hashAuditEntry({ ...rec, seq });
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
  // Stored seq minus chain seq: non-zero once rows were renumbered (to make room for an inserted row or
  // close the gap of a deleted one), which a database's primary key forces on a tamperer.
  #shift = 0;

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
    const shift = this.#shift;
    const computed = !isWellTypedEntry(rec)
      ? null
      : shift === 0
        ? hashAuditEntry(rec)
        : hashAt(rec, rec.seq - shift);
    // Fast path: nothing pending and the record extends the chain.
    if (
      this.#pending.length === 0 &&
      computed !== null &&
      computed === rec.hash &&
      rec.seq - shift === this.#tipSeq + 1 &&
      (rec.prevHash === this.#tipHash || rec.prevHash === this.#tipAlt) &&
      rec.tenant === this.#tenant
    ) {
      this.#accept(this.#tipSeq + 1, rec.hash, null);
      return;
    }
    this.#pending.push({ rec, computed, shift });
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

  /** Does the record match its hash at its chain seq (stored seq minus the current shift)? */
  #selfOk(item: Item): boolean {
    if (item.computed === null) return false;
    if (item.shift !== this.#shift) {
      item.computed = hashAt(item.rec, item.rec.seq - this.#shift);
      item.shift = this.#shift;
    }
    return item.computed === item.rec.hash;
  }

  #fits(item: Item): boolean {
    const r = item.rec;
    return (
      r.seq - this.#shift === this.#tipSeq + 1 &&
      this.#selfOk(item) &&
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
        this.#accept(this.#tipSeq + 1, pending.shift()!.rec.hash, null);
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
    const selfOk = this.#selfOk(item);
    const wellTyped = item.computed !== null;
    // Seqs below are chain seqs: stored seq minus the shift of any renumbering found so far.
    const seqOf = (x: AuditRecord): number => (Number.isSafeInteger(x.seq) ? x.seq - this.#shift : expected);
    const rs = seqOf(r);

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
      next !== undefined &&
      next.computed !== null &&
      seqOf(next.rec) !== expected &&
      next.rec.tenant === this.#tenant &&
      this.#linked(next.rec) &&
      hashAt(next.rec, expected) === next.rec.hash
    ) {
      // The next record is entry `expected`, stored under another seq: r was inserted and the rows after
      // it renumbered to make room.
      const by = next.rec.seq - expected - this.#shift;
      this.#problem(
        'inserted',
        rs,
        `a record was inserted at seq ${rs}; the entries after it were renumbered by ${by > 0 ? '+' : ''}${by}`,
      );
      this.#shift += by;
      pending.shift();
      return;
    }

    if (
      wellTyped &&
      r.tenant === this.#tenant &&
      r.prevHash === this.#tipPrevHash &&
      (next !== undefined ? next.rec.prevHash === r.hash : this.#vouched(this.#tipSeq, r.hash)) &&
      hashAt(r, this.#tipSeq) === r.hash
    ) {
      // r is entry `tip` (whatever seq it is stored under) and the chain continues from r, so the record
      // accepted as `tip` was inserted (and, if r's stored seq is off by one, the rows renumbered).
      const by = r.seq - this.#tipSeq - this.#shift;
      const renumbered =
        by === 0 ? '' : `; the entries after it were renumbered by ${by > 0 ? '+' : ''}${by}`;
      this.#problem(
        'inserted',
        this.#tipSeq,
        `two records claim seq ${this.#tipSeq}; the chain continues from the second, the first was inserted${renumbered}`,
      );
      this.#shift += by;
      this.#tipHash = r.hash;
      this.#tipAlt = null;
      pending.shift();
      return;
    }

    if (wellTyped && !selfOk && !this.#linked(r) && r.tenant === this.#tenant) {
      // r may be a later entry stored under a lower seq: rows were deleted and the rest renumbered.
      for (let d = 1; d <= WINDOW; d++) {
        if (hashAt(r, expected + d) !== r.hash) continue;
        if (next !== undefined && next.rec.prevHash !== r.hash) break;
        const by = r.seq - (expected + d) - this.#shift;
        const range =
          d === 1 ? `entry ${expected} is missing` : `entries ${expected}..${expected + d - 1} are missing`;
        this.#problem(
          'deleted',
          expected,
          `${range}; the entries after were renumbered by ${by > 0 ? '+' : ''}${by}`,
        );
        this.#shift += by;
        this.#accept(expected + d, r.hash, null);
        pending.shift();
        return;
      }
    }

    if (!wellTyped || (!selfOk && this.#linked(r))) {
      const why = wellTyped ? 'no longer matches its hash' : 'is malformed';
      this.#problem('edited', expected, `entry ${expected} ${why}: a field was changed`);
      this.#accept(expected, typeof r.hash === 'string' ? r.hash : '', item.computed);
      this.#tipEdited = true;
      pending.shift();
      return;
    }

    if (rs <= this.#tipSeq || (selfOk && r.tenant !== this.#tenant)) {
      this.#extra(item);
      pending.shift();
      return;
    }

    // From here rs > tip and r does not link to the tip.
    if (!selfOk) {
      if (rs > expected) this.#deleted(expected, rs, r.prevHash);
      this.#problem('edited', rs, `entry ${rs} no longer matches its hash: a field was changed`);
      this.#accept(rs, r.hash, item.computed);
    } else if (this.#linked(r)) {
      // Self-consistent and linked, yet seq jumps: its seq was rewritten and its hash recomputed.
      this.#problem(
        'edited',
        expected,
        `entry ${expected} claims seq ${rs}: its seq was rewritten and its hash recomputed`,
      );
      this.#accept(expected, r.hash, null);
      this.#tipEdited = true;
    } else if (rs > expected) {
      if (next !== undefined && next.rec.seq < r.seq && this.#early.size < MEMORY) {
        // Smaller seqs follow: r is not past a gap but ahead of its place. Keep it for when the chain
        // reaches its seq.
        this.#early.set(rs, { hash: r.hash, prevHash: r.prevHash, after: this.#tipSeq });
      } else {
        this.#deleted(expected, rs, r.prevHash);
        this.#accept(rs, r.hash, null);
      }
    } else if (this.#tipEdited) {
      this.#accept(rs, r.hash, null);
    } else if (next !== undefined ? next.rec.prevHash === r.hash : this.#vouched(rs, r.hash)) {
      // Right seq, wrong link, and the chain carries on from r (or a checkpoint vouches for r), so r is
      // intact: the tip was rewritten and its hash recomputed (r still records the old hash).
      this.#problem(
        'edited',
        this.#tipSeq,
        `entry ${rs} does not link to entry ${this.#tipSeq}: entry ${this.#tipSeq} was rewritten and its hash recomputed`,
      );
      this.#accept(rs, r.hash, null);
    } else if (next !== undefined) {
      // Links broken on both sides of r: r itself was rewritten and its hash recomputed.
      this.#problem(
        'edited',
        rs,
        `entry ${rs} was rewritten and its hash recomputed: it links to neither neighbour`,
      );
      this.#accept(rs, r.hash, null);
      this.#tipEdited = true;
    } else {
      this.#problem(
        'inserted',
        rs,
        `the last record (seq ${rs}) does not link to entry ${this.#tipSeq}: it was appended by someone who could not chain it`,
      );
      this.#accept(rs, r.hash, null);
    }
    pending.shift();
  }

  /**
   * Reports a record the chain does not need: "inserted", unless it is exactly the entry earlier
   * reported missing at its seq (same link, same hash), which makes that gap a "reordered" entry.
   */
  #extra(item: Item): void {
    const r = item.rec;
    const ours = this.#selfOk(item) && r.tenant === this.#tenant;
    const rs = Number.isSafeInteger(r.seq) ? r.seq - this.#shift : this.#tipSeq + 1;
    const moved = ours ? this.#missing.get(rs) : undefined;
    if (ours && rs > this.#tipSeq + 1 && !this.#early.has(rs) && this.#early.size < MEMORY) {
      // Ahead of its place: judged when the chain reaches its seq (reordered) or at the end (inserted).
      this.#early.set(rs, { hash: r.hash, prevHash: r.prevHash, after: this.#tipSeq });
    } else if (moved !== undefined && moved.prevHash === r.prevHash && moved.hash === r.hash) {
      moved.problem.kind = 'reordered';
      moved.problem.message = `entry ${rs} is out of order: it was found after entry ${this.#tipSeq}`;
      this.#missing.delete(rs);
    } else if (typeof r.tenant === 'string' && r.tenant !== this.#tenant) {
      this.#problem(
        'inserted',
        rs,
        `a record of tenant ${JSON.stringify(r.tenant)} (seq ${rs}) was inserted after entry ${this.#tipSeq}`,
      );
    } else {
      this.#problem('inserted', rs, `a record claiming seq ${rs} was inserted after entry ${this.#tipSeq}`);
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

  /** Reports entries from..to-1 missing; `nextPrevHash` is what the entry at `to` says `to - 1` hashed to. */
  #deleted(from: number, toSeq: number, nextPrevHash: string): void {
    const to = toSeq - 1;
    const p = this.#problem(
      'deleted',
      from,
      from === to ? `entry ${from} is missing` : `entries ${from}..${to} are missing`,
    );
    if (p !== null && from === to && this.#missing.size < MEMORY) {
      this.#missing.set(from, { problem: p, prevHash: this.#tipHash, hash: nextPrevHash });
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
        const atSeq = rec.seq - pending[j]!.shift === seq ? computed : hashAt(rec, seq);
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
