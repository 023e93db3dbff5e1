/**
 * The `strongroom` command as a user runs it: key files, one-shot init, a real server process, directory
 * commands over signed HTTP, and `audit verify` catching every kind of tampering in the database file and in
 * an export file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import BetterSqlite3 from 'better-sqlite3';
import { hashAuditEntry } from '../../src/audit/audit-entry.ts';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'src/cli/main.ts');

function sr(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('strongroom CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-cli-'));
  const data = join(dir, 'data');
  let server: ChildProcess | undefined;
  let url = '';

  beforeAll(async () => {
    expect(sr(['keys', 'generate', '--out', join(dir, 'admin.key')]).code).toBe(0);
    expect(sr(['keys', 'generate', '--out', join(dir, 'bob.key'), '--alg', 'ecdsa-p256-sha256']).code).toBe(
      0,
    );
  });
  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes key files with mode 0600 and refuses to overwrite one', () => {
    expect(statSync(join(dir, 'admin.key')).mode & 0o777).toBe(0o600);
    const again = sr(['keys', 'generate', '--out', join(dir, 'admin.key')]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('E_CONFLICT');
    expect(readFileSync(join(dir, 'admin.key'), 'utf8')).toContain('PRIVATE KEY');
  });

  it('initializes once; a second run fails with E_ALREADY_INITIALIZED and changes nothing', () => {
    const first = sr([
      'init',
      '--data',
      data,
      '--tenant',
      'acme',
      '--admin',
      `alice=${join(dir, 'admin.key')}`,
    ]);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out).admins[0].name).toBe('alice');
    writeFileSync(join(dir, 'tenant.json'), first.out);
    const db = join(data, 'strongroom.db');
    const snapshot = () => {
      const d = new BetterSqlite3(db, { readonly: true });
      const rows = [
        'tenants',
        'users',
        'user_keys',
        'groups',
        'group_members',
        'audit_entries',
        'system_state',
      ].map((t) => JSON.stringify(d.prepare(`select * from ${t} order by 1`).all()));
      d.close();
      return rows.join('\n');
    };
    const before = snapshot();
    const second = sr([
      'init',
      '--data',
      data,
      '--tenant',
      'other',
      '--admin',
      `bob=${join(dir, 'bob.key')}`,
    ]);
    expect(second.code).toBe(1);
    expect(second.err).toContain('E_ALREADY_INITIALIZED');
    expect(snapshot()).toBe(before);
  });

  it('serves, and manages users and groups with signed requests', async () => {
    server = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--data', data, '--port', '0'], {
      cwd: ROOT,
    });
    const rl = createInterface({ input: server.stdout! });
    url = await new Promise<string>((resolve, reject) => {
      rl.on('line', (l) => {
        const m = /listening on (http:\/\/\S+)/.exec(l);
        if (m) resolve(m[1]!);
      });
      server!.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
    });
    const env = { STRONGROOM_SERVER: url, STRONGROOM_KEY: join(dir, 'admin.key') };
    const bob = await runAsync(['users', 'add', 'bob', '--public-key-file', join(dir, 'bob.key')], env);
    expect(bob.code, bob.err).toBe(0);
    const bobId = JSON.parse(bob.out).id;
    const group = JSON.parse((await runAsync(['groups', 'add', 'traders'], env)).out);
    const added = await runAsync(['groups', 'add-member', group.id, bobId], env);
    expect(JSON.parse(added.out).members).toEqual([bobId]);
    const req = await runAsync(
      [
        'requests',
        'transfer',
        '--key',
        join(dir, 'bob.key'),
        '--asset',
        'BTC',
        '--amount',
        '0.5',
        '--from',
        'wal_x',
        '--to',
        'bcrt1qxyz',
      ],
      { STRONGROOM_SERVER: url },
    );
    expect(req.code, req.err).toBe(0);
    expect(JSON.parse(req.out).payload.amount).toBe('50000000');
    const denied = await runAsync(['groups', 'add', 'hackers', '--key', join(dir, 'bob.key')], {
      STRONGROOM_SERVER: url,
    });
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('E_FORBIDDEN');

    // Policy as code: a document's own tests pass, and a broken expectation fails the command.
    const policy = (expectSmall: string) => `version: 1
name: treasury
rules:
  - id: big
    when: { amount: { min: "100000000" } }
    action: { workflow: { steps: [ { group: ops, k: 2 } ], expiresInSeconds: 86400 } }
  - id: small
    when: { requestType: [transfer] }
    action: approve
tests:
  - name: small transfer
    request: { type: transfer, initiator: u1, amount: "5" }
    context: {}
    expect: { decision: ${expectSmall} }
`;
    writeFileSync(join(dir, 'policy.yaml'), policy('approve'));
    writeFileSync(join(dir, 'policy-bad.yaml'), policy('deny'));
    const good = await runAsync(['policy', 'test', join(dir, 'policy.yaml')], env);
    expect(good.code, good.out + good.err).toBe(0);
    const bad = await runAsync(['policy', 'test', join(dir, 'policy-bad.yaml')], env);
    expect(bad.code, bad.out + bad.err).not.toBe(0);
    expect(bad.out + bad.err).toContain('small transfer');

    // Key ceremony through the embedded vault's local socket; passphrases are read from stdin, never argv.
    const tenant = JSON.parse(readFileSync(join(dir, 'tenant.json'), 'utf8')).tenantId;
    const socket = ['--tenant', tenant, '--socket', join(data, 'vault.sock')];
    const lines =
      [
        'carol',
        'pass-carol',
        'pass-carol',
        'dan',
        'pass-dan',
        'pass-dan',
        'erin',
        'pass-erin',
        'pass-erin',
      ].join('\n') + '\n';
    const init = await runAsync(
      ['ceremony', 'init', ...socket, '--custodians', '3', '--threshold', '2', '--out', join(dir, 'shares')],
      {},
      lines,
    );
    expect(init.code, init.err).toBe(0);
    const files = JSON.parse(init.out).shareFiles as string[];
    expect(files).toHaveLength(3);
    expect(statSync(files[0]!).mode & 0o777).toBe(0o600);
    expect(init.out + init.err).not.toContain('pass-carol');
    expect(JSON.parse((await runAsync(['ceremony', 'seal', ...socket], {})).out).state).toBe('sealed');
    const unseal = await runAsync(
      ['ceremony', 'unseal', ...socket, '--share', files[1]!, files[2]!],
      {},
      'pass-dan\npass-erin\n',
    );
    expect(unseal.code, unseal.err).toBe(0);
    expect(JSON.parse(unseal.out).state).toBe('unsealed');
    const status = await fetch(`${url}/v1/me`);
    expect(status.status).toBe(401);

    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
    server = undefined;
  });

  it('audit verify passes on the untouched database and its export', () => {
    const ok = sr(['audit', 'verify', '--data', data]);
    expect(ok.code, ok.out + ok.err).toBe(0);
    expect(ok.out).toMatch(/^OK /);
    const out = join(dir, 'audit.jsonl');
    const exp = sr(['audit', 'export', '--data', data, '--out', out]);
    expect(exp.code, exp.err).toBe(0);
    // The export names every key this installation trusts (interim key, then the vault's audit key).
    const trusted = [...exp.out.matchAll(/--trusted-key (\S+)/g)].map((m) => m[1]!);
    expect(trusted.length).toBe(2);
    const v = sr(['audit', 'verify', '--file', out, '--trusted-key', ...trusted]);
    expect(v.code, v.out + v.err).toBe(0);
    // An export edited by hand fails.
    const lines = readFileSync(out, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"user.create"'));
    lines[i] = lines[i]!.replace('"user.create"', '"user.delete"');
    writeFileSync(join(dir, 'edited.jsonl'), lines.join('\n'));
    const bad = sr(['audit', 'verify', '--file', join(dir, 'edited.jsonl'), '--trusted-key', ...trusted]);
    expect(bad.code).toBe(3);
    expect(bad.out).toContain('edited');
  });

  const tampers: Array<[string, string, (d: BetterSqlite3.Database) => void]> = [
    [
      'edited',
      'edited',
      (d) => d.prepare(`update audit_entries set actor = 'k_mallory' where seq = 3`).run(),
    ],
    ['deleted', 'deleted', (d) => d.prepare(`delete from audit_entries where seq = 3`).run()],
    [
      'inserted',
      'inserted',
      (d) => {
        // A forged entry that forks from the middle of the chain, slipped in at the end.
        const max = (d.prepare(`select max(seq) m from audit_entries`).get() as { m: number }).m;
        const r = d.prepare(`select * from audit_entries where seq = 2`).get() as Record<string, unknown>;
        const forged = {
          seq: max + 1,
          at: r.at,
          tenant: r.tenant_id,
          actor: 'k_mallory',
          action: 'user.create',
          requestDigest: null,
          payloadDigest: null,
          prevHash: r.hash,
        };
        d.prepare(
          `insert into audit_entries (tenant_id, seq, at, actor, action, request_digest, payload_digest, prev_hash, hash) values (?, ?, ?, 'k_mallory', 'user.create', null, null, ?, ?)`,
        ).run(r.tenant_id, max + 1, r.at, r.hash, hashAuditEntry(forged as never));
      },
    ],
    [
      'rewritten after a checkpoint',
      'checkpoint-mismatch',
      (d) => {
        // Every hash recomputed after an edit (hashing is public): only the signed checkpoint catches it.
        d.prepare(`update audit_entries set actor = 'k_mallory' where seq = 2`).run();
        const rows = d.prepare(`select * from audit_entries order by seq`).all() as Array<
          Record<string, any>
        >;
        let prev = rows[0]!.hash as string;
        for (const row of rows.slice(1)) {
          const entry = {
            seq: row.seq,
            at: row.at,
            tenant: row.tenant_id,
            actor: row.actor,
            action: row.action,
            requestDigest: row.request_digest,
            payloadDigest: row.payload_digest,
            prevHash: prev,
          };
          const hash = hashAuditEntry(entry as never);
          d.prepare(`update audit_entries set prev_hash = ?, hash = ? where seq = ?`).run(
            prev,
            hash,
            row.seq,
          );
          prev = hash;
        }
        d.prepare(`update audit_heads set hash = ?`).run(prev);
      },
    ],
    [
      'reordered',
      'reordered',
      (d) => {
        d.prepare(`update audit_entries set seq = -1 where seq = 3`).run();
        d.prepare(`update audit_entries set seq = 3 where seq = 4`).run();
        d.prepare(`update audit_entries set seq = 4 where seq = -1`).run();
      },
    ],
    [
      'truncated',
      'truncated',
      (d) => {
        const max = (d.prepare(`select max(seq) m from audit_entries`).get() as { m: number }).m;
        d.prepare(`delete from audit_entries where seq >= ?`).run(max - 1);
        d.prepare(`update audit_heads set seq = ?`).run(max - 2);
      },
    ],
  ];
  for (const [name, kind, tamper] of tampers) {
    it(`audit verify reports a ${name} entry`, () => {
      const copy = join(dir, `tamper-${name}`);
      spawnSync('cp', ['-r', data, copy]);
      const d = new BetterSqlite3(join(copy, 'strongroom.db'));
      tamper(d);
      d.close();
      const r = sr(['audit', 'verify', '--data', copy]);
      expect(r.code, r.out + r.err).toBe(3);
      expect(r.out).toContain('TAMPERED');
      expect(r.out).toMatch(new RegExp(`\\b${kind} at seq`));
    });
  }
});

function runAsync(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    c.stdin.end(stdin ?? '');
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}
