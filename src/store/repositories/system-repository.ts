import type { Queryable } from '../queryable.ts';

/** Small key-value facts about the installation (e.g. that `init` ran). */
export const systemRepository = {
  async get(q: Queryable, key: string): Promise<string | undefined> {
    const r = await q.selectFrom('system_state').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value;
  },
  /** Inserts once; false when the key already exists. */
  async insertOnce(q: Queryable, key: string, value: string): Promise<boolean> {
    const r = await q
      .insertInto('system_state')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
};
