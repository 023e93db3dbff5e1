import { describe, expect, it } from 'vitest';
import { readBatcher } from './read-batcher.ts';

describe('readBatcher', () => {
  it('loads the keys asked for in one turn together, in order, each caller getting its own value or error', async () => {
    const batches: number[][] = [];
    const b = readBatcher<number, string>(async (keys) => {
      batches.push(keys);
      return keys.map((k) => (k < 0 ? new Error(`no ${k}`) : `v${k}`));
    });
    const all = await Promise.allSettled([b.load(1), b.load(2), b.load(-3), b.load(4)]);
    expect(batches).toEqual([[1, 2, -3, 4]]);
    expect(all.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'v1',
      'v2',
      'no -3',
      'v4',
    ]);
    expect(await b.load(5)).toBe('v5');
    expect(batches).toEqual([[1, 2, -3, 4], [5]]);
  });

  it('splits large batches and rejects every caller of a batch whose load fails', async () => {
    const sizes: number[] = [];
    const b = readBatcher<number, number>(async (keys) => {
      sizes.push(keys.length);
      if (keys.includes(13)) throw new Error('store down');
      return keys;
    }, 10);
    const all = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => b.load(i)));
    expect(sizes).toEqual([10, 10, 5]);
    expect(all.filter((r) => r.status === 'rejected').length).toBe(10);
    expect(all.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true);
  });
});
