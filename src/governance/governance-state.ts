/**
 * The governance state: who the tenant's users are, which keys speak for them, which groups they are in,
 * the governance quorum, the policy in force, the address book and what is frozen. A plain JSON document,
 * content-addressed by `digestOf`; each state names the one before it (`prev`), so states form a hash chain
 * from the genesis the initial admins signed.
 *
 * Invariants every state produced by this module keeps (the transitions maintain them, so nothing here
 * re-checks them on each read): group member lists are sorted and unique and name only active users;
 * wallet ids in `freeze.wallets` are sorted and unique; a key id is registered to at most one user.
 */
import { digestOf, type Digest } from '../domain/canonical.ts';
import type { KeyAlgorithm } from '../domain/keys.ts';
import type { TrustLevelName } from '../policy/index.ts';
import type { PolicyRequirement } from './liveness.ts';

export const GOVERNANCE_FORMAT = 1 as const;

export type UserKind = 'person' | 'service';

export interface GovernanceKey {
  readonly alg: KeyAlgorithm;
  /** SPKI DER, canonical base64 (see parsePublicKey). The key id is `keyIdOf` of these bytes. */
  readonly publicKey: string;
  readonly status: 'active' | 'revoked';
}

export interface GovernanceUser {
  readonly name: string;
  readonly kind: UserKind;
  /** Removed users stay listed (their id is never reused), with every key revoked and no group. */
  readonly status: 'active' | 'removed';
  readonly keys: Readonly<Record<string, GovernanceKey>>;
}

export interface AddressBookEntry {
  readonly alias: string;
  readonly chain: string;
  readonly address: string;
  /** The policy engine's trust levels (TRUST_LEVELS in src/policy), so entries feed its context as they are. */
  readonly trust: TrustLevelName;
  /** A locked entry stays listed but a policy with `unlockedOnly` refuses it as a destination. */
  readonly locked: boolean;
}

export interface Quorum {
  readonly group: string;
  readonly k: number;
}

export interface ActivePolicy {
  /** Governance-assigned revision: 1, 2, 3, … */
  readonly version: number;
  /** `policyDigest` of the published document. */
  readonly digest: Digest;
  /**
   * What the policy's workflows need from the groups, derived at publish time (see liveness.ts), so that
   * every later change can be checked for liveness from the state alone.
   */
  readonly requirements: readonly PolicyRequirement[];
}

export interface GovernanceState {
  readonly format: typeof GOVERNANCE_FORMAT;
  readonly tenant: string;
  /** 0 for genesis, +1 per applied request. */
  readonly height: number;
  /** Digest of the previous state; null for genesis. */
  readonly prev: Digest | null;
  /** Digest of the governance request that produced this state; null for genesis. */
  readonly changedBy: Digest | null;
  /**
   * ISO-8601 UTC. Genesis: its creation time. Later states: when the request became effective (the latest
   * signature that made it so), which the evidence itself fixes, so re-applying a chain reproduces it.
   */
  readonly at: string;
  readonly users: Readonly<Record<string, GovernanceUser>>;
  readonly groups: Readonly<Record<string, readonly string[]>>;
  /** k distinct active members of `group` approve every governance request (except freeze). */
  readonly governance: Quorum;
  /** Any one active member of this group may freeze a wallet or the tenant. */
  readonly freezeGroup: string;
  readonly policies: {
    readonly active: ActivePolicy | null;
    /** Every published version, oldest first (the active one last). */
    readonly history: readonly { readonly version: number; readonly digest: Digest }[];
  };
  readonly addressBook: Readonly<Record<string, AddressBookEntry>>;
  readonly freeze: { readonly tenant: boolean; readonly wallets: readonly string[] };
}

/** The content address of a state: `sha256:` over its RFC 8785 bytes. */
export function stateDigest(state: GovernanceState): Digest {
  return digestOf(state);
}

/** A user who may act: present, active, with at least one active key. */
export function isEligibleUser(state: GovernanceState, userId: string): boolean {
  const user = Object.hasOwn(state.users, userId) ? state.users[userId] : undefined;
  return (
    user !== undefined &&
    user.status === 'active' &&
    Object.values(user.keys).some((k) => k.status === 'active')
  );
}

/** Members of `group` who can currently sign (see `isEligibleUser`), sorted. Unknown group: none. */
export function eligibleMembers(state: GovernanceState, group: string): string[] {
  const members = Object.hasOwn(state.groups, group) ? (state.groups[group] ?? []) : [];
  return members.filter((u) => isEligibleUser(state, u));
}

/** The groups a user is in, sorted (the policy context's `initiatorGroups`). */
export function groupsOf(state: GovernanceState, userId: string): string[] {
  return Object.keys(state.groups)
    .filter((g) => state.groups[g]!.includes(userId))
    .sort();
}

/** Whether a wallet may move funds under this state: not when it or the whole tenant is frozen. */
export function isFrozen(state: GovernanceState, walletId: string): boolean {
  return state.freeze.tenant || state.freeze.wallets.includes(walletId);
}

/** The policy in force, or null before the first publish. */
export function policyInForce(state: GovernanceState): { version: number; digest: Digest } | null {
  const a = state.policies.active;
  return a === null ? null : { version: a.version, digest: a.digest };
}

/** The address-book entry as the policy context's `destination`, or undefined when there is no such entry. */
export function addressBookDestination(
  state: GovernanceState,
  entryId: string,
): { kind: 'address_book'; entryId: string; trust: TrustLevelName; locked: boolean } | undefined {
  const e = Object.hasOwn(state.addressBook, entryId) ? state.addressBook[entryId] : undefined;
  return e === undefined ? undefined : { kind: 'address_book', entryId, trust: e.trust, locked: e.locked };
}

/** The user a key id is registered to, if any (key ids are unique across users). */
export function ownerOfKey(state: GovernanceState, keyId: string): string | undefined {
  for (const [userId, user] of Object.entries(state.users)) {
    if (Object.hasOwn(user.keys, keyId)) return userId;
  }
  return undefined;
}
