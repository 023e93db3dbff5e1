/**
 * Reading, checkpointing and verifying the audit log. Checkpoints `{tenant, seq, headHash, at}` are signed by
 * the audit key (today the interim server key, later the vault's), so a verifier holding the public key
 * detects a truncated tail.
 */
import type { AuditRecord } from '../audit/audit-entry.ts';
import { signCheckpoint, type CheckpointSigner, type SignedCheckpoint } from '../audit/checkpoint.ts';
import { verifyAuditChain, type AuditVerifyReport } from '../audit/verify-chain.ts';
import type { Digest } from '../domain/canonical.ts';
import { auditRepository, directoryRepository, type Queryable } from '../store/index.ts';
import type { AuditCheckpointRow, AuditEntryRow } from '../store/repositories/audit-repository.ts';

export function recordOf(r: AuditEntryRow): AuditRecord {
  return {
    seq: Number(r.seq),
    at: r.at,
    tenant: r.tenant_id,
    actor: r.actor,
    action: r.action,
    requestDigest: r.request_digest as Digest | null,
    payloadDigest: r.payload_digest as Digest | null,
    prevHash: r.prev_hash as Digest,
    hash: r.hash as Digest,
  };
}

export function checkpointOf(r: AuditCheckpointRow): SignedCheckpoint {
  return {
    tenant: r.tenant_id,
    seq: Number(r.seq),
    headHash: r.head_hash as Digest,
    at: r.at,
    keyId: r.key_id,
    signature: r.signature,
  };
}

export interface AuditServiceDeps {
  db: Queryable;
  /** The tenant's checkpoint signer now, or undefined when none can sign (e.g. the vault is sealed). */
  signerFor: (tenant: string) => Promise<CheckpointSigner | undefined>;
  /** Public keys a verifier of this installation trusts for the tenant's checkpoints. */
  trustedKeys: (tenant: string) => Promise<Map<string, Uint8Array>>;
  now: () => Date;
}

export function createAuditService(deps: AuditServiceDeps) {
  const { db, signerFor, now } = deps;
  const lastSigned = new Map<string, number>();
  const trustedKeys = deps.trustedKeys;

  return {
    trustedKeys,
    async *records(tenant: string, afterSeq = 0): AsyncGenerator<AuditRecord> {
      for await (const r of auditRepository.iterate(db, tenant, { afterSeq })) yield recordOf(r);
    },
    async entries(tenant: string, afterSeq: number, limit: number): Promise<AuditRecord[]> {
      return (await auditRepository.list(db, tenant, { afterSeq, limit })).map(recordOf);
    },
    async checkpoints(tenant: string): Promise<SignedCheckpoint[]> {
      return (await auditRepository.listCheckpoints(db, tenant)).map(checkpointOf);
    },
    /** Signs the tenant's current head, if it moved since the last checkpoint and a signer is available. */
    async checkpoint(tenant: string): Promise<SignedCheckpoint | undefined> {
      const signer = await signerFor(tenant);
      if (!signer) return undefined;
      const head = await auditRepository.lockHead(db, 'sqlite', tenant);
      if (!head || head.seq === 0 || lastSigned.get(tenant) === head.seq) return undefined;
      const existing = await auditRepository.listCheckpoints(db, tenant);
      if (existing.length && Number(existing[existing.length - 1]!.seq) >= head.seq) {
        lastSigned.set(tenant, head.seq);
        return undefined;
      }
      const cp = await signCheckpoint(signer, {
        tenant,
        seq: head.seq,
        headHash: head.hash as Digest,
        at: now().toISOString(),
      });
      await auditRepository.insertCheckpoint(db, {
        tenant_id: tenant,
        seq: cp.seq,
        head_hash: cp.headHash,
        at: cp.at,
        key_id: cp.keyId,
        signature: cp.signature,
      });
      lastSigned.set(tenant, cp.seq);
      return cp;
    },
    async checkpointAll(): Promise<void> {
      for (const t of await directoryRepository.listTenants(db)) await this.checkpoint(t.id);
    },
    /** Verifies a tenant's chain as stored, against its signed checkpoints. */
    async verify(tenant: string, keys?: Map<string, Uint8Array>): Promise<AuditVerifyReport> {
      keys ??= await trustedKeys(tenant);
      return verifyAuditChain(this.records(tenant), {
        tenant,
        checkpoints: await this.checkpoints(tenant),
        trustedKeys: keys,
      });
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
