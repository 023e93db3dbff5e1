/**
 * The governance head each tenant's vault has verified, kept by the vault itself (GovernanceHeadTracker
 * from src/governance), so that the database cannot roll governance back.
 *
 * The head record is public data authenticated by an HMAC. The MAC key is derived (HKDF-SHA-256) from the
 * tenant's audit key, which exists only as a cryptogram under the master key and is moved by every rewrap:
 * so the MAC is bound to the master key, needs the vault unsealed, and survives a master key rotation.
 * The record lives in the vault's own storage (a `vault_keys` row of purpose `governance-head`), wherever
 * the vault runs.
 *
 * Rollback: the newest head is kept in memory for the life of the vault process; the stored record is read
 * once per process (its MAC checked). An insider who restores an older, once-valid record while the vault
 * process restarts is out of reach of software alone (a monotonic counter in the HSM would close it).
 *
 * Speed: the state at the head is kept too, as a frozen copy of what was verified. Signing presents the
 * same head for every request; the state is digested once per object presented, not once per request, and
 * every check reads the vault's own copy.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import {
  GovernanceHeadTracker,
  type AcceptResult,
  type GovernanceChainProof,
  type GovernanceHead,
  type GovernanceHeadRecord,
  type HeadMac,
} from '../governance/index.ts';
import type { VaultStorage } from './vault.ts';

export const GOVERNANCE_HEAD_PURPOSE = 'governance-head' as const;
const MAC_INFO = 'strongroom/governance-head-mac/v1';

/** Where head records persist. */
export interface GovernanceHeadStorage {
  get(tenant: string): Promise<GovernanceHeadRecord | undefined>;
  put(record: GovernanceHeadRecord, at: string): Promise<void>;
}

/** Head records in the vault's key table (public JSON bytes; the MAC inside authenticates them). */
export function headStorageInVaultKeys(storage: VaultStorage): GovernanceHeadStorage {
  return {
    async get(tenant) {
      const rec = await storage.getKey(tenant, GOVERNANCE_HEAD_PURPOSE);
      if (!rec) return undefined;
      try {
        return JSON.parse(new TextDecoder().decode(rec.cryptogram)) as GovernanceHeadRecord;
      } catch (cause) {
        throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'the stored governance head is unreadable', { details: { reason: 'shape' }, cause });
      }
    },
    async put(record, at) {
      await storage.putKey({
        tenant: record.tenant,
        purpose: GOVERNANCE_HEAD_PURPOSE,
        keyId: record.digest,
        keyVersion: record.height,
        cryptogram: new TextEncoder().encode(JSON.stringify(record)),
        publicKey: new Uint8Array(0),
        createdAt: at,
      });
    },
  };
}

/** Derives the tenant's head MAC from its audit-key secret (the caller wipes `auditSecret`). */
export function headMacFromAuditSecret(tenant: string, auditSecret: Uint8Array): HeadMac {
  const key = new Uint8Array(hkdfSync('sha256', auditSecret, new TextEncoder().encode(tenant), MAC_INFO, 32));
  return (bytes) => new Uint8Array(createHmac('sha256', key).update(bytes).digest());
}

export interface GovernanceHeadsOptions {
  storage: GovernanceHeadStorage;
  /** The tenant's MAC; needs the vault unsealed (throws the seal's typed error otherwise). */
  macFor(tenant: string): Promise<HeadMac>;
  now(): Date;
}

/**
 * The state at a tenant's recorded head, as this process verified it: a frozen copy, its chain and record,
 * and the object last presented for it (a caller that presents the same object again, unchanged head, no
 * transitions, is not re-digested: the vault decides with its own copy anyway).
 */
interface VerifiedHead {
  readonly height: number;
  readonly digest: Digest;
  readonly result: AcceptResult;
  presented: object | undefined;
}

/** One tracker per tenant, loaded once and then kept: forward only. */
export class GovernanceHeads {
  readonly #options: GovernanceHeadsOptions;
  readonly #trackers = new Map<string, GovernanceHeadTracker>();
  readonly #verified = new Map<string, VerifiedHead>();
  /** The newest head seen by this process, kept when a seal drops the trackers (and their MAC keys). */
  readonly #floors = new Map<string, GovernanceHead>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Accepts queued or running: while any is, nothing is answered from the kept head (order is kept). */
  #pending = 0;

  constructor(options: GovernanceHeadsOptions) {
    this.#options = options;
  }

  /** The recorded head, or null before the tenant's genesis was accepted. */
  async head(tenant: string): Promise<GovernanceHead | null> {
    return (await this.#tracker(tenant)).head;
  }

  /**
   * Verifies `proof` and moves the head to `newHead` (see GovernanceHeadTracker.accept), persisting the
   * record. Serialized, so two concurrent accepts cannot interleave. A claim of exactly the head verified
   * last, with the same state object and no transitions, is answered from the kept result (see `#known`)
   * when no other accept is queued: the signing path presents the same head for every request.
   */
  accept(tenant: string, newHead: { height: number; digest: Digest }, proof: GovernanceChainProof): Promise<AcceptResult> {
    const known = this.#pending === 0 ? this.#known(tenant, newHead, proof) : undefined;
    if (known) return Promise.resolve(known);
    this.#pending++;
    const run = this.#queue.then(async () => {
      try {
        const tracker = await this.#tracker(tenant);
        const before = tracker.head;
        const result = tracker.accept(newHead, proof, { now: this.#options.now().getTime() });
        const { mac: _mac, ...head } = result.record;
        this.#floors.set(tenant, head);
        if (before === null || before.digest !== result.record.digest) {
          await this.#options.storage.put(result.record, this.#options.now().toISOString());
        }
        return this.#keep(tenant, result, proof);
      } finally {
        this.#pending--;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Drops cached trackers and their MAC keys (on seal); the head itself stays as a floor. */
  forget(tenant?: string): void {
    if (tenant === undefined) {
      this.#trackers.clear();
      this.#verified.clear();
    } else {
      this.#trackers.delete(tenant);
      this.#verified.delete(tenant);
    }
  }

  /**
   * The kept result when `proof` claims exactly the head this process verified last, with no transitions,
   * presented as the same object as before. Anything else (another head, transitions, a new object: e.g.
   * a state re-read because its stored text changed) goes through the tracker and is verified.
   */
  #known(tenant: string, newHead: { height: number; digest: Digest }, proof: GovernanceChainProof): AcceptResult | undefined {
    const v = this.#verified.get(tenant);
    const tracker = this.#trackers.get(tenant);
    if (!v || !tracker || tracker.head?.digest !== v.digest || tracker.head.height !== v.height) return undefined;
    if (newHead?.height !== v.height || newHead.digest !== v.digest) return undefined;
    if (proof === null || typeof proof !== 'object' || !('from' in proof) || v.presented === undefined || typeof proof.from !== 'object' || proof.from !== v.presented) return undefined;
    if (!Array.isArray(proof.transitions) || proof.transitions.length !== 0) return undefined;
    return v.result;
  }

  /** Keeps a frozen copy of the verified head state (the checks that follow read this copy, not the caller's). */
  #keep(tenant: string, result: AcceptResult, proof: GovernanceChainProof): AcceptResult {
    const prior = this.#verified.get(tenant);
    const presented = 'from' in proof && proof.transitions.length === 0 ? (proof.from as object) : undefined;
    if (prior && prior.digest === result.chain.headDigest && prior.height === result.record.height) {
      prior.presented = presented;
      return prior.result;
    }
    const kept: AcceptResult = {
      record: Object.freeze({ ...result.record }),
      chain: Object.freeze({ ...result.chain, head: deepFreeze(structuredClone(result.chain.head)), digests: Object.freeze([...result.chain.digests]) }),
    };
    this.#verified.set(tenant, { height: result.record.height, digest: result.chain.headDigest, result: kept, presented });
    return kept;
  }

  async #tracker(tenant: string): Promise<GovernanceHeadTracker> {
    const known = this.#trackers.get(tenant);
    if (known) return known;
    const mac = await this.#options.macFor(tenant);
    const record = await this.#options.storage.get(tenant);
    const tracker = record ? GovernanceHeadTracker.load(record, mac) : GovernanceHeadTracker.create(tenant, mac);
    if (tracker.tenant !== tenant) {
      throw new StrongroomError('E_GOVERNANCE_CHAIN_INVALID', 'the stored governance head is for another tenant', { details: { reason: 'tenant' } });
    }
    const floor = this.#floors.get(tenant);
    const head = tracker.head;
    if (floor && (head === null || head.height < floor.height || (head.height === floor.height && head.digest !== floor.digest))) {
      throw new StrongroomError('E_GOVERNANCE_ROLLBACK', 'the stored governance head is older than the one this vault verified', {
        details: { recorded: floor.digest, height: floor.height, stored: head?.height ?? null },
      });
    }
    if (head) this.#floors.set(tenant, { tenant: head.tenant, genesis: head.genesis, height: head.height, digest: head.digest });
    this.#trackers.set(tenant, tracker);
    return tracker;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
