/**
 * Setup of `bench pipeline`: a governed Strongroom (vault initialized, warm wallet, three admins who sign a
 * 2-of-3 genesis, a trader and a treasury group added by governance requests, a 2-of-treasury policy
 * published) on a fresh SQLite or PostgreSQL database, then N withdrawals taken to `signing` through the
 * real service code:
 *
 *  1. submitted by the trader (an RFC 9421 signed HTTP request, kept as the initiator's evidence) and
 *     evaluated under the policy in force (context recorded, workflow decided);
 *  2. approved by two treasury members, each approval an Ed25519 signature over (request, policy, context);
 *  3. queued as a leased job and prepared by the executor's own `prepare` step (approved → signing, unsigned
 *     EIP-1559 payload stored, audited), with a node-less chain adapter whose fee facts are fixed and whose
 *     nonces are distinct (no node is needed to sign).
 *
 * Governance is set up over HTTP exactly as a client would; the N requests are submitted and approved
 * in-process (same service calls the routes make, with real signatures) because HTTP would dominate the setup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { buildServer } from '../src/api/server.ts';
import { buildEthTransfer } from '../src/chains/evm/tx.ts';
import { signRequest, type RequestSigner } from '../src/domain/http-signatures.ts';
import {
  createGovernanceRequest,
  requestDigest,
  signApproval,
  signGenesis,
  signGovernanceRequest,
  type GovernanceState,
  type PayloadOf,
  type RequestKind,
  type StatementSigner,
} from '../src/governance/index.ts';
import { policyDigest, type PolicyDocument } from '../src/policy/index.ts';
import { generateRequestSigner } from '../src/sdk/signer.ts';
import { createStrongroom, type Strongroom } from '../src/service/app.ts';
import type { ChainsConfig } from '../src/service/chains-config.ts';
import type { Principal } from '../src/service/principal.ts';
import { deriveWalletAddress } from '../src/service/wallet-addresses.ts';
import type { ChainAdapter } from '../src/service/withdrawals/adapter.ts';
import {
  createWithdrawalExecutor,
  EXECUTE_JOB,
  type WithdrawalExecutor,
} from '../src/service/withdrawals/executor.ts';
import type { JobContext } from '../src/service/workers/job-runner.ts';
import type { Dialect } from '../src/store/database.ts';
import { jobsRepository } from '../src/store/repositories/jobs-repository.ts';
import { transferApprovalBytes, type TransferApprovalStatement } from '../src/vault/evidence.ts';
import { createTestDatabase } from '../test/support/databases.ts';

export const WALLET = 'wal_treasury';
export const DESTINATION = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const CHAIN_ID = 31337n;
const CHAINS: ChainsConfig = {
  // Never contacted: the bench adapter below answers the node facts, and signing needs no node.
  ethereum: {
    network: 'bench',
    chainId: CHAIN_ID.toString(),
    rpcUrl: 'http://127.0.0.1:9/',
    confirmations: 1,
  },
};
const POLICY: PolicyDocument = {
  version: 1,
  name: 'withdrawals',
  rules: [
    {
      id: 'two-of-treasury',
      when: { requestType: ['transfer'], asset: ['ETH'] },
      action: { workflow: { steps: [{ group: 'treasury', k: 2 }], expiresInSeconds: 3600 } },
    },
  ],
  tests: [],
};

interface Member {
  userId: string;
  signer: RequestSigner;
}

const sync = (s: RequestSigner): StatementSigner => ({
  keyId: s.keyId,
  sign: (b) => s.sign(b) as Uint8Array,
});

export interface PipelineSetup {
  dialect: Dialect;
  app: Strongroom;
  executor: WithdrawalExecutor;
  tenant: string;
  /** Request ids in `signing`, each with the context of its claimed job. */
  work: Array<{ id: string; ctx: JobContext }>;
  /** Seconds: submit + evaluate + 2 approvals of N requests; then dispatch + prepare (approved → signing). */
  timings: { approveS: number; prepareS: number };
  /** Puts every request back to `signing` (payload kept), so the sign step can be measured again. */
  reset(): Promise<void>;
  /** Counts of requests by status and of `vault.sign` audit entries. */
  census(): Promise<{ signed: number; signing: number; vaultSign: number }>;
  close(): Promise<void>;
}

function check(ok: boolean, what: string, detail?: unknown): void {
  if (!ok)
    throw new Error(`bench setup: ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
}

/** Runs `n` calls of `fn` with `inFlight` at once. */
export async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

export async function setupPipeline(
  dialect: Dialect,
  n: number,
  log: (s: string) => void = () => {},
): Promise<PipelineSetup> {
  const tdb = await createTestDatabase(dialect);
  await tdb.database.close(); // the app opens its own
  const database = tdb.config.dialect === 'postgres' ? { ...tdb.config, poolSize: 16 } : tdb.config;
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-pipeline-'));
  const app = await createStrongroom({
    database,
    dataDir,
    vault: { placement: 'local', seal: 'shamir', scrypt: { N: 1024 } },
    chains: CHAINS,
  });
  const adminSigner = generateRequestSigner('ed25519');
  const init = await app.initialize({
    tenant: 'acme',
    admins: [{ name: 'alice', alg: adminSigner.alg, publicKey: adminSigner.publicKeySpki }],
  });
  const tenant = init.tenantId;
  const server: FastifyInstance = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://localhost:${(server.server.address() as { port: number }).port}`;

  async function send(
    by: RequestSigner,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = await signRequest({
      method,
      targetUri: baseUrl + path,
      body: text,
      signer: by,
    });
    if (text) headers['content-type'] = 'application/json';
    if (method === 'POST') headers['idempotency-key'] = crypto.randomUUID();
    const res = await fetch(baseUrl + path, { method, headers, body: text || undefined });
    const reply = await res.text();
    return { status: res.status, body: reply ? JSON.parse(reply) : undefined };
  }

  // ---- vault, users, genesis, governance (over HTTP) ----
  await app.vault.initialize(tenant, {
    mechanism: 'shamir',
    threshold: 2,
    custodians: ['c1', 'c2'].map((name) => ({ name, passphrase: `${name} passphrase` })),
  });
  const wallet = await app.vault.createWallet(tenant, { walletId: WALLET, tier: 'warm' });
  const alice: Member = { userId: init.admins[0]!.userId, signer: adminSigner };
  const admin = async (name: string): Promise<Member> => {
    const signer = generateRequestSigner('ed25519');
    const r = await send(alice.signer, 'POST', '/v1/users', {
      name,
      kind: 'person',
      keys: [{ alg: signer.alg, publicKey: signer.publicKeySpki }],
      groups: ['admins'],
    });
    check(r.status === 201, 'create user', r.body);
    return { userId: r.body.id, signer };
  };
  const bob = await admin('bob');
  const carol = await admin('carol');
  const draft = await send(alice.signer, 'GET', '/v1/governance/genesis-draft?k=2');
  check(draft.status === 200, 'genesis draft', draft.body);
  const genesis = draft.body as GovernanceState;
  const g = await send(alice.signer, 'POST', '/v1/governance/genesis', {
    genesis,
    signatures: [alice, bob, carol].map((m) => signGenesis(genesis, m.userId, sync(m.signer))),
  });
  check(g.status === 201, 'genesis', g.body);

  async function govern<K extends RequestKind>(kind: K, payload: PayloadOf<K>): Promise<void> {
    const h = await send(alice.signer, 'GET', '/v1/governance');
    const created = Date.now();
    const request = createGovernanceRequest({
      tenant,
      kind,
      payload,
      baseState: h.body.digest,
      initiator: alice.userId,
      keyId: alice.signer.keyId,
      createdAt: new Date(created).toISOString(),
      expiresAt: new Date(created + 86_400_000).toISOString(),
    });
    let r = await send(
      alice.signer,
      'POST',
      '/v1/governance/requests',
      signGovernanceRequest(request, sync(alice.signer)),
    );
    check(r.status === 201, `propose ${kind}`, r.body);
    const id = r.body.id as string;
    for (const a of [alice, bob]) {
      const approval = signApproval(
        {
          kind: 'approval',
          requestDigest: requestDigest(request),
          stateDigest: request.baseState,
          approver: a.userId,
          keyId: a.signer.keyId,
          signedAt: new Date(Math.max(Date.now(), created)).toISOString(),
        },
        sync(a.signer),
      );
      r = await send(a.signer, 'POST', `/v1/governance/requests/${id}/approvals`, { approval });
      check(r.status === 200, `approve ${kind}`, r.body);
    }
    check(r.body.status === 'applied', `${kind} applied`, r.body);
  }
  const tina: Member = { userId: 'usr_tina', signer: generateRequestSigner('ed25519') };
  await govern('add_user', {
    userId: tina.userId,
    name: 'tina',
    kind: 'person',
    keys: [{ alg: tina.signer.alg, publicKey: tina.signer.publicKeySpki }],
  });
  await govern('set_group_members', {
    group: 'treasury',
    members: [alice.userId, bob.userId, carol.userId].sort(),
  });
  await govern('publish_policy', { version: 1, digest: policyDigest(POLICY), document: POLICY });
  await server.close();

  // ---- N approved withdrawals, in-process, each with real signatures ----
  /** What the API's authentication hands the services for a signed call. */
  async function principal(m: Member, method: string, path: string, body: string): Promise<Principal> {
    const nonce = randomBytes(16).toString('base64url');
    const created = Math.floor(Date.now() / 1000);
    const targetUri = baseUrl + path;
    const h = await signRequest({ method, targetUri, body, signer: m.signer, nonce, created });
    return {
      tenant,
      userId: m.userId,
      keyId: m.signer.keyId,
      signature: {
        nonce,
        created,
        method,
        targetUri,
        signatureInput: h['signature-input'],
        signature: h.signature,
        contentDigest: h['content-digest'],
        body,
      },
    };
  }
  const t0 = process.hrtime.bigint();
  const ids: string[] = new Array(n);
  let done = 0;
  await pool(n, 64, async (i) => {
    const input = {
      type: 'transfer' as const,
      from: WALLET,
      asset: 'ETH',
      amount: `0.00${1 + (i % 9)}`,
      to: DESTINATION,
    };
    const body = JSON.stringify(input);
    const created = await app.requests.create(
      await principal(tina, 'POST', '/v1/requests', body),
      input,
      `bench-${i}-${randomBytes(6).toString('hex')}`,
    );
    const id = created.body.id;
    check(created.body.status === 'pending_approval', 'submitted transfer awaits approval', created.body);
    const view = await app.approvals.status({ tenant, userId: alice.userId, keyId: alice.signer.keyId }, id);
    let status = '';
    for (const m of [alice, bob]) {
      const statement: TransferApprovalStatement = {
        kind: 'approval',
        requestDigest: view.requestDigest,
        policyDigest: view.policyDigest,
        contextDigest: view.contextDigest,
        approver: m.userId,
        keyId: m.signer.keyId,
        signedAt: new Date().toISOString(),
      };
      const approval = {
        ...statement,
        signature: Buffer.from(m.signer.sign(transferApprovalBytes(statement)) as Uint8Array).toString(
          'base64',
        ),
      };
      const r = await app.approvals.approve(
        await principal(m, 'POST', `/v1/requests/${id}/approvals`, JSON.stringify({ approval })),
        id,
        approval,
      );
      status = r.body.status;
    }
    check(status === 'approved', 'two approvals approve', status);
    ids[i] = id;
    if (++done % 5000 === 0) log(`  ${done}/${n} approved`);
  });
  const approveS = Number(process.hrtime.bigint() - t0) / 1e9;

  // ---- approved → signing through the executor's prepare step (node-less adapter) ----
  const sender = deriveWalletAddress(
    tenant,
    wallet,
    'evm',
    0,
    0,
    'mainnet',
    new Date().toISOString(),
  ).address;
  let nonce = 0;
  const fees = { gasLimit: 21_000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
  const adapter: ChainAdapter<null> = {
    facts: async () => null,
    async build(_trx, o) {
      const built = buildEthTransfer({
        chainId: CHAIN_ID,
        nonce: nonce++,
        to: o.destination,
        amount: o.amount,
        fees,
      });
      return {
        unsignedPayload: built.unsignedTx,
        tracking: { sender, nonce: built.request.nonce, chainId: CHAIN_ID.toString() },
        fee: fees.gasLimit * fees.maxFeePerGas,
      };
    },
    broadcast: async () => {},
    track: async () => ({ state: 'pending', confirmations: 0 }),
    bump: () => Promise.reject(new Error('the bench never bumps fees')),
    close: () => {},
  };
  const executor = createWithdrawalExecutor({
    writer: app.writer,
    database: app.database,
    now: app.now,
    vault: app.vault,
    approvals: app.approvals,
    chains: CHAINS,
    assets: app.assets,
    adapters: { ethereum: adapter as ChainAdapter<unknown> },
  });
  const t1 = process.hrtime.bigint();
  while ((await executor.dispatch()) > 0);
  const jobs = [];
  for (;;) {
    const claimed = await jobsRepository.claim(app.database.db, 'bench', [EXECUTE_JOB], 3_600_000, 1000);
    if (claimed.length === 0) break;
    jobs.push(...claimed);
  }
  check(jobs.length === n, 'one job per approved request', { jobs: jobs.length, n });
  const never = new AbortController().signal;
  const work = jobs.map((job) => ({
    id: (job.payload as { requestId: string }).requestId,
    ctx: {
      job,
      fence: job.fence,
      signal: never,
      fenced: () => Promise.reject(new Error('unused')),
    } as JobContext,
  }));
  await pool(work.length, 64, (i) => executor.steps.prepare(work[i]!.ctx, tenant, work[i]!.id));
  const prepareS = Number(process.hrtime.bigint() - t1) / 1e9;

  const db = app.database.db;
  async function census() {
    const rows = await sql<{
      status: string;
      n: number;
    }>`select status, count(*) as n from requests where tenant_id = ${tenant} group by status`.execute(db);
    const by = new Map(rows.rows.map((r) => [r.status, Number(r.n)]));
    const vs = await sql<{
      n: number;
    }>`select count(*) as n from audit_entries where tenant_id = ${tenant} and action = 'vault.sign'`.execute(
      db,
    );
    return {
      signed: by.get('signed') ?? 0,
      signing: by.get('signing') ?? 0,
      vaultSign: Number(vs.rows[0]!.n),
    };
  }
  const c = await census();
  check(c.signing === n, 'every request is in signing', c);

  return {
    dialect,
    app,
    executor,
    tenant,
    work,
    timings: { approveS, prepareS },
    census,
    async reset() {
      await sql`update requests set status = 'signing' where tenant_id = ${tenant} and status = 'signed'`.execute(
        db,
      );
      await sql`update executions set state = 'signing', signed_tx = null, txid = null where tenant_id = ${tenant} and state = 'signed'`.execute(
        db,
      );
    },
    async close() {
      await app.close();
      await tdb.dispose().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
