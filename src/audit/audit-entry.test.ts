import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize, digestOf } from '../domain/canonical.ts';
import { isStrongroomError } from '../domain/errors.ts';
import {
  GENESIS_PREV_HASH,
  auditEntryCanonical,
  createAuditEntry,
  hashAuditEntry,
  type AuditEntry,
  type AuditFields,
} from './audit-entry.ts';

const D = (c: string) => `sha256:${c.repeat(64)}` as const;
const fields: AuditFields = {
  at: '2025-01-31T12:00:00.000Z',
  tenant: 'acme',
  actor: 'key-1',
  action: 'user.create',
  requestDigest: D('a'),
  payloadDigest: null,
};

function eightFields(e: AuditEntry) {
  const { seq, at, tenant, actor, action, requestDigest, payloadDigest, prevHash } = e;
  return { seq, at, tenant, actor, action, requestDigest, payloadDigest, prevHash };
}

function codeOf(fn: () => unknown): { code: string; parameter: unknown } | undefined {
  try {
    fn();
  } catch (e) {
    if (isStrongroomError(e)) return { code: e.code, parameter: e.details['parameter'] };
    throw e;
  }
  return undefined;
}

describe('createAuditEntry', () => {
  it('starts a chain at seq 1 from the genesis hash and hashes exactly the eight fields', () => {
    const e = createAuditEntry(null, fields);
    expect(e).toEqual({ seq: 1, ...fields, prevHash: GENESIS_PREV_HASH, hash: e.hash });
    expect(GENESIS_PREV_HASH).toBe(`sha256:${'0'.repeat(64)}`);
    expect(e.hash).toBe(digestOf(eightFields(e)));
  });

  it('links each entry to the previous one', () => {
    const a = createAuditEntry(null, fields);
    const b = createAuditEntry(a, { ...fields, action: 'user.delete', requestDigest: undefined });
    expect(b.seq).toBe(2);
    expect(b.prevHash).toBe(a.hash);
    expect(b.requestDigest).toBeNull();
    expect(b.hash).toBe(digestOf(eightFields(b)));
    expect(b.hash).not.toBe(a.hash);
  });

  it.each([
    ['at', { ...fields, at: '2025-01-31T12:00:00Z' }],
    ['at', { ...fields, at: '2025-02-30T12:00:00.000Z' }],
    ['at', { ...fields, at: '2025-01-31T12:00:00.000+01:00' }],
    ['tenant', { ...fields, tenant: '' }],
    ['actor', { ...fields, actor: 42 as unknown as string }],
    ['action', { ...fields, action: 'User Create' }],
    ['requestDigest', { ...fields, requestDigest: 'sha256:ABC' as `sha256:${string}` }],
    ['payloadDigest', { ...fields, payloadDigest: D('g') }],
  ])('rejects a bad %s with E_VALIDATION naming it', (parameter, bad) => {
    expect(codeOf(() => createAuditEntry(null, bad))).toEqual({ code: 'E_VALIDATION', parameter });
  });

  it('rejects a bad previous entry', () => {
    expect(codeOf(() => createAuditEntry({ seq: 0, hash: D('1') }, fields))).toEqual({
      code: 'E_VALIDATION',
      parameter: 'prev.seq',
    });
    expect(codeOf(() => createAuditEntry({ seq: 3, hash: 'nope' }, fields))).toEqual({
      code: 'E_VALIDATION',
      parameter: 'prev.hash',
    });
  });
});

// Strings with everything JCS must escape or pass through: controls, quotes, backslashes, non-BMP
// characters and lone surrogates.
const anyString = fc.oneof(
  fc.string(), // printable ASCII: the fast path, including `"` and `\`
  fc.string({ unit: fc.constantFrom('"', '\\', 'a', '~', ' ', '\u001f', '\u007f', '\u0080') }),
  fc.string({ unit: 'binary' }),
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 })
    .map((units) => String.fromCharCode(...units)),
  fc.constantFrom('"', '\\', '\u2028', '\u007f', '\ud800', '\udfff', '😀', '\u0000'),
);
const digestOrNull = fc.oneof(
  fc.constant(null),
  fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}` as const),
);

const LONE = /\p{Cs}/u;
const hasLoneSurrogate = (e: Record<string, unknown>) =>
  Object.values(e).some((v) => typeof v === 'string' && LONE.test(v));

const anyEntry = fc.record({
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  at: anyString,
  tenant: anyString,
  actor: anyString,
  action: anyString,
  requestDigest: fc.oneof(digestOrNull, anyString) as fc.Arbitrary<`sha256:${string}` | null>,
  payloadDigest: fc.oneof(digestOrNull, anyString) as fc.Arbitrary<`sha256:${string}` | null>,
  prevHash: anyString as fc.Arbitrary<`sha256:${string}`>,
});

describe('auditEntryCanonical', () => {
  it('is byte-identical to canonicalize() of the eight fields (property)', () => {
    fc.assert(
      fc.property(anyEntry, (e) => {
        fc.pre(!hasLoneSurrogate(e));
        expect(auditEntryCanonical(e)).toBe(canonicalize(e));
        expect(hashAuditEntry(e)).toBe(digestOf(e));
      }),
      { numRuns: 3000 },
    );
  });

  it('createAuditEntry refuses what canonicalize() refuses: lone surrogates (property)', () => {
    fc.assert(
      fc.property(anyString, fc.constantFrom('tenant', 'actor'), (s, field) => {
        fc.pre(LONE.test(s));
        expect(() => canonicalize({ s })).toThrow();
        expect(codeOf(() => createAuditEntry(null, { ...fields, [field]: s }))).toEqual({
          code: 'E_VALIDATION',
          parameter: field,
        });
      }),
    );
  });

  it('ignores fields outside the eight (a stored record hashes like its entry)', () => {
    const e = createAuditEntry(null, fields);
    expect(auditEntryCanonical(e)).toBe(canonicalize(eightFields(e)));
  });
});
