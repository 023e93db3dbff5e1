/**
 * Audit chain (issue "Foundation", item 5): verify 1,000,000 entries end to end (target <= 10 s): read
 * them back from a SQLite file (better-sqlite3 iterate() over the audit_entries table the store uses) and
 * verify against a signed checkpoint at the head. Two ways of reading rows are measured: iterate() with row
 * objects (verifyAuditChain straight over the statement) and iterate() in raw mode, building records with
 * the tenant taken from the query (AuditChainVerifier.push): better-sqlite3 spends most of its time making
 * row objects and strings. Also: the offline path (write a JSON Lines export, then verifyAuditExport) and
 * createAuditEntry (the writer's hot path).
 * Baseline, measured in the same run: raw SHA-256 (node:crypto one-shot) over the very same canonical
 * bytes, one entry at a time: the floor any verifier of this chain has to pay.
 * Wall time and process CPU time are both reported: on a shared, loaded machine CPU time is the steadier.
 */
import { hash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { report, type Figure } from './harness.ts';
import { auditEntryCanonical, createAuditEntry, type AuditRecord } from '../src/audit/audit-entry.ts';
import { signCheckpoint, type SignedCheckpoint } from '../src/audit/checkpoint.ts';
import { verifyAuditExport, writeAuditExport } from '../src/audit/export.ts';
import { AuditChainVerifier, verifyAuditChain } from '../src/audit/verify-chain.ts';
import { InterimAuditSigner } from '../src/vault/interim-audit-signer.ts';

const N = 1_000_000;
const TENANT = 'tnt_bench';
const T0 = Date.UTC(2025, 0, 1);

const SCHEMA = `
  CREATE TABLE audit_entries (
    tenant_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    request_digest TEXT, payload_digest TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE audit_checkpoints (
    tenant_id TEXT NOT NULL, seq INTEGER NOT NULL, head_hash TEXT NOT NULL, at TEXT NOT NULL,
    key_id TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (tenant_id, seq)
  );`;

// Column aliases give rows the AuditRecord shape directly: no per-row mapping object.
const SELECT_ENTRIES = `SELECT seq, at, tenant_id AS tenant, actor, action, request_digest AS requestDigest,
  payload_digest AS payloadDigest, prev_hash AS prevHash, hash FROM audit_entries WHERE tenant_id = ? ORDER BY seq`;
// Raw rows, tenant omitted: it is the query's parameter, so every row has it (a row whose tenant_id was
// edited is not selected and shows up as a gap).
const SELECT_RAW = `SELECT seq, at, actor, action, request_digest, payload_digest, prev_hash, hash
  FROM audit_entries WHERE tenant_id = ? ORDER BY seq`;
const SELECT_CHECKPOINTS = `SELECT tenant_id AS tenant, seq, head_hash AS headHash, at, key_id AS keyId, signature
  FROM audit_checkpoints WHERE tenant_id = ? ORDER BY seq`;

const ACTIONS = [
  'request.submit',
  'request.approve',
  'request.sign',
  'user.create',
  'wallet.create',
  'policy.update',
];
const hex64 = (i: number, pad: string) => `sha256:${i.toString(16).padStart(64, pad)}` as const;

function fieldsOf(i: number) {
  return {
    at: new Date(T0 + i * 37).toISOString(),
    tenant: TENANT,
    actor: i % 5 === 0 ? 'system' : `key_${(i % 97).toString(36)}_ed25519_0123456789`,
    action: ACTIONS[i % ACTIONS.length]!,
    requestDigest: i % 4 === 0 ? null : hex64(i, 'a'),
    payloadDigest: hex64(i * 31, 'b'),
  };
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Median wall and CPU seconds of `rounds` runs of `fn`. */
async function timed(rounds: number, fn: () => Promise<void> | void): Promise<{ wall: number; cpu: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const c0 = cpuSeconds();
    await fn();
    walls.push(seconds(t0));
    cpus.push(cpuSeconds() - c0);
  }
  const mid = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  return { wall: mid(walls), cpu: mid(cpus) };
}

type RawRow = [number, string, string, string, string | null, string | null, string, string];

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-bench-audit-'));
  try {
    const signer = InterimAuditSigner.loadOrCreate(join(dir, 'keys', 'audit-interim.pem'));
    const trustedKeys = new Map([[signer.keyId, signer.publicKeyRaw()]]);

    // Build: createAuditEntry for 1M entries into SQLite; the canonical bytes are kept for the baseline.
    const dbPath = join(dir, 'audit.sqlite');
    const db = new Database(dbPath);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF'); // the build is not what is measured
    db.exec(SCHEMA);
    const insert = db.prepare(
      `INSERT INTO audit_entries (tenant_id, seq, at, actor, action, request_digest, payload_digest, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const canonical: Buffer[] = new Array<Buffer>(N);
    let prev: AuditRecord | null = null;
    const insertBatch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const e: AuditRecord = createAuditEntry(prev, fieldsOf(i));
        canonical[i] = Buffer.from(auditEntryCanonical(e));
        insert.run(
          e.tenant,
          e.seq,
          e.at,
          e.actor,
          e.action,
          e.requestDigest,
          e.payloadDigest,
          e.prevHash,
          e.hash,
        );
        prev = e;
      }
    });
    const tBuild = process.hrtime.bigint();
    for (let i = 0; i < N; i += 50_000) insertBatch(i, Math.min(N, i + 50_000));
    const buildSeconds = seconds(tBuild);
    const head = prev as AuditRecord | null;
    if (head === null || head.seq !== N) throw new Error('bench build failed');
    const cp = await signCheckpoint(signer, {
      tenant: TENANT,
      seq: head.seq,
      headHash: head.hash,
      at: new Date(T0 + N * 37).toISOString(),
    });
    db.prepare('INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?)').run(
      cp.tenant,
      cp.seq,
      cp.headHash,
      cp.at,
      cp.keyId,
      cp.signature,
    );
    db.close();
    const bytesPerEntry = canonical.reduce((s, b) => s + b.length, 0) / N;

    // Baseline: raw SHA-256 over the same canonical bytes, the same primitive the verifier uses.
    let sink = 0;
    const rawHash = () => {
      for (let i = 0; i < N; i++) sink += hash('sha256', canonical[i]!, 'hex').length;
    };
    rawHash();
    const raw = await timed(3, rawHash);

    // End to end, raw rows: open the file, load checkpoints, iterate() every row, verify.
    const check = (r: { ok: boolean; count: number; anchoredSeq: number; problems: unknown[] }) => {
      if (!r.ok || r.count !== N || r.anchoredSeq !== N)
        throw new Error(`bench chain did not verify: ${JSON.stringify(r.problems.slice(0, 3))}`);
    };
    const verifyRawRows = (): void => {
      const rdb = new Database(dbPath, { readonly: true });
      try {
        const checkpoints = rdb.prepare(SELECT_CHECKPOINTS).all(TENANT) as SignedCheckpoint[];
        const verifier = new AuditChainVerifier({ tenant: TENANT, checkpoints, trustedKeys });
        for (const row of rdb.prepare(SELECT_RAW).raw(true).iterate(TENANT) as IterableIterator<RawRow>) {
          verifier.push({
            seq: row[0],
            at: row[1],
            tenant: TENANT,
            actor: row[2],
            action: row[3],
            requestDigest: row[4] as AuditRecord['requestDigest'],
            payloadDigest: row[5] as AuditRecord['payloadDigest'],
            prevHash: row[6] as AuditRecord['prevHash'],
            hash: row[7] as AuditRecord['hash'],
          });
        }
        check(verifier.finish());
      } finally {
        rdb.close();
      }
    };
    // End to end, row objects: verifyAuditChain straight over the statement.
    const verifyObjectRows = async (): Promise<void> => {
      const rdb = new Database(dbPath, { readonly: true });
      try {
        const checkpoints = rdb.prepare(SELECT_CHECKPOINTS).all(TENANT) as SignedCheckpoint[];
        const rows = rdb.prepare(SELECT_ENTRIES).iterate(TENANT) as IterableIterator<AuditRecord>;
        check(await verifyAuditChain(rows, { tenant: TENANT, checkpoints, trustedKeys }));
      } finally {
        rdb.close();
      }
    };
    const readRawRows = (): void => {
      const rdb = new Database(dbPath, { readonly: true });
      for (const row of rdb.prepare(SELECT_RAW).raw(true).iterate(TENANT) as IterableIterator<RawRow>)
        sink += row[0];
      rdb.close();
    };
    const e2e = await timed(3, verifyRawRows);
    const e2eObjects = await timed(1, verifyObjectRows);
    const readOnly = await timed(1, readRawRows);

    // Offline: export 1M to JSON Lines, then verify the file.
    const exportPath = join(dir, 'audit-export.jsonl');
    const exportTime = await timed(1, async () => {
      const rdb = new Database(dbPath, { readonly: true });
      const rows = rdb.prepare(SELECT_ENTRIES).iterate(TENANT) as IterableIterator<AuditRecord>;
      await writeAuditExport(exportPath, { tenant: TENANT }, rows, [cp]);
      rdb.close();
    });
    const offline = await timed(1, async () =>
      check(await verifyAuditExport(exportPath, trustedKeys, { tenant: TENANT })),
    );
    const exportMiB = statSync(exportPath).size / 2 ** 20;

    // createAuditEntry alone (in memory), the writer's hot path; the fields are prepared beforehand.
    const M = 200_000;
    const inputs = Array.from({ length: M }, (_, i) => fieldsOf(i));
    const create = await timed(3, () => {
      let p: AuditRecord | null = null;
      for (let i = 0; i < M; i++) p = createAuditEntry(p, inputs[i]!);
      sink += p!.seq;
    });
    if (sink === 0) console.log('');

    const hashName = `raw SHA-256 of the same ${Math.round(bytesPerEntry)}-byte canonical entries`;
    const figures: Figure[] = [
      {
        name: 'verify 1M end to end: iterate() raw rows + verify, wall',
        value: e2e.wall,
        unit: 's',
        baseline: { name: `${hashName}, wall`, value: raw.wall, unit: 's' },
      },
      {
        name: 'verify 1M end to end: iterate() raw rows + verify, CPU',
        value: e2e.cpu,
        unit: 's',
        baseline: { name: `${hashName}, CPU`, value: raw.cpu, unit: 's' },
      },
      {
        name: 'verify end to end, throughput (CPU)',
        value: N / e2e.cpu,
        unit: 'entries/s',
        baseline: { name: 'raw SHA-256, one entry per call (CPU)', value: N / raw.cpu, unit: 'entries/s' },
      },
      { name: '  of which: iterate() raw rows alone, CPU', value: readOnly.cpu, unit: 's' },
      { name: 'verify 1M end to end: iterate() row objects, wall', value: e2eObjects.wall, unit: 's' },
      {
        name: 'verify 1M end to end: iterate() row objects, CPU',
        value: e2eObjects.cpu,
        unit: 's',
        baseline: { name: `${hashName}, CPU`, value: raw.cpu, unit: 's' },
      },
      {
        name: 'verify offline: verifyAuditExport (2 passes), CPU',
        value: offline.cpu,
        unit: 's',
        baseline: { name: `${hashName}, CPU`, value: raw.cpu, unit: 's' },
      },
      { name: '  verify offline, wall', value: offline.wall, unit: 's' },
      {
        name: `  write the export (${exportMiB.toFixed(0)} MiB) from SQLite, wall`,
        value: exportTime.wall,
        unit: 's',
      },
      {
        name: 'createAuditEntry (validate + canonical + hash), CPU',
        value: M / create.cpu,
        unit: 'entries/s',
        baseline: { name: 'raw SHA-256, one entry per call (CPU)', value: N / raw.cpu, unit: 'entries/s' },
      },
      {
        name: 'build: createAuditEntry + INSERT, 1M rows (not a target)',
        value: N / buildSeconds,
        unit: 'entries/s',
      },
    ];
    report('audit', figures);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
