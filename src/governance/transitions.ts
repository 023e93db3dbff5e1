/**
 * What each governance request kind does to a state. Pure and total over validated payloads: a request
 * that does not fit the state (unknown user, key already registered, nothing to change) is refused with a
 * typed error (E_NOT_FOUND, E_CONFLICT, E_VALIDATION, E_DIGEST_MISMATCH, E_POLICY_INVALID). Signatures,
 * quorum and liveness are checked by the caller (apply-request.ts); the chain fields (height, prev,
 * changedBy, at) are set there too.
 */
import { StrongroomError } from '../domain/errors.ts';
import { keyIdOf, parsePublicKey, type KeyAlgorithm } from '../domain/keys.ts';
import { policyDigest, type PolicyDocument } from '../policy/index.ts';
import type { GovernanceState } from './governance-state.ts';
import { ownerOfKey } from './governance-state.ts';
import type { GovernanceRequest } from './governance-request.ts';
import { policyRequirements, type PolicyRequirement } from './liveness.ts';
import type { FreezeTargetJson, PayloadOf, RequestKind } from './request-kinds.ts';

type Draft<T> = { -readonly [K in keyof T]: Draft<T[K]> };
type StateDraft = Draft<GovernanceState>;

const notFound = (what: string, details: Record<string, unknown>) =>
  new StrongroomError('E_NOT_FOUND', `${what} not found`, { details });
const conflict = (message: string, details: Record<string, unknown>) =>
  new StrongroomError('E_CONFLICT', message, { details });

function activeUser(s: StateDraft, userId: string) {
  const user = Object.hasOwn(s.users, userId) ? s.users[userId] : undefined;
  if (user === undefined || user.status !== 'active') throw notFound(`active user ${userId}`, { userId });
  return user;
}

function group(s: StateDraft, name: string): string[] {
  const members = Object.hasOwn(s.groups, name) ? s.groups[name] : undefined;
  if (members === undefined) throw notFound(`group ${name}`, { group: name });
  return members;
}

function sortedInsert(list: string[], value: string): void {
  list.push(value);
  list.sort();
}

/** Parses a new key strictly and checks that its id is not registered to anyone yet. */
function newKey(
  s: StateDraft,
  alg: KeyAlgorithm,
  publicKey: string,
): [string, { alg: KeyAlgorithm; publicKey: string; status: 'active' }] {
  const key = parsePublicKey(alg, publicKey);
  const keyId = keyIdOf(key.export({ format: 'der', type: 'spki' }));
  const owner = ownerOfKey(s, keyId);
  if (owner !== undefined) throw conflict(`key ${keyId} is already registered`, { keyId, userId: owner });
  return [keyId, { alg, publicKey, status: 'active' }];
}

function setFrozen(s: StateDraft, target: FreezeTargetJson, frozen: boolean): void {
  if (target.scope === 'tenant') {
    if (s.freeze.tenant === frozen)
      throw conflict(`tenant is already ${frozen ? 'frozen' : 'unfrozen'}`, { scope: 'tenant' });
    s.freeze.tenant = frozen;
    return;
  }
  const at = s.freeze.wallets.indexOf(target.walletId);
  if (at >= 0 === frozen)
    throw conflict(`wallet ${target.walletId} is already ${frozen ? 'frozen' : 'unfrozen'}`, { ...target });
  if (frozen) sortedInsert(s.freeze.wallets, target.walletId);
  else s.freeze.wallets.splice(at, 1);
}

type Handlers = { [K in RequestKind]: (s: StateDraft, p: PayloadOf<K>) => void };

const HANDLERS: Handlers = {
  add_user(s, p) {
    if (Object.hasOwn(s.users, p.userId))
      throw conflict(`user id ${p.userId} is taken (ids are never reused)`, { userId: p.userId });
    const keys: StateDraft['users'][string]['keys'] = {};
    for (const k of p.keys) {
      const [keyId, key] = newKey(s, k.alg, k.publicKey);
      if (Object.hasOwn(keys, keyId))
        throw new StrongroomError('E_VALIDATION', `key ${keyId} is listed twice`, { details: { keyId } });
      keys[keyId] = key;
    }
    for (const g of p.groups ?? []) group(s, g);
    s.users[p.userId] = { name: p.name, kind: p.kind, status: 'active', keys };
    for (const g of p.groups ?? []) sortedInsert(group(s, g), p.userId);
  },
  remove_user(s, p) {
    const user = activeUser(s, p.userId);
    user.status = 'removed';
    for (const key of Object.values(user.keys)) key.status = 'revoked';
    for (const name of Object.keys(s.groups)) s.groups[name] = group(s, name).filter((u) => u !== p.userId);
  },
  add_key(s, p) {
    const user = activeUser(s, p.userId);
    const [keyId, key] = newKey(s, p.alg, p.publicKey);
    user.keys[keyId] = key;
  },
  revoke_key(s, p) {
    const user = activeUser(s, p.userId);
    const key = Object.hasOwn(user.keys, p.keyId) ? user.keys[p.keyId] : undefined;
    if (key === undefined)
      throw notFound(`key ${p.keyId} of user ${p.userId}`, { userId: p.userId, keyId: p.keyId });
    if (key.status === 'revoked') throw conflict(`key ${p.keyId} is already revoked`, { keyId: p.keyId });
    key.status = 'revoked';
  },
  set_group_members(s, p) {
    for (const u of p.members) activeUser(s, u);
    s.groups[p.group] = [...p.members].sort();
  },
  add_group_member(s, p) {
    const members = group(s, p.group);
    activeUser(s, p.userId);
    if (members.includes(p.userId))
      throw conflict(`${p.userId} is already in ${p.group}`, { group: p.group, userId: p.userId });
    sortedInsert(members, p.userId);
  },
  remove_group_member(s, p) {
    const members = group(s, p.group);
    if (!members.includes(p.userId))
      throw notFound(`${p.userId} in group ${p.group}`, { group: p.group, userId: p.userId });
    s.groups[p.group] = members.filter((u) => u !== p.userId);
  },
  publish_policy(s, p) {
    const expected = (s.policies.active?.version ?? 0) + 1;
    if (p.version !== expected)
      throw conflict(`policy version must be ${expected}`, { version: p.version, expected });
    // policyRequirements validates the document (E_POLICY_INVALID) before anything reads it.
    const requirements = policyRequirements(p.document as PolicyDocument);
    const digest = policyDigest(p.document as PolicyDocument);
    if (digest !== p.digest) {
      throw new StrongroomError(
        'E_DIGEST_MISMATCH',
        'the policy document does not have the digest being published',
        {
          details: { digest: p.digest, actual: digest },
        },
      );
    }
    s.policies.active = {
      version: p.version,
      digest,
      requirements: requirements as Draft<PolicyRequirement>[],
    };
    s.policies.history.push({ version: p.version, digest });
  },
  address_book_add(s, p) {
    if (Object.hasOwn(s.addressBook, p.entryId))
      throw conflict(`address-book entry ${p.entryId} exists`, { entryId: p.entryId });
    const same = Object.entries(s.addressBook).find(
      ([, e]) => e.chain === p.chain && e.address === p.address,
    );
    if (same) throw conflict(`${p.chain} address is already entry ${same[0]}`, { entryId: same[0] });
    s.addressBook[p.entryId] = {
      alias: p.alias,
      chain: p.chain,
      address: p.address,
      trust: p.trust,
      locked: p.locked ?? false,
    };
  },
  address_book_lock(s, p) {
    setLocked(s, p.entryId, true);
  },
  address_book_unlock(s, p) {
    setLocked(s, p.entryId, false);
  },
  change_quorum(s, p) {
    group(s, p.group);
    if (s.governance.group === p.group && s.governance.k === p.k)
      throw conflict('the quorum is already that', { ...p });
    s.governance = { group: p.group, k: p.k };
  },
  freeze(s, p) {
    setFrozen(s, p, true);
  },
  unfreeze(s, p) {
    setFrozen(s, p, false);
  },
};

function setLocked(s: StateDraft, entryId: string, locked: boolean): void {
  const entry = Object.hasOwn(s.addressBook, entryId) ? s.addressBook[entryId] : undefined;
  if (entry === undefined) throw notFound(`address-book entry ${entryId}`, { entryId });
  if (entry.locked === locked)
    throw conflict(`entry ${entryId} is already ${locked ? 'locked' : 'unlocked'}`, { entryId });
  entry.locked = locked;
}

/** The state after `request`'s change, chain fields still those of `state`. Does not mutate `state`. */
export function transition(state: GovernanceState, request: GovernanceRequest): GovernanceState {
  const draft = structuredClone(state) as StateDraft;
  (HANDLERS[request.kind] as (s: StateDraft, p: unknown) => void)(draft, request.payload);
  return draft as GovernanceState;
}
