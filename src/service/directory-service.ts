/** Users, their keys and groups. Until governance requests exist (issue 4), members of `admins` manage them. */
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { keyIdOf, parsePublicKey, type KeyAlgorithm } from '../domain/keys.ts';
import { directoryRepository, type Queryable } from '../store/index.ts';
import type { UserKeyRow, UserRow } from '../store/repositories/directory-repository.ts';
import type { AuditedWriter, Trx } from './audited-writer.ts';
import type { Principal, Reply } from './principal.ts';
import { signedWrite } from './signed-change.ts';

export const ADMIN_GROUP = 'admins';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface PublicKeyInput {
  alg: KeyAlgorithm;
  publicKey: string;
}
export interface UserView {
  id: string;
  name: string;
  kind: 'person' | 'service';
  status: string;
  createdAt: string;
  keys: KeyView[];
  groups: string[];
}
export interface KeyView {
  id: string;
  alg: string;
  publicKey: string;
  status: string;
  createdAt: string;
  revokedAt: string | null;
}
export interface GroupView {
  id: string;
  name: string;
  createdAt: string;
  members: string[];
}

export function checkName(name: unknown, parameter: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new StrongroomError(
      'E_VALIDATION',
      `${parameter} must be 1-64 characters of letters, digits, _ . @ -`,
      {
        details: { parameter },
      },
    );
  }
  return name;
}

/** Parses and validates a public key; returns the row to insert (the key id is derived from the key). */
export function newKeyRow(tenant: string, userId: string, input: PublicKeyInput, at: string): UserKeyRow {
  const key = parsePublicKey(input.alg, input.publicKey);
  const id = keyIdOf(key.export({ format: 'der', type: 'spki' }));
  return {
    id,
    tenant_id: tenant,
    user_id: userId,
    alg: input.alg,
    public_key: input.publicKey,
    status: 'active',
    created_at: at,
    revoked_at: null,
  };
}

export async function insertKeyOrConflict(q: Queryable, row: UserKeyRow): Promise<void> {
  if (await directoryRepository.getKey(q, row.id)) {
    throw new StrongroomError('E_CONFLICT', 'this public key is already registered', {
      details: { keyId: row.id },
    });
  }
  await directoryRepository.insertKey(q, row);
}

async function requireAdmin(q: Queryable, p: Principal): Promise<void> {
  const groups = await directoryRepository.groupNamesOfUser(q, p.tenant, p.userId);
  if (!groups.includes(ADMIN_GROUP)) {
    throw new StrongroomError('E_FORBIDDEN', `only members of "${ADMIN_GROUP}" may do this`);
  }
}

function notFound(what: string): StrongroomError {
  // Another tenant's resource answers exactly like a missing one.
  return new StrongroomError('E_NOT_FOUND', `${what} not found`);
}

function keyView(k: UserKeyRow): KeyView {
  return {
    id: k.id,
    alg: k.alg,
    publicKey: k.public_key,
    status: k.status,
    createdAt: k.created_at,
    revokedAt: k.revoked_at,
  };
}

export async function userView(q: Queryable, u: UserRow): Promise<UserView> {
  const [keys, groups] = await Promise.all([
    directoryRepository.listKeys(q, u.tenant_id, u.id),
    directoryRepository.groupNamesOfUser(q, u.tenant_id, u.id),
  ]);
  return {
    id: u.id,
    name: u.name,
    kind: u.kind,
    status: u.status,
    createdAt: u.created_at,
    keys: keys.map(keyView),
    groups,
  };
}

async function groupView(q: Queryable, tenant: string, id: string): Promise<GroupView> {
  const g = await directoryRepository.getGroup(q, tenant, id);
  if (!g) throw notFound('group');
  return {
    id: g.id,
    name: g.name,
    createdAt: g.created_at,
    members: await directoryRepository.listMembers(q, tenant, id),
  };
}

export function createDirectoryService(deps: { writer: AuditedWriter; db: Queryable; now: () => Date }) {
  const { writer, db, now } = deps;
  const write = <T>(w: Parameters<typeof signedWrite<T>>[1]) => signedWrite<T>(writer, w, now);

  async function loadUser(q: Queryable, tenant: string, id: string): Promise<UserRow> {
    const u = await directoryRepository.getUser(q, tenant, id);
    if (!u) throw notFound('user');
    return u;
  }

  return {
    createUser(
      p: Principal,
      input: { name: string; kind: 'person' | 'service'; keys: PublicKeyInput[]; groups?: string[] },
      idempotencyKey: string,
    ): Promise<Reply<UserView>> {
      return write<UserView>({
        principal: p,
        action: 'user.create',
        idempotencyKey,
        run: async (trx: Trx, at: Date) => {
          await requireAdmin(trx, p);
          const name = checkName(input.name, 'name');
          const iso = at.toISOString();
          const user: UserRow = {
            id: newId('usr'),
            tenant_id: p.tenant,
            name,
            kind: input.kind,
            status: 'active',
            created_at: iso,
          };
          if (await directoryRepository.getUserByName(trx, p.tenant, name)) {
            throw new StrongroomError('E_CONFLICT', `a user named "${name}" exists`, {
              details: { parameter: 'name' },
            });
          }
          const keys = input.keys.map((k) => newKeyRow(p.tenant, user.id, k, iso));
          await directoryRepository.insertUser(trx, user);
          for (const k of keys) await insertKeyOrConflict(trx, k);
          for (const gName of input.groups ?? []) {
            const g = await directoryRepository.getGroupByName(trx, p.tenant, gName);
            if (!g)
              throw new StrongroomError('E_VALIDATION', `no group named "${gName}"`, {
                details: { parameter: 'groups' },
              });
            await directoryRepository.addMember(trx, p.tenant, g.id, user.id, iso);
          }
          const view = await userView(trx, user);
          return {
            value: { status: 201, body: view },
            payloadDigest: digestOf(view),
            events: [{ topic: 'user.created', payload: { id: user.id } }],
          };
        },
      });
    },

    addKey(
      p: Principal,
      userId: string,
      input: PublicKeyInput,
      idempotencyKey: string,
    ): Promise<Reply<KeyView>> {
      return write<KeyView>({
        principal: p,
        action: 'user.key.add',
        idempotencyKey,
        run: async (trx, at) => {
          const user = await loadUser(trx, p.tenant, userId);
          await requireAdmin(trx, p);
          const row = newKeyRow(p.tenant, user.id, input, at.toISOString());
          await insertKeyOrConflict(trx, row);
          const view = keyView(row);
          return { value: { status: 201, body: view }, payloadDigest: digestOf({ userId, key: view }) };
        },
      });
    },

    /** An admin may revoke anyone's key; a user may revoke their own (e.g. a lost device). */
    revokeKey(p: Principal, userId: string, keyId: string): Promise<Reply<KeyView>> {
      return write<KeyView>({
        principal: p,
        action: 'user.key.revoke',
        run: async (trx, at) => {
          await loadUser(trx, p.tenant, userId);
          if (p.userId !== userId) await requireAdmin(trx, p);
          const key = await directoryRepository.getKey(trx, keyId);
          if (!key || key.tenant_id !== p.tenant || key.user_id !== userId) throw notFound('key');
          if (!(await directoryRepository.revokeKey(trx, p.tenant, keyId, at.toISOString()))) {
            throw new StrongroomError('E_CONFLICT', 'this key is already revoked');
          }
          const view = keyView((await directoryRepository.getKey(trx, keyId))!);
          return { value: { status: 200, body: view }, payloadDigest: digestOf({ userId, key: view }) };
        },
      });
    },

    createGroup(p: Principal, input: { name: string }, idempotencyKey: string): Promise<Reply<GroupView>> {
      return write<GroupView>({
        principal: p,
        action: 'group.create',
        idempotencyKey,
        run: async (trx, at) => {
          await requireAdmin(trx, p);
          const name = checkName(input.name, 'name');
          if (await directoryRepository.getGroupByName(trx, p.tenant, name)) {
            throw new StrongroomError('E_CONFLICT', `a group named "${name}" exists`, {
              details: { parameter: 'name' },
            });
          }
          const id = newId('grp');
          await directoryRepository.insertGroup(trx, {
            id,
            tenant_id: p.tenant,
            name,
            created_at: at.toISOString(),
          });
          const view = await groupView(trx, p.tenant, id);
          return { value: { status: 201, body: view }, payloadDigest: digestOf(view) };
        },
      });
    },

    addMember(p: Principal, groupId: string, userId: string): Promise<Reply<GroupView>> {
      return write<GroupView>({
        principal: p,
        action: 'group.member.add',
        run: async (trx, at) => {
          await groupView(trx, p.tenant, groupId);
          await loadUser(trx, p.tenant, userId);
          await requireAdmin(trx, p);
          if (!(await directoryRepository.addMember(trx, p.tenant, groupId, userId, at.toISOString()))) {
            throw new StrongroomError('E_CONFLICT', 'already a member');
          }
          const view = await groupView(trx, p.tenant, groupId);
          return {
            value: { status: 200, body: view },
            payloadDigest: digestOf({ groupId, userId, op: 'add' }),
          };
        },
      });
    },

    removeMember(p: Principal, groupId: string, userId: string): Promise<Reply<GroupView>> {
      return write<GroupView>({
        principal: p,
        action: 'group.member.remove',
        run: async (trx) => {
          const g = await groupView(trx, p.tenant, groupId);
          await requireAdmin(trx, p);
          if (!(await directoryRepository.removeMember(trx, p.tenant, groupId, userId)))
            throw notFound('member');
          if (g.name === ADMIN_GROUP && g.members.length <= 1) {
            throw new StrongroomError('E_QUORUM_UNSATISFIABLE', 'the last admin cannot be removed', {
              details: { group: ADMIN_GROUP },
            });
          }
          const view = await groupView(trx, p.tenant, groupId);
          return {
            value: { status: 200, body: view },
            payloadDigest: digestOf({ groupId, userId, op: 'remove' }),
          };
        },
      });
    },

    async listUsers(p: Principal): Promise<UserView[]> {
      const users = await directoryRepository.listUsers(db, p.tenant);
      return Promise.all(users.map((u) => userView(db, u)));
    },
    async getUser(p: Principal, id: string): Promise<UserView> {
      return userView(db, await loadUser(db, p.tenant, id));
    },
    async listGroups(p: Principal): Promise<GroupView[]> {
      const groups = await directoryRepository.listGroups(db, p.tenant);
      return Promise.all(groups.map((g) => groupView(db, p.tenant, g.id)));
    },
    getGroup(p: Principal, id: string): Promise<GroupView> {
      return groupView(db, p.tenant, id);
    },
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
