import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

/**
 * Governance and policy decisions: the verified chain of governance states (height 0 = genesis, with its
 * ceremony signatures; later heights with the transition that produced them), open governance requests and
 * their approvals, published policy documents, and for each transfer request the recorded context, the
 * policy decision and the approvers' signatures. All of it is untrusted storage: the vault re-verifies.
 */
export async function up(db: Kysely<any>, _ctx: MigrationContext): Promise<void> {
  await db.schema
    .createTable('governance_states')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    /** Genesis: its signatures (JSON array); later: the transition (signed request with approvals). */
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('governance_states_pk', ['tenant_id', 'height'])
    .execute();
  await db.schema
    .createTable('governance_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('initiator_signature', 'text', (c) => c.notNull())
    .addColumn('request_digest', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('applied_height', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('governance_requests_tenant').on('governance_requests').columns(['tenant_id', 'status']).execute();
  await db.schema
    .createTable('governance_approvals')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('approver', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('approval', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('governance_approvals_pk', ['request_id', 'approver', 'key_id'])
    .execute();
  await db.schema
    .createTable('governance_policies')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('document', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('governance_policies_pk', ['tenant_id', 'digest'])
    .execute();
  await db.schema
    .createTable('request_decisions')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('policy_digest', 'text', (c) => c.notNull())
    .addColumn('policy_version', 'integer', (c) => c.notNull())
    .addColumn('context', 'text', (c) => c.notNull())
    .addColumn('context_digest', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('rule_id', 'text')
    .addColumn('workflow', 'text')
    .addColumn('trace', 'text', (c) => c.notNull())
    .addColumn('evaluated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('request_approvals')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('approver', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('approval', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('request_approvals_pk', ['request_id', 'approver', 'key_id'])
    .execute();
}
