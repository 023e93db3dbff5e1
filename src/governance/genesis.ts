/**
 * Genesis: the first governance state, created at the key ceremony and signed by every initial admin.
 * It is one-shot: every admin listed must sign (nobody is enrolled without their own signature), and the
 * vault records its digest once (see head-tracker.ts). Later changes go through governance requests.
 */
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { keyIdOf, parsePublicKey, type KeyAlgorithm } from '../domain/keys.ts';
import {
  GOVERNANCE_FORMAT,
  stateDigest,
  type GovernanceKey,
  type GovernanceState,
  type GovernanceUser,
  type Quorum,
  type UserKind,
} from './governance-state.ts';
import { assertLive } from './liveness.ts';
import {
  encodeSignature,
  genesisStatementBytes,
  verifyUserSignature,
  type StatementSigner,
} from './signatures.ts';
import { checkIsoTime } from './time.ts';

export interface GenesisAdmin {
  readonly userId: string;
  readonly name: string;
  /** Default 'person'. */
  readonly kind?: UserKind;
  readonly keys: readonly { readonly alg: KeyAlgorithm; readonly publicKey: string }[];
}

export interface GenesisParameters {
  readonly tenant: string;
  readonly admins: readonly GenesisAdmin[];
  /** Groups of admins. The governance group and the freeze group default to all admins when not listed. */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  readonly governance: Quorum;
  readonly freezeGroup: string;
  /** ISO-8601 UTC with milliseconds. */
  readonly createdAt: string;
}

export interface GenesisSignature {
  readonly userId: string;
  readonly keyId: string;
  /** Base64 signature over `genesisStatementBytes(stateDigest(genesis))`. */
  readonly signature: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

function invalid(field: string, message: string): never {
  throw new StrongroomError('E_VALIDATION', `genesis ${field}: ${message}`, { details: { field } });
}

function checkId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_RE.test(value)) invalid(field, 'must be an identifier');
  return value;
}

/**
 * Builds the genesis state. Throws E_VALIDATION naming the bad parameter, E_CONFLICT for a key listed
 * twice, or E_QUORUM_UNSATISFIABLE when the quorum could never be met (e.g. 3 of 2 admins).
 */
export function createGenesis(p: GenesisParameters): GovernanceState {
  checkId(p.tenant, 'tenant');
  checkIsoTime(p.createdAt, 'createdAt');
  if (!Array.isArray(p.admins) || p.admins.length === 0 || p.admins.length > 100)
    invalid('admins', 'must list 1 to 100 admins');
  const users: Record<string, GovernanceUser> = {};
  const keyOwners = new Map<string, string>();
  p.admins.forEach((admin, i) => {
    const userId = checkId(admin.userId, `admins[${i}].userId`);
    if (Object.hasOwn(users, userId)) invalid(`admins[${i}].userId`, `${userId} is listed twice`);
    if (typeof admin.name !== 'string' || admin.name.length === 0 || admin.name.length > 200)
      invalid(`admins[${i}].name`, 'must be 1-200 characters');
    const kind = admin.kind ?? 'person';
    if (kind !== 'person' && kind !== 'service') invalid(`admins[${i}].kind`, 'must be person or service');
    if (!Array.isArray(admin.keys) || admin.keys.length === 0 || admin.keys.length > 16)
      invalid(`admins[${i}].keys`, 'must list 1 to 16 keys');
    const keys: Record<string, GovernanceKey> = {};
    for (const k of admin.keys) {
      const keyId = keyIdOf(parsePublicKey(k.alg, k.publicKey).export({ format: 'der', type: 'spki' }));
      const owner = keyOwners.get(keyId);
      if (owner !== undefined) {
        throw new StrongroomError('E_CONFLICT', `key ${keyId} is listed twice`, {
          details: { keyId, userId: owner },
        });
      }
      keyOwners.set(keyId, userId);
      keys[keyId] = { alg: k.alg, publicKey: k.publicKey, status: 'active' };
    }
    users[userId] = { name: admin.name, kind, status: 'active', keys };
  });

  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(p.groups ?? {})) {
    checkId(name, `groups.${name}`);
    if (!Array.isArray(members) || new Set(members).size !== members.length)
      invalid(`groups.${name}`, 'must list unique user ids');
    for (const m of members)
      if (!Object.hasOwn(users, m)) invalid(`groups.${name}`, `${String(m)} is not an admin`);
    groups[name] = [...members].sort();
  }
  const allAdmins = Object.keys(users).sort();
  const govGroup = checkId(p.governance?.group, 'governance.group');
  if (!Number.isSafeInteger(p.governance.k) || p.governance.k < 1 || p.governance.k > 100)
    invalid('governance.k', 'must be an integer 1-100');
  const freezeGroup = checkId(p.freezeGroup, 'freezeGroup');
  groups[govGroup] ??= allAdmins;
  groups[freezeGroup] ??= allAdmins;

  const genesis: GovernanceState = {
    format: GOVERNANCE_FORMAT,
    tenant: p.tenant,
    height: 0,
    prev: null,
    changedBy: null,
    at: p.createdAt,
    users,
    groups: Object.fromEntries(Object.entries(groups).sort(([a], [b]) => (a < b ? -1 : 1))),
    governance: { group: govGroup, k: p.governance.k },
    freezeGroup,
    policies: { active: null, history: [] },
    addressBook: {},
    freeze: { tenant: false, wallets: [] },
  };
  assertLive(genesis, 'genesis');
  return genesis;
}

/** An initial admin signs the genesis (client side, at the ceremony). */
export function signGenesis(
  genesis: GovernanceState,
  userId: string,
  signer: StatementSigner,
): GenesisSignature {
  return {
    userId,
    keyId: signer.keyId,
    signature: encodeSignature(signer.sign(genesisStatementBytes(stateDigest(genesis)))),
  };
}

/**
 * Verifies a genesis and its ceremony signatures; returns its digest. The genesis must be exactly what
 * `createGenesis` builds from its own contents (so no field was added, dropped or bent), and every user
 * in it must have signed with one of their keys; every signature presented must verify.
 *
 * Throws E_GOVERNANCE_CHAIN_INVALID (not a well-formed genesis; details.reason), E_KEY_UNKNOWN,
 * E_SIGNATURE_INVALID, or E_QUORUM_INCOMPLETE (details.missing: admins who did not sign).
 */
export function verifyGenesis(genesis: GovernanceState, signatures: readonly GenesisSignature[]): Digest {
  const digest = wellFormedGenesisDigest(genesis);
  if (!Array.isArray(signatures)) invalid('signatures', 'must be an array');
  const bytes = genesisStatementBytes(digest);
  const signed = new Set<string>();
  for (const s of signatures) {
    verifyUserSignature(genesis, s, bytes, 'genesis signature');
    signed.add(s.userId);
  }
  const missing = Object.keys(genesis.users)
    .filter((u) => !signed.has(u))
    .sort();
  if (missing.length > 0) {
    throw new StrongroomError(
      'E_QUORUM_INCOMPLETE',
      `genesis must be signed by every initial admin; missing ${missing.join(', ')}`,
      {
        details: { required: Object.keys(genesis.users).length, counted: signed.size, missing },
      },
    );
  }
  return digest;
}

function wellFormedGenesisDigest(genesis: GovernanceState): Digest {
  let digest: Digest;
  let rebuilt: GovernanceState;
  try {
    digest = stateDigest(genesis);
    if (
      genesis.format !== GOVERNANCE_FORMAT ||
      genesis.height !== 0 ||
      genesis.prev !== null ||
      genesis.changedBy !== null
    ) {
      throw new StrongroomError('E_VALIDATION', 'not a genesis header');
    }
    rebuilt = createGenesis({
      tenant: genesis.tenant,
      admins: Object.entries(genesis.users).map(([userId, u]) => ({
        userId,
        name: u.name,
        kind: u.kind,
        keys: Object.values(u.keys).map((k) => ({ alg: k.alg, publicKey: k.publicKey })),
      })),
      groups: genesis.groups,
      governance: genesis.governance,
      freezeGroup: genesis.freezeGroup,
      createdAt: genesis.at,
    });
  } catch (cause) {
    throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'genesis is not well formed', {
      details: { reason: (cause as StrongroomError).code ?? 'E_VALIDATION' },
      cause,
    });
  }
  if (stateDigest(rebuilt) !== digest) {
    throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'genesis is not well formed', {
      details: { reason: 'not canonical' },
    });
  }
  return digest;
}
