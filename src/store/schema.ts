/**
 * Table types shared by both dialects. Times are ISO-8601 UTC strings (`at`, `created_at`) or unix seconds
 * where they are compared on a hot path (`*_unix`). Amounts are decimal strings of base units.
 */
import type { Generated } from 'kysely';

export interface TenantsTable {
  id: string;
  name: string;
  created_at: string;
}
export interface SystemStateTable {
  key: string;
  value: string;
}
export interface UsersTable {
  id: string;
  tenant_id: string;
  name: string;
  kind: 'person' | 'service';
  status: 'active' | 'disabled';
  created_at: string;
}
export interface UserKeysTable {
  id: string;
  tenant_id: string;
  user_id: string;
  alg: string;
  public_key: string;
  status: 'active' | 'revoked';
  created_at: string;
  revoked_at: string | null;
}
export interface GroupsTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: string;
}
export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  tenant_id: string;
  created_at: string;
}
export interface NoncesTable {
  key_id: string;
  nonce: string;
  created_unix: number;
}
export interface IdempotencyTable {
  tenant_id: string;
  user_id: string;
  idem_key: string;
  request_hash: string;
  status_code: number;
  response_body: string;
  created_at: string;
}
export interface SessionsTable {
  token_hash: string;
  tenant_id: string;
  user_id: string;
  key_id: string;
  expires_unix: number;
}
export interface SessionChallengesTable {
  challenge: string;
  key_id: string;
  expires_unix: number;
}
export interface RequestsTable {
  id: string;
  tenant_id: string;
  type: string;
  status: string;
  initiator_user_id: string;
  key_id: string;
  payload: string;
  digest: string;
  idempotency_key: string;
  /** The initiator's signed HTTP request (JSON: method, target URI, signature headers, raw body), kept as evidence. */
  evidence: string;
  created_at: string;
  expires_at: string | null;
}
export interface AuditEntriesTable {
  tenant_id: string;
  seq: number;
  at: string;
  actor: string;
  action: string;
  request_digest: string | null;
  payload_digest: string | null;
  prev_hash: string;
  hash: string;
}
export interface AuditHeadsTable {
  tenant_id: string;
  seq: number;
  hash: string;
}
export interface AuditCheckpointsTable {
  tenant_id: string;
  seq: number;
  head_hash: string;
  at: string;
  key_id: string;
  signature: string;
}
export interface OutboxTable {
  id: Generated<number>;
  tenant_id: string;
  topic: string;
  payload: string;
  created_at: string;
  delivered_at: string | null;
}

export interface StoreSchema {
  tenants: TenantsTable;
  system_state: SystemStateTable;
  users: UsersTable;
  user_keys: UserKeysTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  nonces: NoncesTable;
  idempotency: IdempotencyTable;
  sessions: SessionsTable;
  session_challenges: SessionChallengesTable;
  requests: RequestsTable;
  audit_entries: AuditEntriesTable;
  audit_heads: AuditHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
  outbox: OutboxTable;
}
