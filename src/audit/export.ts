/**
 * The offline audit export: a JSON Lines file anyone holding the audit public key can verify.
 *
 *   {"format":"strongroom-audit-export","version":1,"tenant":"acme","exportedAt":"..."}
 *   {"type":"checkpoint","tenant":...,"seq":...,"headHash":...,"at":...,"keyId":...,"signature":...}
 *   {"type":"entry","seq":1,"at":...,"tenant":...,"actor":...,"action":...,"requestDigest":...,
 *    "payloadDigest":...,"prevHash":...,"hash":...}
 *
 * Checkpoint lines come first so a single pass could verify, but readers accept them anywhere:
 * `verifyAuditExport` makes one pass for the header and checkpoints and a second, streamed, for entries.
 * The file is untrusted like the database it came from: only checkpoint signatures by trusted keys give
 * it weight.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { StrongroomError } from '../domain/errors.ts';
import type { AuditRecord } from './audit-entry.ts';
import type { SignedCheckpoint, TrustedAuditKeys } from './checkpoint.ts';
import { AuditChainVerifier, type AuditVerifyReport } from './verify-chain.ts';

export const AUDIT_EXPORT_FORMAT = 'strongroom-audit-export';
export const AUDIT_EXPORT_VERSION = 1;

export interface AuditExportHeader {
  readonly format: typeof AUDIT_EXPORT_FORMAT;
  readonly version: typeof AUDIT_EXPORT_VERSION;
  readonly tenant: string;
  /** ISO-8601 UTC, informative only. */
  readonly exportedAt?: string;
}

export type AuditExportItem =
  | { readonly type: 'header'; readonly header: AuditExportHeader; readonly line: number }
  | { readonly type: 'entry'; readonly record: AuditRecord; readonly line: number }
  | { readonly type: 'checkpoint'; readonly checkpoint: SignedCheckpoint; readonly line: number };

const ENTRY_PREFIX = '{"type":"entry"';
const FLUSH_AT = 1 << 16;

function entryLine(r: AuditRecord): string {
  // Fields picked one by one: a database row with extra columns must not leak them into the export.
  return JSON.stringify({
    type: 'entry',
    seq: r.seq,
    at: r.at,
    tenant: r.tenant,
    actor: r.actor,
    action: r.action,
    requestDigest: r.requestDigest,
    payloadDigest: r.payloadDigest,
    prevHash: r.prevHash,
    hash: r.hash,
  });
}

function checkpointLine(c: SignedCheckpoint): string {
  return JSON.stringify({
    type: 'checkpoint',
    tenant: c.tenant,
    seq: c.seq,
    headHash: c.headHash,
    at: c.at,
    keyId: c.keyId,
    signature: c.signature,
  });
}

/**
 * Writes an export to `path` (via `path.partial`, renamed when complete, so a crash never leaves a
 * plausible-looking short file). Streams `records`; returns the counts written.
 *
 * @example
 * await writeAuditExport('acme-audit.jsonl', { tenant: 'acme' }, rows, checkpoints);
 */
export async function writeAuditExport(
  path: string,
  header: { readonly tenant: string; readonly exportedAt?: string },
  records: Iterable<AuditRecord> | AsyncIterable<AuditRecord>,
  checkpoints: Iterable<SignedCheckpoint>,
): Promise<{ entries: number; checkpoints: number }> {
  if (typeof header?.tenant !== 'string' || header.tenant.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'audit export: header.tenant must be a non-empty string', {
      details: { parameter: 'header.tenant' },
    });
  }
  const partial = `${path}.partial`;
  const out = createWriteStream(partial, { flags: 'wx', mode: 0o644 });
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await once(out, 'drain');
  };
  const counts = { entries: 0, checkpoints: 0 };
  let opened = false;
  try {
    await once(out, 'open');
    opened = true;
    const head: AuditExportHeader = {
      format: AUDIT_EXPORT_FORMAT,
      version: AUDIT_EXPORT_VERSION,
      tenant: header.tenant,
      ...(header.exportedAt === undefined ? {} : { exportedAt: header.exportedAt }),
    };
    chunk += JSON.stringify(head) + '\n';
    for (const c of checkpoints) {
      chunk += checkpointLine(c) + '\n';
      counts.checkpoints++;
    }
    for await (const r of records) {
      chunk += entryLine(r) + '\n';
      counts.entries++;
      if (chunk.length >= FLUSH_AT) await flush();
    }
    await flush();
    out.end();
    await once(out, 'finish');
    await rename(partial, path);
    return counts;
  } catch (e) {
    out.destroy();
    // Only our own partial file: if opening failed it may belong to an export still running.
    if (opened) await rm(partial, { force: true });
    throw e;
  }
}

function parseLine(text: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new StrongroomError('E_JSON_MALFORMED', `audit export: line ${line} is not JSON`, {
      details: { line },
      cause,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StrongroomError('E_VALIDATION', `audit export: line ${line} is not a JSON object`, {
      details: { line },
    });
  }
  return value as Record<string, unknown>;
}

function parseHeader(text: string | undefined): AuditExportHeader {
  if (text === undefined) {
    throw new StrongroomError('E_VALIDATION', 'audit export: the file is empty', { details: { line: 1 } });
  }
  const h = parseLine(text, 1);
  if (
    h['format'] !== AUDIT_EXPORT_FORMAT ||
    h['version'] !== AUDIT_EXPORT_VERSION ||
    typeof h['tenant'] !== 'string' ||
    h['tenant'] === ''
  ) {
    throw new StrongroomError(
      'E_VALIDATION',
      `audit export: line 1 is not a ${AUDIT_EXPORT_FORMAT} version ${AUDIT_EXPORT_VERSION} header`,
      {
        details: { line: 1 },
        hints: ['the first line must be {"format":"strongroom-audit-export","version":1,"tenant":...}'],
      },
    );
  }
  return {
    format: AUDIT_EXPORT_FORMAT,
    version: AUDIT_EXPORT_VERSION,
    tenant: h['tenant'],
    ...(typeof h['exportedAt'] === 'string' ? { exportedAt: h['exportedAt'] } : {}),
  };
}

/** Keeps exactly the fields that are hashed or signed, whatever else a line carries. */
function toRecord(o: Record<string, unknown>): AuditRecord {
  return {
    seq: o['seq'],
    at: o['at'],
    tenant: o['tenant'],
    actor: o['actor'],
    action: o['action'],
    requestDigest: o['requestDigest'],
    payloadDigest: o['payloadDigest'],
    prevHash: o['prevHash'],
    hash: o['hash'],
  } as AuditRecord; // types are checked by the verifier, which reports a mistyped entry as edited
}

function toCheckpoint(o: Record<string, unknown>): SignedCheckpoint {
  return {
    tenant: o['tenant'],
    seq: o['seq'],
    headHash: o['headHash'],
    at: o['at'],
    keyId: o['keyId'],
    signature: o['signature'],
  } as SignedCheckpoint; // checked by verifyCheckpoint
}

async function* lines(path: string, skipEntries: boolean): AsyncGenerator<AuditExportItem> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  const it = rl[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    yield { type: 'header', header: parseHeader(first.done ? undefined : first.value), line: 1 };
    let line = 1;
    for (let next = await it.next(); !next.done; next = await it.next()) {
      line++;
      const text = next.value;
      if (text.length === 0) continue;
      // Pass one only needs the header and checkpoints: skip parsing the (many) entry lines.
      if (skipEntries && text.startsWith(ENTRY_PREFIX)) continue;
      const o = parseLine(text, line);
      if (o['type'] === 'entry') yield { type: 'entry', record: toRecord(o), line };
      else if (o['type'] === 'checkpoint') yield { type: 'checkpoint', checkpoint: toCheckpoint(o), line };
      else {
        throw new StrongroomError('E_VALIDATION', `audit export: line ${line} has an unknown type`, {
          details: { line },
        });
      }
    }
  } finally {
    rl.close();
  }
}

/**
 * Streams an export: the header first, then entries and checkpoints in file order. Throws
 * `E_JSON_MALFORMED` / `E_VALIDATION` (with `details.line`) for a line that is not an export line;
 * entry and checkpoint contents are left to the verifier.
 */
export function readAuditExport(path: string): AsyncGenerator<AuditExportItem> {
  return lines(path, false);
}

/**
 * Verifies an export offline against trusted audit public keys. `tenant`, if given, must match the
 * header (otherwise `E_VALIDATION`): pass it when you know whose log you expect.
 *
 * @example
 * const report = await verifyAuditExport('acme-audit.jsonl', new Map([[keyId, publicKeyRaw]]));
 */
export async function verifyAuditExport(
  path: string,
  trustedKeys: TrustedAuditKeys,
  options: { tenant?: string; maxProblems?: number } = {},
): Promise<AuditVerifyReport & { header: AuditExportHeader }> {
  let header: AuditExportHeader | undefined;
  const checkpoints: SignedCheckpoint[] = [];
  for await (const item of lines(path, true)) {
    if (item.type === 'header') header = item.header;
    else if (item.type === 'checkpoint') checkpoints.push(item.checkpoint);
  }
  if (header === undefined) throw new StrongroomError('E_INTERNAL', 'audit export: no header');
  if (options.tenant !== undefined && options.tenant !== header.tenant) {
    throw new StrongroomError(
      'E_VALIDATION',
      `audit export is for tenant ${JSON.stringify(header.tenant)}, not ${JSON.stringify(options.tenant)}`,
      {
        details: { parameter: 'tenant' },
      },
    );
  }
  const verifier = new AuditChainVerifier({
    tenant: header.tenant,
    checkpoints,
    trustedKeys,
    ...(options.maxProblems === undefined ? {} : { maxProblems: options.maxProblems }),
  });
  for await (const item of lines(path, false)) {
    if (item.type === 'entry') verifier.push(item.record);
  }
  return { ...verifier.finish(), header };
}
