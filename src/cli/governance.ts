/**
 * `strongroom governance genesis|propose|approve|show`, `strongroom policy test|publish|simulate` and
 * `strongroom approve <requestId>`. Every statement (genesis, governance request, approval) is signed here,
 * client side, with the user's key file; the server and the vault only verify.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  approvalBytes,
  createGovernanceRequest,
  encodeSignature,
  genesisStatementBytes,
  parsePolicyText,
  policyDigest,
  requestDigest,
  requestStatementBytes,
  stateDigest,
} from '../service/governance-service.ts';
import type { GovernanceState } from '../service/governance-service.ts';
import { createClient, type StrongroomClient } from '../sdk/client.ts';
import { loadKeyFile } from '../sdk/key-file.ts';
import { transferApprovalBytes, type TransferApprovalStatement } from '../vault/evidence.ts';
import { clientFrom, withClientOptions } from './client-options.ts';
import { action, print } from './output.ts';

type ClientOpts = { server: string; key?: string };
const DAY_MS = 86_400_000;

function signerOf(o: ClientOpts) {
  if (!o.key) throw new Error('--key <file> (or STRONGROOM_KEY) is required: every call is signed by your key');
  return loadKeyFile(o.key);
}

function readPolicy(file: string) {
  return parsePolicyText(readFileSync(file, 'utf8'), /\.ya?ml$/i.test(file) ? 'yaml' : 'json');
}

async function propose(o: ClientOpts, kind: string, payload: unknown, ttlMs = DAY_MS): Promise<unknown> {
  const signer = signerOf(o);
  const client = clientFrom(o);
  const me = await client.get<{ tenant: string; userId: string }>('/v1/me');
  const head = await client.get<{ digest: string }>('/v1/governance');
  const created = Date.now();
  const request = createGovernanceRequest({
    tenant: me.tenant, kind: kind as never, payload: payload as never, baseState: head.digest as never, initiator: me.userId, keyId: signer.keyId,
    createdAt: new Date(created).toISOString(), expiresAt: new Date(created + ttlMs).toISOString(),
  });
  const initiatorSignature = encodeSignature(await signer.sign(requestStatementBytes(requestDigest(request))));
  return client.post('/v1/governance/requests', { request, initiatorSignature });
}

export function registerGovernance(program: Command): void {
  const gov = program.command('governance').description('governance: genesis, requests approved by the quorum, the state in force');
  withClientOptions(
    gov
      .command('genesis')
      .description("sign and record the genesis: every admin's key file signs (at the key ceremony)")
      .requiredOption('--k <n>', 'governance quorum: k of admins')
      .requiredOption('--signers <files...>', "every initial admin's key file"),
  ).action(
    action(async (o: ClientOpts & { k: string; signers: string[] }) => {
      const client = clientFrom(o);
      const genesis = await client.get<GovernanceState>(`/v1/governance/genesis-draft?k=${encodeURIComponent(o.k)}`);
      const bytes = genesisStatementBytes(stateDigest(genesis));
      const signatures = [];
      for (const file of o.signers) {
        const s = loadKeyFile(file);
        const userId = Object.entries(genesis.users).find(([, u]) => Object.hasOwn(u.keys, s.keyId))?.[0];
        if (!userId) throw new Error(`${file}: this key is not an admin key in the genesis`);
        signatures.push({ userId, keyId: s.keyId, signature: encodeSignature(await s.sign(bytes)) });
      }
      print(await client.post('/v1/governance/genesis', { genesis, signatures }));
    }),
  );
  withClientOptions(
    gov.command('propose <kind> <payload>').description('propose a governance request; payload is JSON (e.g. \'{"entryId":"cold"}\')'),
  ).action(action(async (kind: string, payload: string, o: ClientOpts) => print(await propose(o, kind, JSON.parse(payload)))));
  withClientOptions(gov.command('approve <id>').description('approve (or --reject) a governance request').option('--reject', 'reject instead')).action(
    action(async (id: string, o: ClientOpts & { reject?: boolean }) => {
      const signer = signerOf(o);
      const client = clientFrom(o);
      const me = await client.get<{ userId: string }>('/v1/me');
      const r = await client.get<{ requestDigest: string; request: { baseState: string } }>(`/v1/governance/requests/${encodeURIComponent(id)}`);
      const statement = {
        kind: o.reject ? ('rejection' as const) : ('approval' as const), requestDigest: r.requestDigest as never, stateDigest: r.request.baseState as never,
        approver: me.userId, keyId: signer.keyId, signedAt: new Date().toISOString(),
      };
      const approval = { ...statement, signature: encodeSignature(await signer.sign(approvalBytes(statement))) };
      print(await client.post(`/v1/governance/requests/${encodeURIComponent(id)}/approvals`, { approval }));
    }),
  );
  withClientOptions(gov.command('show').description('the governance state in force and the head the vault verified')).action(
    action(async (o: ClientOpts) => print(await clientFrom(o).get('/v1/governance'))),
  );

  const policy = program.command('policy').description('policy as code: test, publish (a governance request), simulate');
  // Offline, so a policy repository's CI can run it: exit 1 when any of the document's tests fails.
  policy
    .command('test <file>')
    .description("run a policy document's own tests (JSON or YAML), offline; exit 1 if any fails")
    .action(
      action(async (file: string) => {
        const { runPolicyTests } = await import('../policy/index.ts');
        const r = runPolicyTests(readPolicy(file));
        for (const name of r.passed) print(`pass  ${name}`);
        for (const f of r.failed) print(`FAIL  ${f.name}: expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`);
        print(`${r.passed.length} passed, ${r.failed.length} failed`);
        if (r.failed.length) process.exit(1);
      }),
    );
  withClientOptions(policy.command('publish <file>').description('propose publishing a policy (refused if its tests fail)')).action(
    action(async (file: string, o: ClientOpts) => {
      const document = readPolicy(file);
      const head = await clientFrom(o).get<{ state: GovernanceState }>('/v1/governance');
      const version = (head.state.policies.active?.version ?? 0) + 1;
      print(await propose(o, 'publish_policy', { version, digest: policyDigest(document), document }));
    }),
  );
  withClientOptions(policy.command('simulate <file>').description('replay a draft against past requests').option('--last <n>', 'how many', '100')).action(
    action(async (file: string, o: ClientOpts & { last: string }) =>
      print(await clientFrom(o).post('/v1/policy/simulate', { document: readPolicy(file), last: Number(o.last) })),
    ),
  );

  withClientOptions(program.command('approve <requestId>').description('approve (or --reject / veto) a transfer request').option('--reject', 'reject instead')).action(
    action(async (id: string, o: ClientOpts & { reject?: boolean }) => {
      const signer = signerOf(o);
      const client: StrongroomClient = createClient({ baseUrl: o.server, signer });
      const me = await client.get<{ userId: string }>('/v1/me');
      const s = await client.get<{ requestDigest: string; policyDigest: string; contextDigest: string }>(`/v1/requests/${encodeURIComponent(id)}/approvals`);
      const statement: TransferApprovalStatement = {
        kind: o.reject ? 'rejection' : 'approval', requestDigest: s.requestDigest as never, policyDigest: s.policyDigest as never,
        contextDigest: s.contextDigest as never, approver: me.userId, keyId: signer.keyId, signedAt: new Date().toISOString(),
      };
      const approval = { ...statement, signature: encodeSignature(await signer.sign(transferApprovalBytes(statement))) };
      print(await client.post(`/v1/requests/${encodeURIComponent(id)}/approvals`, { approval }));
    }),
  );
}
