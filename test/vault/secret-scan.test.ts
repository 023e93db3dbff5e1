/**
 * After create/import and `seal`, no known secret is anywhere we can look: the SQLite files (db, -wal,
 * -shm), the captured log and error output, and a V8 heap snapshot of the vault process. Secrets: the
 * test mnemonic, its BIP39 seed, and the master key (raw, hex, base64).
 */
import { spawnSync } from 'node:child_process';
import { mnemonicToSeedSync } from '@scure/bip39';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peekMasterKeys } from '../support/master-key-peek.ts';
import { TEST_MNEMONIC } from '../../src/vault/vault.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'sr-secret-scan-'));

function needles(label: string, bytes: Uint8Array): Array<[string, Buffer]> {
  const b = Buffer.from(bytes);
  return [
    [`${label} raw`, b],
    [`${label} hex`, Buffer.from(b.toString('hex'))],
    [`${label} HEX`, Buffer.from(b.toString('hex').toUpperCase())],
    [`${label} base64`, Buffer.from(b.toString('base64'))],
    [`${label} base64url`, Buffer.from(b.toString('base64url'))],
  ];
}

describe('secret scan after seal', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds no seed, mnemonic or master key in the database files, logs, errors or a heap snapshot', async () => {
    const cfg = {
      dbPath: join(dir, 'db', 'strongroom.db'),
      mnemonicPath: join(dir, 'mnemonic.txt'),
      snapshotPath: join(dir, 'vault.heapsnapshot'),
      sharesPath: join(dir, 'shares.json'),
    };
    writeFileSync(cfg.mnemonicPath, TEST_MNEMONIC);
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/vault/secret-scan.child.ts'],
      {
        env: { ...process.env, STRONGROOM_TEST_SCAN: JSON.stringify(cfg) },
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('sealed');
    expect(r.stdout).toContain('"fingerprint":"73c5da0a"');
    rmSync(cfg.mnemonicPath); // the input file itself is the one place the mnemonic is allowed

    const files = JSON.parse(readFileSync(cfg.sharesPath, 'utf8')) as string[];
    const masterKeys = await peekMasterKeys(
      'acme',
      files.map((f, i) => ({
        file: Buffer.from(f, 'base64'),
        passphrase: i === 0 ? 'alice scan' : 'bob scan',
      })),
    );
    expect(masterKeys).toHaveLength(1);
    const seed = mnemonicToSeedSync(TEST_MNEMONIC);
    const secrets: Array<[string, Buffer]> = [
      ['mnemonic', Buffer.from(TEST_MNEMONIC)],
      ...needles('seed', seed),
      ...masterKeys.flatMap((k, i) => needles(`master key v${i + 1}`, k)),
    ];
    const haystacks: Array<[string, Buffer]> = [
      ...readdirSync(join(dir, 'db')).map(
        (f) => [`db file ${f}`, readFileSync(join(dir, 'db', f))] as [string, Buffer],
      ),
      ['vault stdout (log)', Buffer.from(r.stdout)],
      ['vault stderr', Buffer.from(r.stderr)],
      ['V8 heap snapshot', readFileSync(cfg.snapshotPath)],
    ];
    expect(haystacks.map(([n]) => n)).toEqual(
      expect.arrayContaining(['db file strongroom.db', 'V8 heap snapshot']),
    );
    const hits: string[] = [];
    for (const [where, hay] of haystacks)
      for (const [what, needle] of secrets) if (hay.includes(needle)) hits.push(`${what} in ${where}`);
    expect(hits).toEqual([]);
    // Positive control, so this test can fail: a string the child holds (a passphrase literal in its own
    // source) IS found by the same scan of the snapshot.
    expect(readFileSync(cfg.snapshotPath).includes(Buffer.from('alice scan'))).toBe(true);
  });
});
