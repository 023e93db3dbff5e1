import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuditEntry, hashAuditEntry, type AuditRecord } from './audit-entry.ts';
import { signCheckpoint, type CheckpointSigner, type SignedCheckpoint } from './checkpoint.ts';
import { verifyAuditChain, type AuditProblem } from './verify-chain.ts';

const TENANT = 'acme';

// A throwaway Ed25519 signer (tests may use node:crypto directly; production uses the vault's key).
function testSigner(keyId = 'audit-test'): CheckpointSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return {
    keyId,
    publicKeyRaw: () => new Uint8Array(raw),
    sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
  };
}
const signer = testSigner();
const trustedKeys = new Map([[signer.keyId, signer.publicKeyRaw()]]);

function at(i: number): string {
  return new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString();
}

function chain(n: number, tenant = TENANT): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prev: AuditRecord | null = null;
  for (let i = 0; i < n; i++) {
    prev = createAuditEntry(prev, {
      at: at(i),
      tenant,
      actor: i % 3 === 0 ? 'system' : `key-${i % 7}`,
      action: ['user.create', 'request.approve', 'wallet.create'][i % 3]!,
      requestDigest: i % 2 === 0 ? `sha256:${i.toString(16).padStart(64, '0')}` : null,
      payloadDigest: `sha256:${(i * 7919).toString(16).padStart(64, 'f')}`,
    });
    out.push(prev);
  }
  return out;
}

function checkpointAt(records: AuditRecord[], seq: number, tenant = TENANT): Promise<SignedCheckpoint> {
  return signCheckpoint(signer, { tenant, seq, headHash: records[seq - 1]!.hash, at: at(10_000 + seq) });
}

/** Recomputes a record's hash after an edit, as an attacker who knows the format would. */
function rehash(r: AuditRecord): AuditRecord {
  return { ...r, hash: hashAuditEntry(r) };
}

async function verify(records: AuditRecord[], checkpoints: SignedCheckpoint[] = []) {
  return verifyAuditChain(records, { tenant: TENANT, checkpoints, trustedKeys });
}

const kinds = (problems: AuditProblem[]) => problems.map((p) => ({ kind: p.kind, seq: p.seq }));

describe('verifyAuditChain: clean chains', () => {
  it('verifies a clean chain and reports its head and anchor', async () => {
    const records = chain(50);
    const report = await verify(records, [await checkpointAt(records, 20), await checkpointAt(records, 50)]);
    expect(report).toEqual({
      ok: true,
      tenant: TENANT,
      count: 50,
      headSeq: 50,
      headHash: records[49]!.hash,
      anchoredSeq: 50,
      problems: [],
      omittedProblems: 0,
    });
  });

  it('verifies an empty chain, and reads async iterables', async () => {
    expect(await verify([])).toMatchObject({ ok: true, count: 0, headSeq: 0 });
    const records = chain(10);
    async function* gen() {
      yield* records;
    }
    const report = await verifyAuditChain(gen(), { tenant: TENANT, trustedKeys });
    expect(report).toMatchObject({ ok: true, count: 10, headSeq: 10, anchoredSeq: 0 });
  });

  it('rejects bad options with E_VALIDATION', async () => {
    await expect(verifyAuditChain([], { tenant: '', trustedKeys })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    });
    await expect(
      verifyAuditChain([], { tenant: TENANT, trustedKeys: {} as unknown as Map<string, Uint8Array> }),
    ).rejects.toMatchObject({ code: 'E_VALIDATION' });
  });
});

describe('verifyAuditChain: names each kind of tampering', () => {
  const N = 30;

  it('edited: a field changed, hash left alone', async () => {
    const records = chain(N);
    records[11] = { ...records[11]!, actor: 'key-evil' };
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'edited', seq: 12 }]);
  });

  it('edited: a field changed and the hash recomputed (the successor still links to the old hash)', async () => {
    const records = chain(N);
    records[11] = rehash({ ...records[11]!, action: 'wallet.delete' });
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'edited', seq: 12 }]);
  });

  it('edited: only the stored hash changed', async () => {
    const records = chain(N);
    records[5] = { ...records[5]!, hash: `sha256:${'e'.repeat(64)}` };
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'edited', seq: 6 }]);
  });

  it('edited: a malformed record', async () => {
    const records = chain(N);
    records[5] = { ...records[5]!, seq: '6' as unknown as number };
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'edited', seq: 6 }]);
  });

  it('deleted: one entry, a range, and the first entry', async () => {
    const one = chain(N);
    one.splice(9, 1);
    expect(kinds((await verify(one)).problems)).toEqual([{ kind: 'deleted', seq: 10 }]);

    const range = chain(N);
    range.splice(9, 4);
    const report = await verify(range);
    expect(kinds(report.problems)).toEqual([{ kind: 'deleted', seq: 10 }]);
    expect(report.problems[0]!.message).toContain('10..13');

    const first = chain(N);
    first.shift();
    expect(kinds((await verify(first)).problems)).toEqual([{ kind: 'deleted', seq: 1 }]);
  });

  it('inserted: a forged, correctly chained twin before or after the genuine entry', async () => {
    const records = chain(N);
    const forged = createAuditEntry(records[9]!, {
      at: at(10),
      tenant: TENANT,
      actor: 'key-evil',
      action: 'wallet.drain',
    });
    expect(forged.seq).toBe(11);

    const before = [...records.slice(0, 10), forged, ...records.slice(10)];
    expect(kinds((await verify(before)).problems)).toEqual([{ kind: 'inserted', seq: 11 }]);

    const after = [...records.slice(0, 11), forged, ...records.slice(11)];
    expect(kinds((await verify(after)).problems)).toEqual([{ kind: 'inserted', seq: 11 }]);
  });

  it("inserted: a garbage record, a duplicate of an earlier entry, another tenant's entry", async () => {
    const records = chain(N);
    const garbage = { ...records[3]!, seq: 99, action: 'x.y' };
    const withGarbage = [...records.slice(0, 10), garbage, ...records.slice(10)];
    expect(kinds((await verify(withGarbage)).problems)).toEqual([{ kind: 'inserted', seq: 99 }]);

    const withCopy = [...records.slice(0, 10), records[3]!, ...records.slice(10)];
    expect(kinds((await verify(withCopy)).problems)).toEqual([{ kind: 'inserted', seq: 4 }]);

    const foreign = chain(N, 'other')[10]!;
    const withForeign = [...records.slice(0, 10), foreign, ...records.slice(10)];
    expect(kinds((await verify(withForeign)).problems)).toEqual([{ kind: 'inserted', seq: 11 }]);
  });

  it('inserted: an appended record that does not link', async () => {
    const records = chain(N);
    const tail = createAuditEntry(
      { seq: N, hash: `sha256:${'1'.repeat(64)}` },
      { at: at(N), tenant: TENANT, actor: 'x', action: 'a.b' },
    );
    expect(kinds((await verify([...records, tail])).problems)).toEqual([{ kind: 'inserted', seq: N + 1 }]);
  });

  // A database's primary key on (tenant, seq) forces a tamperer to renumber rows to insert or delete in
  // the middle; the verifier follows the renumbering and names the cause once.
  const renumbered = (records: AuditRecord[], from: number, by: number) =>
    records.map((r, i) => (i >= from ? { ...r, seq: r.seq + by } : r));

  it('inserted: a row inserted in a database, later rows renumbered to make room', async () => {
    const records = chain(N);
    const garbage = { ...records[1]!, seq: 3, actor: 'k_mallory', prevHash: records[1]!.hash };
    const withGarbage = [...records.slice(0, 2), garbage, ...renumbered(records, 2, 1).slice(2)];
    const cp = await checkpointAt(records, N);
    const report = await verify(withGarbage, [cp]);
    expect(kinds(report.problems)).toEqual([{ kind: 'inserted', seq: 3 }]);
    expect(report.problems[0]!.message).toContain('renumbered by +1');
    expect(report).toMatchObject({ headSeq: N, anchoredSeq: N });

    const forged = createAuditEntry(records[1]!, {
      at: at(2),
      tenant: TENANT,
      actor: 'k_mallory',
      action: 'a.b',
    });
    const withForged = [...records.slice(0, 2), forged, ...renumbered(records, 2, 1).slice(2)];
    expect(kinds((await verify(withForged, [cp])).problems)).toEqual([{ kind: 'inserted', seq: 3 }]);
  });

  it('deleted: rows deleted in a database, later rows renumbered to close the gap', async () => {
    const records = chain(N);
    const cp = await checkpointAt(records, N);
    for (const gap of [1, 3]) {
      const closed = [...records.slice(0, 9), ...renumbered(records, 9 + gap, -gap).slice(9 + gap)];
      const report = await verify(closed, [cp]);
      expect(kinds(report.problems)).toEqual([{ kind: 'deleted', seq: 10 }]);
      expect(report.problems[0]!.message).toContain(`renumbered by -${gap}`);
      // Seqs are the chain's (as hashed): the head is still entry N, as its checkpoint says.
      expect(report).toMatchObject({ count: N - gap, headSeq: N, anchoredSeq: N });
    }
  });

  it('reordered: two lines swapped (seq fields intact)', async () => {
    const records = chain(N);
    [records[7], records[8]] = [records[8]!, records[7]!];
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'reordered', seq: 8 }]);
  });

  it('reordered: seq values swapped between two rows (as a database UPDATE would)', async () => {
    const records = chain(N);
    const a = records[7]!;
    const b = records[8]!;
    records[7] = { ...b, seq: 8 };
    records[8] = { ...a, seq: 9 };
    expect(kinds((await verify(records)).problems)).toEqual([{ kind: 'reordered', seq: 8 }]);
  });

  it('reordered: a rotation of three, the last two entries, and an entry moved far away', async () => {
    const rot = chain(N);
    rot.splice(4, 3, rot[6]!, rot[4]!, rot[5]!);
    expect(kinds((await verify(rot)).problems)).toEqual([{ kind: 'reordered', seq: 5 }]);

    const tail = chain(N);
    tail.splice(N - 2, 2, tail[N - 1]!, tail[N - 2]!);
    expect(kinds((await verify(tail)).problems)).toEqual([{ kind: 'reordered', seq: N - 1 }]);

    const far = chain(N);
    const [moved] = far.splice(3, 1);
    far.splice(20, 0, moved!);
    expect(kinds((await verify(far)).problems)).toEqual([{ kind: 'reordered', seq: 4 }]);
  });

  it('truncated: entries after a signed checkpoint were removed', async () => {
    const records = chain(N);
    const cps = [await checkpointAt(records, 10), await checkpointAt(records, 25)];
    const report = await verify(records.slice(0, 21), cps);
    expect(kinds(report.problems)).toEqual([{ kind: 'truncated', seq: 22 }]);
    expect(report).toMatchObject({ ok: false, headSeq: 21, anchoredSeq: 10 });
  });

  it('checkpoint-mismatch: the tail was cut and rewritten up to the checkpoint', async () => {
    const records = chain(N);
    const cp = await checkpointAt(records, N);
    const rewritten = records.slice(0, 20);
    let prev = rewritten[19]!;
    for (let i = 20; i < N; i++)
      rewritten.push(
        (prev = createAuditEntry(prev, { at: at(i), tenant: TENANT, actor: 'x', action: 'a.b' })),
      );
    expect(kinds((await verify(rewritten, [cp])).problems)).toEqual([
      { kind: 'checkpoint-mismatch', seq: N },
    ]);
  });

  it('checkpoint-signature: a forged signature, an untrusted key, a malformed checkpoint', async () => {
    const records = chain(N);
    const good = await checkpointAt(records, N);
    const forgedHead = { ...good, headHash: `sha256:${'2'.repeat(64)}` as const };
    const stranger = await signCheckpoint(testSigner('audit-stranger'), {
      tenant: TENANT,
      seq: N,
      headHash: records[N - 1]!.hash,
      at: at(1),
    });
    const report = await verify(records, [forgedHead, stranger, { ...good, signature: 'AAAA' }]);
    expect(kinds(report.problems)).toEqual([
      { kind: 'checkpoint-signature', seq: N },
      { kind: 'checkpoint-signature', seq: N },
      { kind: 'checkpoint-signature', seq: N },
    ]);
    expect(report.anchoredSeq).toBe(0);
  });

  it('checkpoint-mismatch: a valid checkpoint of another tenant', async () => {
    const records = chain(N);
    const other = await signCheckpoint(signer, {
      tenant: 'other',
      seq: 5,
      headHash: records[4]!.hash,
      at: at(1),
    });
    expect(kinds((await verify(records, [other])).problems)).toEqual([
      { kind: 'checkpoint-mismatch', seq: 5 },
    ]);
  });

  it('caps the problem list and counts the rest', async () => {
    const records = chain(N).map((r) => ({ ...r, actor: 'evil' }));
    const report = await verifyAuditChain(records, { tenant: TENANT, trustedKeys, maxProblems: 5 });
    expect(report.problems).toHaveLength(5);
    expect(report.omittedProblems).toBe(N - 5);
    expect(report.ok).toBe(false);
  });
});

describe('verifyAuditChain: properties', () => {
  const N = 25;
  const base = chain(N);
  const FIELDS = [
    'seq',
    'at',
    'tenant',
    'actor',
    'action',
    'requestDigest',
    'payloadDigest',
    'prevHash',
    'hash',
  ] as const;
  const anyValue = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.constant(null),
    fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `sha256:${h}`),
  );

  it('any single-field change to any entry is detected and named "edited" at that seq', async () => {
    const cp = await checkpointAt(base, N);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: N - 1 }),
        fc.constantFrom(...FIELDS),
        anyValue,
        async (i, field, value) => {
          const original = base[i]![field];
          fc.pre(JSON.stringify(value) !== JSON.stringify(original));
          const records = [...base];
          records[i] = { ...base[i]!, [field]: value };
          const report = await verify(records, [cp]);
          expect(kinds(report.problems)).toEqual([{ kind: 'edited', seq: i + 1 }]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any single deletion is named "deleted" (or "truncated" for the anchored head)', async () => {
    const cp = await checkpointAt(base, N);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: N - 1 }), async (i) => {
        const records = base.filter((_, j) => j !== i);
        const report = await verify(records, [cp]);
        expect(kinds(report.problems)).toEqual([{ kind: i === N - 1 ? 'truncated' : 'deleted', seq: i + 1 }]);
      }),
    );
  });

  it('any swap of two adjacent entries is named "reordered"', async () => {
    const cp = await checkpointAt(base, N);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: N - 2 }), async (i) => {
        const records = [...base];
        [records[i], records[i + 1]] = [records[i + 1]!, records[i]!];
        expect(kinds((await verify(records, [cp])).problems)).toEqual([{ kind: 'reordered', seq: i + 1 }]);
      }),
    );
  });
});

describe('verifyAuditChain: every single tampering at every position', () => {
  const N = 30;
  const base = chain(N);
  const names = async (records: AuditRecord[], cps: SignedCheckpoint[]) =>
    (await verify(records, cps)).problems.map((p) => `${p.kind}@${p.seq}`);

  it('names edits, deletions, duplicates, forgeries, swaps and moves exactly', async () => {
    const cp = await checkpointAt(base, N);
    const wrong: string[] = [];
    const expectNames = async (label: string, records: AuditRecord[], want: string[]) => {
      const got = await names(records, [cp]);
      if (JSON.stringify(got) !== JSON.stringify(want))
        wrong.push(`${label}: want ${want.join(',')} got ${got.join(',')}`);
    };
    // Lookahead lets a swap or move within this distance be named as one reordering.
    const NEAR = 15;
    for (let i = 0; i < N; i++) {
      const edits = { actor: 'evil', at: at(99_999), seq: i + 101, prevHash: `sha256:${'c'.repeat(64)}` };
      for (const [field, value] of Object.entries(edits)) {
        for (const recompute of [false, true]) {
          const records = [...base];
          const edited = { ...base[i]!, [field]: value };
          records[i] = recompute ? rehash(edited) : edited;
          // A rewritten, rehashed head is only caught by the checkpoint (its seq/prevHash rewrite also breaks a link).
          if (recompute && i === N - 1) continue;
          await expectNames(`edit ${field} rehash=${recompute} #${i + 1}`, records, [`edited@${i + 1}`]);
        }
      }
      await expectNames(
        `delete #${i + 1}`,
        base.filter((_, j) => j !== i),
        [i === N - 1 ? `truncated@${N}` : `deleted@${i + 1}`],
      );
      for (let j = 0; j <= N; j++) {
        const records = [...base];
        records.splice(j, 0, base[i]!);
        await expectNames(`duplicate #${i + 1} at ${j}`, records, [`inserted@${i + 1}`]);
      }
      if (i < N - 1) {
        const forged = createAuditEntry(base[i]!, {
          at: at(5),
          tenant: TENANT,
          actor: 'evil',
          action: 'wallet.drain',
        });
        await expectNames(
          `forged after #${i + 1}`,
          [...base.slice(0, i + 1), forged, ...base.slice(i + 1)],
          [`inserted@${i + 2}`],
        );
      }
      for (let d = 1; i + d < N; d++) {
        const swapped = [...base];
        [swapped[i], swapped[i + d]] = [swapped[i + d]!, swapped[i]!];
        await expectNames(
          `swap #${i + 1} and #${i + d + 1}`,
          swapped,
          d < NEAR ? [`reordered@${i + 1}`] : [`reordered@${i + 1}`, `reordered@${i + d + 1}`],
        );
        const later = [...base];
        later.splice(i + d, 0, ...later.splice(i, 1));
        await expectNames(`move #${i + 1} later by ${d}`, later, [`reordered@${i + 1}`]);
        const earlier = [...base];
        earlier.splice(i, 0, ...earlier.splice(i + d, 1));
        await expectNames(`move #${i + d + 1} earlier by ${d}`, earlier, [
          d < NEAR ? `reordered@${i + 1}` : `reordered@${i + d + 1}`,
        ]);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('any combination of up to three tamperings is detected (property)', async () => {
    const cp = await checkpointAt(base, N);
    const op = fc.oneof(
      fc.record({ t: fc.constant('edit' as const), i: fc.nat(), recompute: fc.boolean() }),
      fc.record({ t: fc.constant('delete' as const), i: fc.nat() }),
      fc.record({ t: fc.constant('duplicate' as const), i: fc.nat(), j: fc.nat() }),
      fc.record({ t: fc.constant('swap' as const), i: fc.nat(), d: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ t: fc.constant('forge' as const), i: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 3 }), async (ops) => {
        const records = [...base];
        for (const o of ops) {
          const i = o.i % records.length;
          if (o.t === 'edit') {
            const edited = { ...records[i]!, actor: 'evil' };
            records[i] = o.recompute ? rehash(edited) : edited;
          } else if (o.t === 'delete') records.splice(i, 1);
          else if (o.t === 'duplicate') records.splice(o.j % records.length, 0, records[i]!);
          else if (o.t === 'swap') {
            const j = Math.min(records.length - 1, i + o.d);
            [records[i], records[j]] = [records[j]!, records[i]!];
          } else
            records.splice(
              i + 1,
              0,
              createAuditEntry(records[i]!, { at: at(1), tenant: TENANT, actor: 'evil', action: 'a.b' }),
            );
        }
        const unchanged = JSON.stringify(records) === JSON.stringify(base);
        // Entries appended after the newest checkpoint are out of any verifier's reach, by design.
        const onlyAppended =
          records.length > N && JSON.stringify(records.slice(0, N)) === JSON.stringify(base);
        fc.pre(!unchanged && !onlyAppended);
        expect((await verify(records, [cp])).ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
