import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from './bytes.ts';
import { WalletMaker } from './wallet-workers.ts';
import { publicInfoOfSecret, type SeedSource } from './wallets.ts';

/** Waits until the maker's worker threads have started (they start at the first concurrent request). */
async function threaded(maker: WalletMaker): Promise<void> {
  for (let i = 0; i < 600 && !maker.threaded; i++) {
    await maker.make(2);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(maker.threaded).toBe(true);
}

describe('WalletMaker (wallet secrets on worker threads)', () => {
  const makers: WalletMaker[] = [];
  afterAll(async () => {
    for (const m of makers) await m.close();
  });

  it.each([
    ['csprng', 32],
    ['bip39', 64],
  ] as Array<[SeedSource, number]>)('makes %s seeds (%i bytes) on worker threads, each with its own public info', async (seeds, seedBytes) => {
    const maker = new WalletMaker({ seeds, network: 'regtest', workers: 2 });
    makers.push(maker);
    await threaded(maker);
    const made = await Promise.all(Array.from({ length: 40 }, () => maker.make(40)));
    const seen = new Set<string>();
    for (const { secret, info } of made) {
      expect(secret.length).toBe(2 + seedBytes);
      expect([secret[0], secret[1]]).toEqual([1, seedBytes]);
      expect(publicInfoOfSecret(secret, 'regtest')).toEqual(info);
      seen.add(toHex(secret));
    }
    expect(seen.size).toBe(40);
  });

  it('makes them on the calling thread with no workers, a lone request, or after close', async () => {
    const inline = new WalletMaker({ seeds: 'csprng', network: 'mainnet', workers: 0 });
    const a = await Promise.all(Array.from({ length: 5 }, () => inline.make(5)));
    expect(inline.threaded).toBe(false);
    for (const { secret, info } of a) expect(publicInfoOfSecret(secret, 'mainnet')).toEqual(info);

    const lone = new WalletMaker({ seeds: 'bip39', network: 'mainnet', workers: 2 });
    const b = await lone.make();
    expect(b.secret.length).toBe(66);
    expect(lone.threaded).toBe(false);
    await lone.close();

    const closed = new WalletMaker({ seeds: 'csprng', network: 'mainnet', workers: 2 });
    makers.push(closed);
    await threaded(closed);
    await closed.close();
    expect(closed.threaded).toBe(false);
    const c = await Promise.all(Array.from({ length: 3 }, () => closed.make(3)));
    for (const { secret, info } of c) expect(publicInfoOfSecret(secret, 'mainnet')).toEqual(info);
  });

  it('refuses an unknown seed source', () => {
    expect(() => new WalletMaker({ seeds: 'dice' as SeedSource, network: 'mainnet' })).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});
