/**
 * One audit entry and its place in its tenant's hash chain (DESIGN.md "Formats"):
 * `{seq, at, tenant, actor, action, requestDigest, payloadDigest, prevHash}`, hashed as
 * `sha256:` + SHA-256 over the RFC 8785 canonical bytes of exactly those eight fields.
 *
 * `createAuditEntry` sits on the hot path of every state-changing transaction, so the canonical text of
 * this fixed shape is produced directly instead of through the generic `canonicalize()`; a property test
 * (audit-entry.test.ts) proves the two are byte-identical.
 */
import { hash } from 'node:crypto';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';

export interface AuditEntry {
  /** 1, 2, 3, ... per tenant: one chain per tenant. */
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds, e.g. `2025-01-31T12:00:00.000Z`. */
  readonly at: string;
  readonly tenant: string;
  /** Key id of the author, or `system`. */
  readonly actor: string;
  /** What happened, e.g. `user.create`. */
  readonly action: string;
  readonly requestDigest: Digest | null;
  readonly payloadDigest: Digest | null;
  /** Hash of the previous entry; `GENESIS_PREV_HASH` for seq 1. */
  readonly prevHash: Digest;
}

/** A stored row: the entry plus its own hash. */
export interface AuditRecord extends AuditEntry {
  readonly hash: Digest;
}

/** What the caller supplies; seq, prevHash and hash are computed. */
export interface AuditFields {
  readonly at: string;
  readonly tenant: string;
  readonly actor: string;
  readonly action: string;
  readonly requestDigest?: Digest | null;
  readonly payloadDigest?: Digest | null;
}

/** The chain's link to "nothing before": the prevHash of seq 1. */
export const GENESIS_PREV_HASH: Digest = `sha256:${'0'.repeat(64)}`;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ACTION_RE = /^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/;
const MAX_ID = 256;

/** ISO-8601 UTC with milliseconds that names a real instant (no 2025-02-30). */
export function isAuditTime(value: unknown): value is string {
  if (typeof value !== 'string' || !AT_RE.test(value)) return false;
  const t = Date.parse(value);
  return !Number.isNaN(t) && new Date(t).toISOString() === value;
}

function bad(parameter: string, message: string): StrongroomError {
  return new StrongroomError('E_VALIDATION', `audit entry: ${message}`, { details: { parameter } });
}

export function isDigest(value: unknown): value is Digest {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

// A lone UTF-16 surrogate has no UTF-8 encoding; RFC 8785 (and canonicalize()) refuse it, so must we.
const LONE_SURROGATE_RE = /\p{Cs}/u;

function checkId(parameter: string, value: unknown): void {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_ID ||
    LONE_SURROGATE_RE.test(value)
  ) {
    throw bad(
      parameter,
      `${parameter} must be a non-empty string of at most ${MAX_ID} characters (valid Unicode)`,
    );
  }
}

function checkOptionalDigest(parameter: string, value: unknown): Digest | null {
  if (value === undefined || value === null) return null;
  if (!isDigest(value)) throw bad(parameter, `${parameter} must be sha256:<64 lowercase hex> or null`);
  return value;
}

// Printable ASCII other than `"` and `\`: JSON.stringify(s) is exactly '"' + s + '"'. Anything else
// (controls, DEL, non-ASCII) takes JSON.stringify, which escapes exactly as JCS does.
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_STRINGIFY_RE = /["\\\x00-\x1f\x7f-\uffff]/;

function str(s: string): string {
  return NEEDS_STRINGIFY_RE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/**
 * RFC 8785 canonical text of an entry, written directly. JCS orders keys by UTF-16 code units, which for
 * these names is: action, actor, at, payloadDigest, prevHash, requestDigest, seq, tenant. JCS serialises
 * strings, null and (safe-integer) numbers exactly as ECMAScript JSON.stringify does; plain printable
 * ASCII strings (every field a valid entry has, in practice) skip the call. Callers must pass well-typed
 * fields (strings, string|null, a safe integer); `createAuditEntry` also refuses lone surrogates, which
 * canonicalize() rejects, so that every hash it produces equals `digestOf(entry)`.
 */
export function auditEntryCanonical(e: AuditEntry): string {
  return (
    '{"action":' +
    str(e.action) +
    ',"actor":' +
    str(e.actor) +
    ',"at":' +
    str(e.at) +
    ',"payloadDigest":' +
    (e.payloadDigest === null ? 'null' : str(e.payloadDigest)) +
    ',"prevHash":' +
    str(e.prevHash) +
    ',"requestDigest":' +
    (e.requestDigest === null ? 'null' : str(e.requestDigest)) +
    ',"seq":' +
    String(e.seq) +
    ',"tenant":' +
    str(e.tenant) +
    '}'
  );
}

/** `sha256:<hex>` of the entry's canonical bytes; equal to `digestOf(entry)` on the eight fields. */
export function hashAuditEntry(e: AuditEntry): Digest {
  // crypto.hash is the one-shot form of createHash().update().digest(): same SHA-256, less overhead.
  return `sha256:${hash('sha256', auditEntryCanonical(e), 'hex')}`;
}

/**
 * True when each of the eight fields has the type the canonical form assumes. The verifier uses this on
 * untrusted records (a database row or an export line) before hashing them; formats are not checked here because a
 * wrong value simply fails the hash comparison.
 */
export function isWellTypedEntry(r: AuditEntry): boolean {
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isSafeInteger(r.seq) &&
    typeof r.at === 'string' &&
    typeof r.tenant === 'string' &&
    typeof r.actor === 'string' &&
    typeof r.action === 'string' &&
    (r.requestDigest === null || typeof r.requestDigest === 'string') &&
    (r.payloadDigest === null || typeof r.payloadDigest === 'string') &&
    typeof r.prevHash === 'string'
  );
}

/**
 * The next entry of a tenant's chain after `prev` (null for the first entry), with its hash. Validates
 * every field and throws `E_VALIDATION` naming the bad parameter.
 *
 * @example
 * const first = createAuditEntry(null, { at: new Date().toISOString(), tenant: 't1', actor: 'system', action: 'tenant.init' });
 * const second = createAuditEntry(first, { ...fields, action: 'user.create' });
 */
export function createAuditEntry(
  prev: { readonly seq: number; readonly hash: string } | null,
  fields: AuditFields,
): AuditRecord {
  let seq = 1;
  let prevHash = GENESIS_PREV_HASH;
  if (prev !== null) {
    if (!Number.isSafeInteger(prev.seq) || prev.seq < 1)
      throw bad('prev.seq', 'prev.seq must be a positive integer');
    if (!isDigest(prev.hash)) throw bad('prev.hash', 'prev.hash must be sha256:<64 lowercase hex>');
    seq = prev.seq + 1;
    prevHash = prev.hash;
  }
  if (!isAuditTime(fields.at)) {
    throw bad('at', 'at must be an ISO-8601 UTC time with milliseconds, e.g. 2025-01-31T12:00:00.000Z');
  }
  checkId('tenant', fields.tenant);
  checkId('actor', fields.actor);
  if (typeof fields.action !== 'string' || fields.action.length > 128 || !ACTION_RE.test(fields.action)) {
    throw bad(
      'action',
      'action must look like "user.create" (lowercase dotted words, at most 128 characters)',
    );
  }
  const entry = {
    seq,
    at: fields.at,
    tenant: fields.tenant,
    actor: fields.actor,
    action: fields.action,
    requestDigest: checkOptionalDigest('requestDigest', fields.requestDigest),
    payloadDigest: checkOptionalDigest('payloadDigest', fields.payloadDigest),
    prevHash,
    hash: GENESIS_PREV_HASH,
  };
  // Computed on the object itself (the extra `hash` field is not part of the canonical text): no copy.
  entry.hash = hashAuditEntry(entry);
  return entry;
}
