import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditEntry, type AuditRecord } from './audit-entry.ts';
import { signCheckpoint, type CheckpointSigner } from './checkpoint.ts';
import { readAuditExport, verifyAuditExport, writeAuditExport, type AuditExportItem } from './export.ts';

const TENANT = 'acme';
const dir = mkdtempSync(join(tmpdir(), 'strongroom-audit-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer: CheckpointSigner = {
  keyId: 'audit-test',
  publicKeyRaw: () => new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')),
  sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
};
const trustedKeys = new Map([[signer.keyId, signer.publicKeyRaw()]]);

const at = (i: number) => new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString();
function chain(n: number): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      createAuditEntry(out[i - 1] ?? null, {
        at: at(i),
        tenant: TENANT,
        actor: 'key-1',
        action: 'user.create',
        payloadDigest: `sha256:${'ab'.repeat(32)}`,
      }),
    );
  }
  return out;
}

let fileNo = 0;
async function exported(records: AuditRecord[], n = records.length) {
  const path = join(dir, `export-${++fileNo}.jsonl`);
  const cps = [
    await signCheckpoint(signer, { tenant: TENANT, seq: n, headHash: records[n - 1]!.hash, at: at(1000) }),
  ];
  await writeAuditExport(path, { tenant: TENANT, exportedAt: at(2000) }, records, cps);
  return { path, cps };
}

async function collect(path: string): Promise<AuditExportItem[]> {
  const items: AuditExportItem[] = [];
  for await (const item of readAuditExport(path)) items.push(item);
  return items;
}

/** Rewrites a file's lines, as someone with the file would. */
function editLines(path: string, fn: (lines: string[]) => string[]): void {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  writeFileSync(path, fn(lines).join('\n') + '\n');
}

describe('audit export', () => {
  it('round-trips: header, checkpoints and entries read back equal, and verify', async () => {
    const records = chain(40);
    async function* source() {
      yield* records;
    }
    const path = join(dir, 'round-trip.jsonl');
    const cps = [
      await signCheckpoint(signer, { tenant: TENANT, seq: 40, headHash: records[39]!.hash, at: at(1000) }),
    ];
    expect(await writeAuditExport(path, { tenant: TENANT, exportedAt: at(2000) }, source(), cps)).toEqual({
      entries: 40,
      checkpoints: 1,
    });
    expect(existsSync(`${path}.partial`)).toBe(false);

    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')[0]).toBe(
      `{"format":"strongroom-audit-export","version":1,"tenant":"acme","exportedAt":"${at(2000)}"}`,
    );

    const items = await collect(path);
    expect(items[0]).toEqual({
      type: 'header',
      header: { format: 'strongroom-audit-export', version: 1, tenant: TENANT, exportedAt: at(2000) },
      line: 1,
    });
    expect(
      items.filter((i) => i.type === 'checkpoint').map((i) => i.type === 'checkpoint' && i.checkpoint),
    ).toEqual(cps);
    expect(items.filter((i) => i.type === 'entry').map((i) => i.type === 'entry' && i.record)).toEqual(
      records,
    );

    const report = await verifyAuditExport(path, trustedKeys, { tenant: TENANT });
    expect(report).toMatchObject({
      ok: true,
      count: 40,
      headSeq: 40,
      headHash: records[39]!.hash,
      anchoredSeq: 40,
      problems: [],
    });
  });

  it('does not export columns outside the entry (a database row with extras)', async () => {
    const records = chain(3).map((r) => ({ ...r, secretColumn: 'do-not-export' }));
    const { path } = await exported(records);
    expect(readFileSync(path, 'utf8')).not.toContain('do-not-export');
    expect((await verifyAuditExport(path, trustedKeys)).ok).toBe(true);
  });

  it('names tampering done to the file', async () => {
    const records = chain(30);
    const edited = await exported(records);
    editLines(edited.path, (l) =>
      l.map((line, i) => (i === 12 ? line.replace('"actor":"key-1"', '"actor":"key-9"') : line)),
    );
    expect((await verifyAuditExport(edited.path, trustedKeys)).problems.map((p) => [p.kind, p.seq])).toEqual([
      ['edited', 11],
    ]);

    // Line 0 is the header, line 1 the checkpoint, line 1 + s holds entry s.
    const swapped = await exported(records);
    editLines(swapped.path, (l) => [...l.slice(0, 6), l[7]!, l[6]!, ...l.slice(8)]);
    expect((await verifyAuditExport(swapped.path, trustedKeys)).problems.map((p) => [p.kind, p.seq])).toEqual(
      [['reordered', 5]],
    );

    const truncated = await exported(records);
    editLines(truncated.path, (l) => l.slice(0, 22));
    expect(
      (await verifyAuditExport(truncated.path, trustedKeys)).problems.map((p) => [p.kind, p.seq]),
    ).toEqual([['truncated', 21]]);

    const forged = await exported(records);
    editLines(forged.path, (l) =>
      l.map((line, i) =>
        i === 1
          ? line.replace(/"signature":"(.)/, (_, c: string) => `"signature":"${c === 'A' ? 'B' : 'A'}`)
          : line,
      ),
    );
    const report = await verifyAuditExport(forged.path, trustedKeys);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([['checkpoint-signature', 30]]);
    expect(report.anchoredSeq).toBe(0);
  });

  it('rejects a file that is not an export, with the line number', async () => {
    const { path } = await exported(chain(5));
    const notJson = join(dir, 'not-json.jsonl');
    writeFileSync(notJson, readFileSync(path, 'utf8').replace(/\n\{"type":"entry","seq":3/, '\n{oops'));
    await expect(verifyAuditExport(notJson, trustedKeys)).rejects.toMatchObject({
      code: 'E_JSON_MALFORMED',
      details: { line: 5 },
    });

    const noHeader = join(dir, 'no-header.jsonl');
    writeFileSync(noHeader, readFileSync(path, 'utf8').split('\n').slice(1).join('\n'));
    await expect(verifyAuditExport(noHeader, trustedKeys)).rejects.toMatchObject({
      code: 'E_VALIDATION',
      details: { line: 1 },
    });

    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    await expect(collect(empty)).rejects.toMatchObject({ code: 'E_VALIDATION', details: { line: 1 } });

    await expect(verifyAuditExport(path, trustedKeys, { tenant: 'other' })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    });
  });

  it('leaves no file behind when the source fails midway', async () => {
    const path = join(dir, 'failed.jsonl');
    async function* failing() {
      yield* chain(3);
      throw new Error('database went away');
    }
    await expect(writeAuditExport(path, { tenant: TENANT }, failing(), [])).rejects.toThrow(
      'database went away',
    );
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });
});
