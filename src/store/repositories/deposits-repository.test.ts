import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../../../test/support/databases.ts';
import { utxoRepository } from './utxo-repository.ts';
import {
  chainScanRepository,
  depositCoinsRepository,
  depositsRepository,
  executionAmountsRepository,
  type Deposit,
} from './deposits-repository.ts';

const AT = '2025-01-01T00:00:00.000Z';
const LATER = '2025-01-02T00:00:00.000Z';
const txid = (n: number) => n.toString(16).padStart(64, '0');
const wallet = { tenantId: 'ten_a', walletId: 'w1' };

function deposit(n: number, over: Partial<Deposit> = {}): Deposit {
  return {
    id: `dep_${n}`, tenantId: 'ten_a', walletId: 'w1', chain: 'bitcoin', asset: 'BTC', kind: 'deposit', txid: txid(n), position: 0,
    address: 'bcrt1qexample', amount: 1000n * BigInt(n), blockHeight: 100 + n, blockHash: `h${n}`, confirmations: 1, state: 'pending',
    detectedAt: AT, creditedAt: null, reorgedAt: null, updatedAt: AT, ...over,
  };
}

for (const dialect of DIALECTS) {
  describe(`deposits repository on ${dialect}`, () => {
    let t: TestDatabase;
    beforeEach(async () => {
      t = await createTestDatabase(dialect);
    });
    afterEach(async () => t.dispose());

    it('records each on-chain event once per tenant, and moves it pending → credited → reorged → found again', async () => {
      const db = t.database.db;
      expect(await depositsRepository.insert(db, deposit(1))).toBe(true);
      // Same event (txid, position) again: nothing changes, even under another id.
      expect(await depositsRepository.insert(db, deposit(1, { id: 'dep_other', amount: 5n }))).toBe(false);
      // Another tenant paid by the same event (the same address in both) gets its own row.
      expect(await depositsRepository.insert(db, deposit(1, { id: 'dep_1b', tenantId: 'ten_b' }))).toBe(true);
      // A token transfer: a huge amount survives as text; native ETH at position -1 in the same transaction.
      const big = 2n ** 200n + 7n;
      await depositsRepository.insert(db, deposit(2, { chain: 'ethereum', asset: 'TUSD', position: 3, amount: big }));
      await depositsRepository.insert(db, deposit(2, { id: 'dep_2n', chain: 'ethereum', asset: 'ETH', position: -1 }));

      expect((await depositsRepository.byEvent(db, 'ten_a', 'ethereum', txid(2), 3))?.amount).toBe(big);
      expect((await depositsRepository.byEvent(db, 'ten_a', 'ethereum', txid(2), -1))?.asset).toBe('ETH');
      expect((await depositsRepository.pendingOnChain(db, 'bitcoin')).map((d) => d.id).sort()).toEqual(['dep_1', 'dep_1b']);
      expect((await depositsRepository.inBlock(db, 'bitcoin', txid(1), 0, 'h1')).map((d) => d.tenantId).sort()).toEqual(['ten_a', 'ten_b']);

      const placed = { blockHeight: 101, blockHash: 'h1', confirmations: 3 };
      expect(await depositsRepository.markCredited(db, 'dep_1', placed, LATER)).toBe(true);
      expect(await depositsRepository.markCredited(db, 'dep_1', placed, LATER)).toBe(false); // once
      const credited = await depositsRepository.get(db, 'ten_a', 'dep_1');
      expect(credited).toMatchObject({ state: 'credited', confirmations: 3, creditedAt: LATER });
      expect(await depositsRepository.get(db, 'ten_b', 'dep_1')).toBeUndefined(); // tenants never see each other's rows

      // A reorg of another block does not touch it; of its block, un-credits it, once.
      expect(await depositsRepository.markReorged(db, 'dep_1', 'other', LATER)).toBe(false);
      expect(await depositsRepository.markReorged(db, 'dep_1', 'h1', LATER)).toBe(true);
      expect(await depositsRepository.markReorged(db, 'dep_1', 'h1', LATER)).toBe(false);
      // Found again in another block: back to credited there.
      const moved = { blockHeight: 102, blockHash: 'h1x', confirmations: 2, state: 'credited' as const };
      expect(await depositsRepository.relocate(db, 'dep_1', { state: 'pending', blockHash: 'h1' }, moved, LATER)).toBe(false);
      expect(await depositsRepository.relocate(db, 'dep_1', { state: 'reorged', blockHash: 'h1' }, moved, LATER)).toBe(true);
      expect(await depositsRepository.get(db, 'ten_a', 'dep_1')).toMatchObject({ state: 'credited', blockHash: 'h1x', blockHeight: 102, reorgedAt: LATER });

      // A pending one whose block vanished is dropped, only from that block.
      expect(await depositsRepository.deletePending(db, 'dep_1b', 'other')).toBe(false);
      expect(await depositsRepository.deletePending(db, 'dep_1b', 'h1')).toBe(true);
      expect(await depositsRepository.deletePending(db, 'dep_1', 'h1x')).toBe(false); // credited rows are never deleted

      await depositsRepository.insert(db, deposit(3, { kind: 'change' }));
      expect((await depositsRepository.list(db, 'ten_a', { walletId: 'w1' })).map((d) => d.id)).toEqual(['dep_2n', 'dep_2', 'dep_1']);
      expect((await depositsRepository.list(db, 'ten_a', { includeChange: true })).map((d) => d.id)).toContain('dep_3');
      expect((await depositsRepository.list(db, 'ten_a', { state: 'credited' })).map((d) => d.id)).toEqual(['dep_1']);
      expect((await depositsRepository.list(db, 'ten_a', { before: 'dep_2', limit: 5 })).map((d) => d.id)).toEqual(['dep_1']);
      const amounts = await depositsRepository.amountsOfWallet(db, 'ten_a', 'w1');
      expect(amounts.map((a) => [a.asset, a.kind, a.state, a.amount]).sort()).toEqual(
        [
          ['BTC', 'change', 'pending', 3000n],
          ['BTC', 'deposit', 'credited', 1000n],
          ['ETH', 'deposit', 'pending', 2000n],
          ['TUSD', 'deposit', 'pending', big],
        ].sort(),
      );
    });

    it('saves scan state with optimistic versions, one row per chain', async () => {
      const db = t.database.db;
      expect(await chainScanRepository.get(db, 'bitcoin')).toBeUndefined();
      const s = { chain: 'bitcoin' as const, network: 'regtest', state: '{"a":1}', tip: 10 };
      expect(await chainScanRepository.save(db, s, 0, AT)).toBe(true);
      expect(await chainScanRepository.save(db, s, 0, AT)).toBe(false); // someone saved first
      expect(await chainScanRepository.save(db, { ...s, tip: 11 }, 1, LATER)).toBe(true);
      expect(await chainScanRepository.save(db, { ...s, tip: 12 }, 1, LATER)).toBe(false); // stale version
      expect(await chainScanRepository.get(db, 'bitcoin')).toEqual({ ...s, tip: 11, version: 2, updatedAt: LATER });
      expect(await chainScanRepository.get(db, 'ethereum')).toBeUndefined();
      expect(await chainScanRepository.watchedAddresses(db, 'bitcoin')).toBe(0);
    });

    it('reads coins for the scanner and balances, and forgets a reorged coin unless a withdrawal holds it', async () => {
      const db = t.database.db;
      const coin = (n: number, height: number | null = 100) => ({ txid: txid(n), vout: 0, value: 10n * BigInt(n), script: '0014ab', address: 'a', height });
      await utxoRepository.upsertCoins(db, wallet, [coin(1), coin(2), coin(3), coin(4, null)], AT);
      await utxoRepository.upsertCoins(db, { tenantId: 'ten_b', walletId: 'w9' }, [coin(5)], AT);
      await utxoRepository.lockCoins(db, wallet, 'req_1', [{ txid: txid(2), vout: 0 }], AT);
      await utxoRepository.markSpent(db, wallet, [{ txid: txid(3), vout: 0 }], txid(99), LATER);

      // Watched: unspent coins of every tenant, and coins marked spent since the given time.
      const key = (c: { tenantId: string; txid: string }) => `${c.tenantId}:${c.txid.slice(-1)}`;
      expect((await depositCoinsRepository.watched(db, LATER)).map(key).sort()).toEqual(['ten_a:1', 'ten_a:2', 'ten_a:3', 'ten_a:4', 'ten_b:5']);
      expect((await depositCoinsRepository.watched(db, '2025-01-03T00:00:00.000Z')).map(key).sort()).toEqual(['ten_a:1', 'ten_a:2', 'ten_a:4', 'ten_b:5']);
      expect((await depositCoinsRepository.owners(db, [{ txid: txid(5), vout: 0 }, { txid: txid(3), vout: 0 }, { txid: txid(7), vout: 0 }])).map(key).sort()).toEqual(['ten_a:3', 'ten_b:5']);
      expect(await depositCoinsRepository.notSpentBy(db, wallet, [{ txid: txid(3), vout: 0 }, { txid: txid(1), vout: 0 }], txid(99))).toEqual([{ txid: txid(1), vout: 0 }]);
      expect((await depositCoinsRepository.ofWallet(db, wallet)).map((c) => [c.value, c.state, c.height]).sort()).toEqual(
        [[10n, 'available', 100], [20n, 'locked', 100], [30n, 'spent', 100], [40n, 'available', null]].sort(),
      );

      expect(await depositCoinsRepository.forget(db, wallet, { txid: txid(1), vout: 0 }, LATER)).toBe('removed');
      expect(await depositCoinsRepository.forget(db, wallet, { txid: txid(2), vout: 0 }, LATER)).toBe('unconfirmed');
      expect(await depositCoinsRepository.forget(db, wallet, { txid: txid(8), vout: 0 }, LATER)).toBe('absent');
      expect((await utxoRepository.lockedBy(db, 'req_1')).map((c) => [c.state, c.height])).toEqual([['locked', null]]);
    });

    it('reads execution amounts and recognises our own withdrawal transactions', async () => {
      const db = t.database.db;
      const row = (id: string, state: string, asset: string, amount: string, fee: string | null, tx: string | null) => ({
        request_id: id, tenant_id: 'ten_a', wallet_id: 'w1', chain: 'ethereum', asset, amount, destination: '0xd', state,
        unsigned_payload: '0x02', fee_cap: '500', fee, tracking: '{}', signed_tx: null, txid: tx, block_height: null, error: null,
        created_at: AT, updated_at: AT,
      });
      for (const r of [row('r1', 'confirmed', 'ETH', '100', '21', '0xaa'), row('r2', 'broadcast', 'TUSD', '7', null, '0xbb'), row('r3', 'signing', 'ETH', '5', null, null)]) {
        await sql`insert into executions (request_id, tenant_id, wallet_id, chain, asset, amount, destination, state, unsigned_payload, fee_cap, fee, tracking, signed_tx, txid, block_height, error, created_at, updated_at)
          values (${r.request_id}, ${r.tenant_id}, ${r.wallet_id}, ${r.chain}, ${r.asset}, ${r.amount}, ${r.destination}, ${r.state}, ${r.unsigned_payload}, ${r.fee_cap}, ${r.fee}, ${r.tracking}, ${r.signed_tx}, ${r.txid}, ${r.block_height}, ${r.error}, ${r.created_at}, ${r.updated_at})`.execute(db);
      }
      const rows = await executionAmountsRepository.ofWallet(db, 'ten_a', 'w1', 'ethereum');
      expect(rows.map((r) => [r.asset, r.state, r.amount, r.feeCap, r.fee]).sort()).toEqual(
        [['ETH', 'confirmed', 100n, 500n, 21n], ['TUSD', 'broadcast', 7n, 500n, null], ['ETH', 'signing', 5n, 500n, null]].sort(),
      );
      expect(await executionAmountsRepository.ofWallet(db, 'ten_a', 'w1', 'bitcoin')).toEqual([]);
      expect(await executionAmountsRepository.withdrawalTxids(db, 'ethereum', ['0xbb', '0xcc'])).toEqual([{ tenantId: 'ten_a', walletId: 'w1', txid: '0xbb' }]);
    });
  });
}
