/**
 * `strongroom init`: the one-shot bootstrap of the first tenant and its admins, run by the operator on the
 * server's own data. A second run fails with E_ALREADY_INITIALIZED and changes nothing.
 */
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { directoryRepository, systemRepository } from '../store/index.ts';
import type { AuditedWriter } from './audited-writer.ts';
import {
  ADMIN_GROUP,
  checkName,
  insertKeyOrConflict,
  newKeyRow,
  type PublicKeyInput,
} from './directory-service.ts';

export interface InitInput {
  tenant: string;
  admins: Array<{ name: string } & PublicKeyInput>;
}
export interface InitResult {
  tenantId: string;
  admins: Array<{ userId: string; name: string; keyId: string }>;
}

/**
 * One-shot bootstrap: the first tenant and its admins. Fails with E_ALREADY_INITIALIZED, changing nothing,
 * when it ran before.
 */
export function initialize(writer: AuditedWriter, input: InitInput, now: () => Date): Promise<InitResult> {
  return createTenant(writer, input, now, { once: true });
}

/**
 * Creates a tenant with its admins group and admins, in one audited transaction. `once` makes it the
 * installation's one-shot bootstrap; without it an operator adds further tenants.
 */
export function createTenant(
  writer: AuditedWriter,
  input: InitInput,
  now: () => Date,
  opts: { once?: boolean } = {},
): Promise<InitResult> {
  const tenantName = checkName(input.tenant, 'tenant');
  if (input.admins.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'at least one admin is required', {
      details: { parameter: 'admins' },
    });
  }
  const names = input.admins.map((a) => checkName(a.name, 'admins.name'));
  if (new Set(names).size !== names.length) {
    throw new StrongroomError('E_VALIDATION', 'admin names must be distinct', {
      details: { parameter: 'admins.name' },
    });
  }
  const tenantId = newId('ten');
  return writer.write<InitResult>({
    tenant: tenantId,
    actor: 'system',
    action: opts.once ? 'tenant.init' : 'tenant.create',
    requestDigest: digestOf({ tenant: tenantName, admins: input.admins }),
    run: async (trx) => {
      const at = now().toISOString();
      if (opts.once && !(await systemRepository.insertOnce(trx, 'initialized', at))) {
        throw new StrongroomError('E_ALREADY_INITIALIZED', 'Strongroom is already initialized', {
          hints: ['init runs once; add users and keys through the API'],
        });
      }
      if (await directoryRepository.getTenantByName(trx, tenantName)) {
        throw new StrongroomError('E_CONFLICT', `a tenant named "${tenantName}" exists`, {
          details: { parameter: 'tenant' },
        });
      }
      await directoryRepository.insertTenant(trx, { id: tenantId, name: tenantName, created_at: at });
      const groupId = newId('grp');
      await directoryRepository.insertGroup(trx, {
        id: groupId,
        tenant_id: tenantId,
        name: ADMIN_GROUP,
        created_at: at,
      });
      const admins: InitResult['admins'] = [];
      for (const a of input.admins) {
        const userId = newId('usr');
        await directoryRepository.insertUser(trx, {
          id: userId,
          tenant_id: tenantId,
          name: a.name,
          kind: 'person',
          status: 'active',
          created_at: at,
        });
        const key = newKeyRow(tenantId, userId, a, at);
        await insertKeyOrConflict(trx, key);
        await directoryRepository.addMember(trx, tenantId, groupId, userId, at);
        admins.push({ userId, name: a.name, keyId: key.id });
      }
      const result = { tenantId, admins };
      return { value: result, payloadDigest: digestOf(result) };
    },
  });
}
