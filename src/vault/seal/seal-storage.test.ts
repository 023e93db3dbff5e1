import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemorySealStorage } from '../../../test/support/memory-seal-storage.ts';
import { FileSealStorage, type SealStorage } from './seal-storage.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileStorage(): FileSealStorage {
  const dir = mkdtempSync(join(tmpdir(), 'seal-storage-'));
  dirs.push(dir);
  return new FileSealStorage(dir);
}

describe.each([
  ['file', fileStorage],
  ['memory', () => new MemorySealStorage()],
] as [string, () => SealStorage][])('SealStorage (%s)', (_name, make) => {
  it('puts, gets, overwrites and deletes per tenant', async () => {
    const s = make();
    expect(await s.get('ten_a', 'blob')).toBeUndefined();
    await s.put('ten_a', 'blob', new Uint8Array([1, 2, 3]));
    await s.put('ten_b', 'blob', new Uint8Array([9]));
    expect(await s.get('ten_a', 'blob')).toEqual(new Uint8Array([1, 2, 3]));
    await s.put('ten_a', 'blob', new Uint8Array([4]));
    expect(await s.get('ten_a', 'blob')).toEqual(new Uint8Array([4]));
    await s.delete('ten_a', 'blob');
    await s.delete('ten_a', 'blob');
    expect(await s.get('ten_a', 'blob')).toBeUndefined();
    expect(await s.get('ten_b', 'blob')).toEqual(new Uint8Array([9]));
  });

  it('refuses names that could escape the directory', async () => {
    const s = make();
    for (const [tenant, name] of [
      ['..', 'x'],
      ['ten_a', '../x'],
      ['ten_a', '.hidden'],
      ['a/b', 'x'],
      ['ten_a', ''],
    ]) {
      await expect(s.put(tenant!, name!, new Uint8Array(1))).rejects.toMatchObject({ code: 'E_VALIDATION' });
      await expect(s.get(tenant!, name!)).rejects.toMatchObject({ code: 'E_VALIDATION' });
    }
  });
});

describe('FileSealStorage', () => {
  it('writes files with mode 0600 in a 0700 directory and leaves no temporary file', async () => {
    const s = fileStorage();
    await s.put('ten_a', 'shamir-seal.json', new Uint8Array([1]));
    await s.put('ten_a', 'shamir-seal.json', new Uint8Array([2]));
    expect(statSync(join(s.root, 'ten_a', 'shamir-seal.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(s.root, 'ten_a')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(s.root, 'ten_a'))).toEqual(['shamir-seal.json']);
  });
});
