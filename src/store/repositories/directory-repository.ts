/** Tenants, users, their public keys, groups and memberships: the directory the API authenticates against. */
import type { Queryable } from '../queryable.ts';
import type { GroupsTable, TenantsTable, UserKeysTable, UsersTable } from '../schema.ts';

export type TenantRow = TenantsTable;
export type UserRow = UsersTable;
export type UserKeyRow = UserKeysTable;
export type GroupRow = GroupsTable;

export const directoryRepository = {
  async insertTenant(q: Queryable, row: TenantRow): Promise<void> {
    await q.insertInto('tenants').values(row).execute();
  },
  getTenant(q: Queryable, id: string): Promise<TenantRow | undefined> {
    return q.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
  },
  getTenantByName(q: Queryable, name: string): Promise<TenantRow | undefined> {
    return q.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
  },
  listTenants(q: Queryable): Promise<TenantRow[]> {
    return q.selectFrom('tenants').selectAll().orderBy('id').execute();
  },

  async insertUser(q: Queryable, row: UserRow): Promise<void> {
    await q.insertInto('users').values(row).execute();
  },
  getUser(q: Queryable, tenantId: string, id: string): Promise<UserRow | undefined> {
    return q
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },
  getUserByName(q: Queryable, tenantId: string, name: string): Promise<UserRow | undefined> {
    return q
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .executeTakeFirst();
  },
  listUsers(q: Queryable, tenantId: string): Promise<UserRow[]> {
    return q.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
  },

  async insertKey(q: Queryable, row: UserKeyRow): Promise<void> {
    await q.insertInto('user_keys').values(row).execute();
  },
  /** Keys are looked up by id alone (the id is global); callers compare the tenant. */
  getKey(q: Queryable, id: string): Promise<UserKeyRow | undefined> {
    return q.selectFrom('user_keys').selectAll().where('id', '=', id).executeTakeFirst();
  },
  listKeys(q: Queryable, tenantId: string, userId: string): Promise<UserKeyRow[]> {
    return q
      .selectFrom('user_keys')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
  },
  async revokeKey(q: Queryable, tenantId: string, id: string, at: string): Promise<boolean> {
    const r = await q
      .updateTable('user_keys')
      .set({ status: 'revoked', revoked_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  async insertGroup(q: Queryable, row: GroupRow): Promise<void> {
    await q.insertInto('groups').values(row).execute();
  },
  getGroup(q: Queryable, tenantId: string, id: string): Promise<GroupRow | undefined> {
    return q
      .selectFrom('groups')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  },
  getGroupByName(q: Queryable, tenantId: string, name: string): Promise<GroupRow | undefined> {
    return q
      .selectFrom('groups')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name)
      .executeTakeFirst();
  },
  listGroups(q: Queryable, tenantId: string): Promise<GroupRow[]> {
    return q.selectFrom('groups').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  },
  /** Adds a member; false when already a member. */
  async addMember(
    q: Queryable,
    tenantId: string,
    groupId: string,
    userId: string,
    at: string,
  ): Promise<boolean> {
    const r = await q
      .insertInto('group_members')
      .values({ tenant_id: tenantId, group_id: groupId, user_id: userId, created_at: at })
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  },
  async removeMember(q: Queryable, tenantId: string, groupId: string, userId: string): Promise<boolean> {
    const r = await q
      .deleteFrom('group_members')
      .where('tenant_id', '=', tenantId)
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  },
  async listMembers(q: Queryable, tenantId: string, groupId: string): Promise<string[]> {
    const rows = await q
      .selectFrom('group_members')
      .select('user_id')
      .where('tenant_id', '=', tenantId)
      .where('group_id', '=', groupId)
      .orderBy('user_id')
      .execute();
    return rows.map((r) => r.user_id);
  },
  async groupNamesOfUser(q: Queryable, tenantId: string, userId: string): Promise<string[]> {
    const rows = await q
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .select('groups.name')
      .where('group_members.tenant_id', '=', tenantId)
      .where('group_members.user_id', '=', userId)
      .orderBy('groups.name')
      .execute();
    return rows.map((r) => r.name);
  },
};
