/**
 * Takes approved withdrawals to confirmed transactions, exactly once (DESIGN.md "Request lifecycle"):
 *
 *   approved → signing   the unsigned payload is built and stored (coins locked / nonce assigned) first
 *   signing  → signed    the vault checks the evidence itself and signs the stored payload (deterministic)
 *   signed   → broadcast the same signed bytes, every time
 *   broadcast → confirmed after the configured confirmations; → failed only when a conflicting transaction
 *                        confirmed (Bitcoin: an input spent elsewhere; EVM: the nonce consumed) or ours reverted
 *
 * Each transition is one writer change: the request's conditional status update, the execution row, the
 * audit entry and an outbox event commit together. Steps up to broadcast run as one leased job per request
 * (`withdrawal.execute`, key = request id) and every transition is fenced by the job's token, so a worker
 * that lost its lease cannot commit; a worker killed anywhere leaves a state the next claim continues from.
 * Tracking of broadcast withdrawals is a sweep whose transitions are conditional, so racing sweeps commit once.
 */
import { digestOf } from '../../domain/canonical.ts';
import { StrongroomError, isStrongroomError, type ErrorCode } from '../../domain/errors.ts';
import type { AssetRegistry } from '../../domain/assets.ts';
import { summarizePsbt } from '../../chains/bitcoin/psbt-summary.ts';
import type { BitcoinNetworkName } from '../../chains/bitcoin/network.ts';
import { summarizeEvmTx } from '../../chains/evm/tx.ts';
import type { Database } from '../../store/database.ts';
import { executionsRepository, type BitcoinTracking, type Execution, type ReplacedTx } from '../../store/repositories/executions-repository.ts';
import { evidenceRepository } from '../../store/repositories/evidence-repository.ts';
import { evmNonceRepository } from '../../store/repositories/evm-nonce-repository.ts';
import { jobsRepository } from '../../store/repositories/jobs-repository.ts';
import { requestsRepository } from '../../store/repositories/requests-repository.ts';
import { utxoRepository } from '../../store/repositories/utxo-repository.ts';
import type { Vault } from '../../vault/vault.ts';
import type { ApprovalsService } from '../approvals-service.ts';
import type { AuditedWriter, Trx } from '../audited-writer.ts';
import { DEFAULTS, type ChainsConfig } from '../chains-config.ts';
import type { Principal, Reply } from '../principal.ts';
import { readBatcher } from '../read-batcher.ts';
import { signedWrite } from '../signed-change.ts';
import { PermanentJobError, runWorker, type JobContext } from '../workers/job-runner.ts';
import type { ChainAdapter, TrackResult, WithdrawalOrder } from './adapter.ts';

export const EXECUTE_JOB = 'withdrawal.execute';

/** What the stored unsigned payload does, decoded from its bytes (the same reading the vault makes before signing). */
function summaryOf(e: Execution, network: BitcoinNetworkName): string | null {
  if (!e.unsignedPayload) return null;
  try {
    if (e.chain === 'bitcoin') return summarizePsbt(Buffer.from(e.unsignedPayload, 'base64'), network).text;
    return summarizeEvmTx(e.unsignedPayload, ['transfer']).text;
  } catch {
    return null;
  }
}

/** Refusals that retrying cannot change: the request fails. Anything else (sealed vault, node down) is retried. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_EVIDENCE_INVALID', 'E_POLICY_DENIED', 'E_QUORUM_INCOMPLETE', 'E_REQUEST_REJECTED', 'E_REQUEST_EXPIRED', 'E_FROZEN',
  'E_INSUFFICIENT_FUNDS', 'E_FEE_TOO_HIGH', 'E_ADDRESS_INVALID', 'E_ADDRESS_LOOKALIKE', 'E_UNKNOWN_ASSET', 'E_VALIDATION',
  'E_CHAIN_NOT_CONFIGURED', 'E_NOT_FOUND', 'E_CRYPTOGRAM_INVALID',
]);

export interface WithdrawalExecutorDeps {
  writer: AuditedWriter;
  database: Database;
  now: () => Date;
  vault: Vault;
  approvals: Pick<ApprovalsService, 'evidence'>;
  chains: ChainsConfig;
  assets: AssetRegistry;
  adapters: Partial<Record<'bitcoin' | 'ethereum', ChainAdapter<unknown>>>;
  /** Test hook: called at each named point of a step (the fault tests kill the process there). */
  onPoint?: (point: string, requestId: string) => void | Promise<void>;
}

export interface RunExecutorParameters {
  workerId: string;
  signal: AbortSignal;
  /** Jobs run at once (default 4). */
  concurrency?: number;
  pollMs?: number;
  leaseMs?: number;
  /** Time between sweeps for approved requests and broadcast withdrawals (default 500 ms). */
  sweepMs?: number;
  onError?: (e: unknown) => void;
}

function system(tenant: string): Principal {
  return { tenant, userId: 'system', keyId: 'system' };
}

export function createWithdrawalExecutor(deps: WithdrawalExecutorDeps) {
  const { writer, database, now, vault, approvals } = deps;
  const db = database.db;
  const point = async (name: string, id: string) => {
    if (deps.onPoint) await deps.onPoint(name, id);
  };

  function adapterOf(chain: string): ChainAdapter<unknown> {
    const a = deps.adapters[chain as 'bitcoin'];
    if (!a) throw new StrongroomError('E_CHAIN_NOT_CONFIGURED', `no ${chain} chain is configured`, { details: { chain } });
    return a;
  }

  /** One audited, fenced (when `ctx`), conditional transition. Returns false when the request was not in `from`. */
  function transition(
    tenant: string,
    requestId: string,
    from: string,
    to: string,
    ctx: JobContext | undefined,
    details: Record<string, unknown>,
    write: (trx: Trx) => Promise<void>,
  ): Promise<boolean> {
    return writer.write({
      tenant,
      actor: 'system',
      action: `request.${to}`,
      requestDigest: null,
      run: async (trx) => {
        if (ctx) await jobsRepository.withFence(trx, ctx.job.id, ctx.fence);
        if (!(await executionsRepository.transition(trx, tenant, requestId, from, to))) {
          return { value: false, payloadDigest: null, noop: true };
        }
        await write(trx);
        return {
          value: true,
          payloadDigest: digestOf({ id: requestId, from, to, ...details }),
          events: [{ topic: `request.${to}`, payload: { id: requestId, ...details } }],
        };
      },
    });
  }

  async function fail(tenant: string, requestId: string, from: string, e: unknown, ctx?: JobContext, trackedTxid?: string): Promise<void> {
    const code = isStrongroomError(e) ? e.code : 'E_INTERNAL';
    const error = `${code}: ${e instanceof Error ? e.message : String(e)}`.slice(0, 500);
    const at = now().toISOString();
    await transition(tenant, requestId, from, 'failed', ctx, { code }, async (trx) => {
      if (trackedTxid !== undefined) await currentOrConflict(trx, { requestId, txid: trackedTxid });
      if (await executionsRepository.get(trx, requestId)) await executionsRepository.update(trx, requestId, { state: 'failed', error }, at);
      else await recordFailureBeforeBuild(trx, tenant, requestId, error, at);
      // Coins and the nonce of a withdrawal that never reached the network are free again.
      // (Not from `signed`: those bytes may already be on the network.)
      if (from === 'approved' || from === 'signing') {
        await utxoRepository.release(trx, requestId, at);
        await evmNonceRepository.release(trx, requestId);
      }
    });
  }

  /** A withdrawal refused before any payload was built still gets an execution row, so its reason can be read. */
  async function recordFailureBeforeBuild(trx: Trx, tenant: string, id: string, error: string, at: string): Promise<void> {
    const row = await requestsRepository.get(trx, tenant, id);
    const p = JSON.parse(row!.payload) as Record<string, string>;
    await executionsRepository.insert(trx, {
      requestId: id, tenantId: tenant, walletId: p.from!, chain: p.chain as 'bitcoin', asset: p.asset!, amount: p.amount!, destination: p.to!,
      state: 'failed', unsignedPayload: '', feeCap: p.maxFee ?? '', fee: null, tracking: { outpoints: [] }, createdAt: at,
    });
    await executionsRepository.update(trx, id, { error }, at);
  }

  async function prepare(ctx: JobContext, tenant: string, id: string): Promise<void> {
    const row = (await requestsRepository.get(db, tenant, id))!;
    const payload = JSON.parse(row.payload) as Record<string, string>;
    let order: WithdrawalOrder;
    let facts: unknown;
    let adapter: ChainAdapter<unknown>;
    try {
      adapter = adapterOf(payload.chain!);
      const cfg = payload.chain === 'bitcoin' ? deps.chains.bitcoin : deps.chains.ethereum;
      const feeCap = BigInt(payload.maxFee ?? cfg?.maxFee ?? (payload.chain === 'bitcoin' ? DEFAULTS.btcMaxFee : DEFAULTS.evmMaxFee));
      order = {
        tenantId: tenant, requestId: id, wallet: await vault.wallet(tenant, payload.from!), asset: payload.asset!,
        amount: BigInt(payload.amount!), destination: payload.to!, feeCap, at: now().toISOString(),
      };
      facts = await adapter.facts(order);
    } catch (e) {
      if (isStrongroomError(e) && PERMANENT.has(e.code)) return fail(tenant, id, 'approved', e, ctx);
      throw e;
    }
    await point('before-prepare-commit', id);
    try {
      await transition(tenant, id, 'approved', 'signing', ctx, { chain: payload.chain }, async (trx) => {
        const built = await adapter.build(trx, order, facts);
        await executionsRepository.insert(trx, {
          requestId: id, tenantId: tenant, walletId: order.wallet.walletId, chain: payload.chain as 'bitcoin', asset: order.asset,
          amount: payload.amount!, destination: order.destination, state: 'signing', unsignedPayload: built.unsignedPayload,
          feeCap: order.feeCap.toString(), fee: built.fee.toString(), tracking: built.tracking, createdAt: order.at,
        });
      });
    } catch (e) {
      if (isStrongroomError(e) && PERMANENT.has(e.code)) return fail(tenant, id, 'approved', e, ctx);
      throw e;
    }
    await point('after-prepare-commit', id);
  }

  /** Stored payloads of the requests being signed, read together when signed together. */
  const storedPayloads = readBatcher<{ tenant: string; id: string }, { chain: string; unsignedPayload: string }>(async (keys) => {
    const found = new Map<string, { chain: string; unsignedPayload: string }>();
    for (const tenant of new Set(keys.map((k) => k.tenant))) {
      const rows = await evidenceRepository.payloads(db, tenant, keys.filter((k) => k.tenant === tenant).map((k) => k.id));
      for (const r of rows.values()) found.set(`${tenant} ${r.request_id}`, { chain: r.chain, unsignedPayload: r.unsigned_payload });
    }
    return keys.map((k) => found.get(`${k.tenant} ${k.id}`) ?? new StrongroomError('E_INTERNAL', 'a signing request has no stored payload'));
  });

  async function sign(ctx: JobContext, tenant: string, id: string): Promise<void> {
    const exec = await storedPayloads.load({ tenant, id });
    let signed;
    try {
      const evidence = await approvals.evidence(system(tenant), id);
      signed = await vault.signWithdrawal(tenant, { actor: 'system', evidence, unsignedPayload: exec.unsignedPayload });
    } catch (e) {
      if (isStrongroomError(e) && PERMANENT.has(e.code)) return fail(tenant, id, 'signing', e, ctx);
      throw e;
    }
    await point('after-vault-sign', id);
    const at = now().toISOString();
    await transition(tenant, id, 'signing', 'signed', ctx, { txid: signed.txid }, async (trx) => {
      await executionsRepository.update(trx, id, { state: 'signed', signed_tx: signed.rawTx, txid: signed.txid, ...(exec.chain === 'bitcoin' ? { fee: signed.fee } : {}) }, at);
    });
    await point('after-signed-commit', id);
  }

  async function broadcast(ctx: JobContext | undefined, tenant: string, id: string): Promise<void> {
    const exec = (await executionsRepository.get(db, id))!;
    await adapterOf(exec.chain).broadcast(exec);
    await point('after-broadcast', id);
    const at = now().toISOString();
    await transition(tenant, id, 'signed', 'broadcast', ctx, { txid: exec.txid }, async (trx) => {
      await executionsRepository.update(trx, id, { state: 'broadcast' }, at);
    });
    await point('after-broadcast-commit', id);
  }

  /** The job: takes one request from wherever it stands up to `broadcast`. Idempotent at every point. */
  async function execute(ctx: JobContext): Promise<unknown> {
    const { tenant, requestId: id } = ctx.job.payload as { tenant: string; requestId: string };
    for (;;) {
      if (ctx.signal.aborted) throw new Error('lease lost or worker stopping');
      const row = await requestsRepository.get(db, tenant, id);
      if (!row) throw new PermanentJobError('request not found');
      switch (row.status) {
        case 'approved':
          await prepare(ctx, tenant, id);
          break;
        case 'signing':
          await sign(ctx, tenant, id);
          break;
        case 'signed':
          await broadcast(ctx, tenant, id);
          break;
        default:
          return { status: row.status };
      }
    }
  }

  /** Enqueues a job for every approved withdrawal on a configured chain that has none. */
  async function dispatch(): Promise<number> {
    const rows = await executionsRepository.approvedWithoutJob(db, EXECUTE_JOB);
    let n = 0;
    for (const r of rows) {
      const row = await requestsRepository.get(db, r.tenant_id, r.id);
      const chain = row ? (JSON.parse(row.payload) as { chain?: string }).chain : undefined;
      if (!chain || !deps.adapters[chain as 'bitcoin']) continue;
      await writer.write({
        tenant: r.tenant_id, actor: 'system', action: 'withdrawal.queued', requestDigest: null,
        run: async (trx) => {
          const { created } = await jobsRepository.enqueue(trx, { tenantId: r.tenant_id, kind: EXECUTE_JOB, key: r.id, payload: { tenant: r.tenant_id, requestId: r.id }, maxAttempts: 20 });
          return { value: undefined, payloadDigest: digestOf({ id: r.id }), noop: !created };
        },
      });
      n++;
    }
    return n;
  }

  /** Inside a tracking result's transaction: refuses (E_CONFLICT, rolled back) if a bump replaced the tracked transaction. */
  async function currentOrConflict(trx: Trx, tracked: Pick<Execution, 'requestId' | 'txid'>): Promise<void> {
    const now_ = await executionsRepository.get(trx, tracked.requestId);
    if (now_?.txid !== tracked.txid) throw new StrongroomError('E_CONFLICT', 'the withdrawal was replaced while it was tracked');
  }

  /** Every transaction a withdrawal broadcast: the current one first, then those a fee bump replaced. */
  function candidatesOf(exec: Execution): ReplacedTx[] {
    return [{ txid: exec.txid!, signedTx: exec.signedTx!, fee: exec.fee ?? '0' }, ...(exec.tracking.replaced ?? [])];
  }

  /**
   * Where a broadcast withdrawal stands, over every transaction it broadcast (a fee bump leaves the earlier
   * ones in the race): the first confirmed one wins; failed only when all of them failed.
   */
  async function trackAll(adapter: ChainAdapter<unknown>, exec: Execution): Promise<TrackResult & { winner?: ReplacedTx }> {
    const candidates = candidatesOf(exec);
    const results: TrackResult[] = [];
    for (const c of candidates) {
      const r = await adapter.track({ ...exec, txid: c.txid, signedTx: c.signedTx, fee: c.fee });
      if (r.state === 'confirmed') return { ...r, winner: c };
      results.push(r);
    }
    const pending = results.find((r) => r.state === 'pending');
    if (pending) return pending;
    if (results[0]!.state === 'dropped') return results[0]!;
    if (results.every((r) => r.state === 'failed')) return results[0]!;
    return { state: 'pending', confirmations: 0 };
  }

  /** Checks every broadcast withdrawal once: confirms, fails on a confirmed conflict, re-sends dropped ones. */
  async function track(): Promise<{ confirmed: number; failed: number; pending: number }> {
    const out = { confirmed: 0, failed: 0, pending: 0 };
    for (const listed of await executionsRepository.inStates(db, ['broadcast'])) {
      const adapter = deps.adapters[listed.chain];
      if (!adapter) continue;
      // Read again right before asking the node: a fee bump may have replaced the transaction meanwhile.
      const exec = await executionsRepository.get(db, listed.requestId);
      if (!exec || exec.state !== 'broadcast') continue;
      let r: TrackResult & { winner?: ReplacedTx };
      try {
        r = await trackAll(adapter, exec);
        if (r.state === 'dropped') {
          await adapter.broadcast(exec);
          r = { state: 'pending', confirmations: 0 };
        }
      } catch {
        out.pending++;
        continue; // node trouble: next sweep
      }
      if (r.state === 'pending') {
        out.pending++;
        continue;
      }
      const at = now().toISOString();
      if (r.state === 'confirmed') {
        const result = r;
        const winner = r.winner!;
        const moved = await transition(exec.tenantId, exec.requestId, 'broadcast', 'confirmed', undefined, { txid: winner.txid, blockHeight: result.blockHeight }, async (trx) => {
          await currentOrConflict(trx, exec);
          await executionsRepository.update(
            trx, exec.requestId,
            {
              state: 'confirmed', block_height: result.blockHeight, fee: result.fee.toString(), txid: winner.txid, signed_tx: winner.signedTx,
              // What lost the race is kept as replaced, whichever of them it was.
              tracking: JSON.stringify({ ...exec.tracking, replaced: candidatesOf(exec).filter((c) => c.txid !== winner.txid) }),
            },
            at,
          );
          if (exec.chain === 'bitcoin') await markSpent(trx, { ...exec, txid: winner.txid }, at);
        }).catch((e: unknown) => {
          if (isStrongroomError(e, 'E_CONFLICT')) return false; // replaced meanwhile: the next sweep decides
          throw e;
        });
        if (moved) out.confirmed++;
      } else if (r.state === 'failed') {
        await fail(exec.tenantId, exec.requestId, 'broadcast', new StrongroomError('E_TX_CONFLICT', r.reason), undefined, exec.txid!)
          .then(() => out.failed++, (e: unknown) => {
            if (!isStrongroomError(e, 'E_CONFLICT')) throw e;
          });
      }
    }
    return out;
  }

  /**
   * Replaces a broadcast withdrawal by one paying more (same inputs or same nonce), asked for by `principal`
   * (a signed call; its nonce is spent with the change). The vault checks the evidence and the fee cap again.
   */
  async function bumpFee(principal: Principal, requestId: string, options: { feeRate?: number } = {}): Promise<Reply<{ requestId: string; txid: string; fee: string; replaced: string; broadcast?: string }>> {
    const tenant = principal.tenant;
    const row = await requestsRepository.get(db, tenant, requestId);
    if (!row) throw new StrongroomError('E_NOT_FOUND', 'request not found');
    const exec = await executionsRepository.get(db, requestId);
    if (row.status !== 'broadcast' || !exec) {
      throw new StrongroomError('E_REQUEST_STATE', `the request is ${row.status}; only a broadcast withdrawal can be fee-bumped`, { details: { status: row.status } });
    }
    const adapter = adapterOf(exec.chain);
    const replacement = await adapter.bump(exec, options);
    const evidence = await approvals.evidence(system(tenant), requestId);
    const signed = await vault.signWithdrawal(tenant, { actor: principal.keyId, evidence, unsignedPayload: replacement.unsignedPayload });
    const reply = await signedWrite<{ requestId: string; txid: string; fee: string; replaced: string }>(
      writer,
      {
        principal,
        action: 'request.fee_bumped',
        run: async (trx, at) => {
          const replaced = [...(exec.tracking.replaced ?? []), { txid: exec.txid!, signedTx: exec.signedTx!, fee: exec.fee ?? '0' }];
          // Conditional on the transaction it replaces and on the request still being broadcast, in one
          // statement each: a concurrent bump or a confirmation makes this one change nothing.
          const still = await requestsRepository.get(trx, tenant, requestId);
          const swapped = still?.status === 'broadcast' && await executionsRepository.updateIfTxid(
            trx, requestId, exec.txid!,
            { unsigned_payload: replacement.unsignedPayload, signed_tx: signed.rawTx, txid: signed.txid, fee: signed.fee, tracking: JSON.stringify({ ...exec.tracking, replaced }) },
            at.toISOString(),
          );
          if (!swapped) throw new StrongroomError('E_CONFLICT', 'the withdrawal changed while the replacement was signed; try again');
          const body = { requestId, txid: signed.txid, fee: signed.fee, replaced: exec.txid! };
          return { value: { status: 200, body }, payloadDigest: digestOf(body), events: [{ topic: 'request.fee_bumped', payload: body }] };
        },
      },
      now,
    );
    // Sent now; the answer says whether the node took it (a node may keep the original, e.g. without BIP125).
    const broadcast = await adapter.broadcast({ ...exec, signedTx: signed.rawTx, txid: signed.txid }).then(
      () => 'accepted',
      (e: unknown) => (isStrongroomError(e) ? `${e.code}: ${e.message}` : 'E_INTERNAL'),
    );
    return { ...reply, body: { ...reply.body, broadcast } };
  }

  async function markSpent(trx: Trx, exec: Execution, at: string): Promise<void> {
    const outpoints = (exec.tracking as BitcoinTracking).outpoints.map((o) => {
      const [txid, vout] = o.split(':');
      return { txid: txid!, vout: Number(vout) };
    });
    await utxoRepository.markSpent(trx, { tenantId: exec.tenantId, walletId: exec.walletId }, outpoints, exec.txid!, at);
  }

  /** Runs the job worker and the sweeps until `signal` aborts. */
  async function run(p: RunExecutorParameters): Promise<void> {
    const onError = p.onError ?? (() => {});
    const sweeps = (async () => {
      while (!p.signal.aborted) {
        try {
          await dispatch();
          await track();
          await executionsRepository.reviveStalled(db, EXECUTE_JOB, 60_000);
        } catch (e) {
          onError(e);
        }
        await new Promise((r) => setTimeout(r, p.sweepMs ?? 500));
      }
    })();
    await runWorker({
      database, workerId: p.workerId, kinds: [EXECUTE_JOB], handler: execute, leaseMs: p.leaseMs ?? 30_000, pollMs: p.pollMs ?? 100,
      signal: p.signal, concurrency: p.concurrency ?? 4, retryAfterMs: (n) => Math.min(250 * 2 ** (n - 1), 30_000), onError,
    });
    await sweeps;
  }

  /** What a reader may see of an execution (no payloads, no signed bytes). */
  async function execution(p: Principal, requestId: string) {
    const e = await executionsRepository.get(db, requestId);
    if (!e || e.tenantId !== p.tenant) throw new StrongroomError('E_NOT_FOUND', 'no execution for this request');
    return {
      requestId, chain: e.chain, state: e.state, txid: e.txid, fee: e.fee, feeCap: e.feeCap, blockHeight: e.blockHeight,
      replaced: (e.tracking.replaced ?? []).map((r) => r.txid), error: e.error, summary: summaryOf(e, deps.chains.bitcoin?.network ?? 'mainnet'),
    };
  }

  return { execute, dispatch, track, bumpFee, execution, run, steps: { prepare, sign, broadcast } };
}

export type WithdrawalExecutor = ReturnType<typeof createWithdrawalExecutor>;
