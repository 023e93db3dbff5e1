/**
 * The CPU-bound work of a withdrawal signature, as plain functions that the vault's signing threads run
 * (signing-worker.mjs, signing-workers.ts) and that run as they are on the calling thread when there are no
 * threads:
 *
 * - `check`: the evidence check (evidence.ts `checkEvidence`: initiator signature, policy in force and its
 *   evaluation, context, approval signatures, workflow), against the governance state the calling thread
 *   verified, with signatures verified on this thread;
 * - `evm`: from the unwrapped wallet secret, the BIP32 master node and the key at the intent's path, the
 *   payload re-derived and compared with the intent, and signed (evm-signer.ts).
 *
 * The check comes first, then the calling thread opens the cryptogram (the seal stays there), then the
 * signature: a secret is never unwrapped for evidence that does not hold. Secrets arrive in one transferred
 * buffer (n secrets, each prefixed by its length) that is wiped here, whatever happens. Results and errors
 * carry public data only.
 */
import type { AssetRegistry } from '../domain/assets.ts';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError, isStrongroomError, type ErrorCode } from '../domain/errors.ts';
import type { GovernanceState } from '../governance/index.ts';
import type { PolicyDocument, TierName } from '../policy/index.ts';
import { wipeNode, type PublicKeyMemo } from './bip32-native.ts';
import { wipe } from './bytes.ts';
import { checkEvidence, type Authorization, type EvidenceBundle } from './evidence.ts';
import { vaultAssets, type VaultChainsConfig } from './intents.ts';
import { signEvmTransaction } from './signers/evm-signer.ts';
import type { EvmTransferIntent } from './signers/intent.ts';
import { masterNodeOfSecret } from './wallets.ts';

// ------------------------------------------------------------------------------------------- check

/** The parts of a bundle checked per request (the governance state and policy travel once, by id). */
export type CheckedBundle = Omit<EvidenceBundle, 'governance' | 'policy'>;

export interface CheckTask {
  /** Id of the verified governance state (a shared object, see `SharedObjects`). */
  readonly state: number;
  readonly stateDigest: Digest;
  /** Id of the policy document presented, or the presented value itself when it is not an object. */
  readonly policy: { readonly id: number } | { readonly value: unknown };
  readonly bundle: CheckedBundle;
  readonly walletTier: TierName | undefined;
  /** ms */
  readonly now: number;
}

/**
 * Objects that many tasks share (verified governance states, presented policy documents), sent to a
 * thread once and then named by id. A thread keeps the copy it received: what it checks is what was
 * presented when the id was given.
 */
export type SharedObjects = Map<number, unknown>;

/** Checks one task's evidence; `verification` 'sync' on a thread of its own. */
export function check(
  objects: SharedObjects,
  task: CheckTask,
  assets: AssetRegistry,
  verification: 'sync' | 'async',
): Promise<Authorization> {
  const state = objects.get(task.state) as GovernanceState | undefined;
  if (!state)
    return Promise.reject(
      new StrongroomError('E_INTERNAL', 'a vault signing thread was not given the governance state'),
    );
  let policy: unknown;
  if ('id' in task.policy) {
    if (!objects.has(task.policy.id))
      return Promise.reject(
        new StrongroomError('E_INTERNAL', 'a vault signing thread was not given the policy'),
      );
    policy = objects.get(task.policy.id);
  } else {
    policy = task.policy.value;
  }
  return checkEvidence(
    { ...task.bundle, policy: policy as PolicyDocument },
    state,
    task.now,
    task.walletTier,
    assets,
    {
      stateDigest: task.stateDigest,
      verification,
    },
  );
}

/** What a signing thread keeps: shared objects and the vault's asset registry (from its chains configuration). */
export interface ThreadContext {
  readonly objects: SharedObjects;
  readonly assets: AssetRegistry;
}

export function threadContext(chains: VaultChainsConfig | undefined): ThreadContext {
  return { objects: new Map(), assets: vaultAssets(chains) };
}

/** Checks each task; one outcome per task. */
export async function checkBatch(
  objects: SharedObjects,
  tasks: readonly CheckTask[],
  assets: AssetRegistry,
): Promise<Array<TaskOutcome<Authorization>>> {
  const out: Array<TaskOutcome<Authorization>> = [];
  for (const task of tasks) {
    try {
      out.push({ ok: await check(objects, task, assets, 'sync') });
    } catch (e) {
      out.push({ error: taskError(e) });
    }
  }
  return out;
}

// --------------------------------------------------------------------------------------------- evm

export interface EvmSignTask {
  /**
   * Names the wallet secret (public: tenant, wallet id and a digest of the cryptogram, which opens to one
   * secret only), so the public keys derived for it can be kept between signatures.
   */
  readonly wallet: string;
  readonly unsignedTx: string;
  readonly intent: EvmTransferIntent;
}

export interface EvmSigned {
  readonly rawTx: `0x${string}`;
  readonly hash: `0x${string}`;
  /** Worst-case fee the payload allows (gasLimit × maxFeePerGas), wei, decimal. */
  readonly maxFee: string;
}

/** Packs secrets for a batch: u8 length, then the bytes, for each. The caller wipes its own copies. */
export function packSecrets(secrets: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(secrets.reduce((n, s) => n + 1 + s.length, 0));
  let at = 0;
  for (const s of secrets) {
    if (s.length > 255) {
      wipe(out);
      throw new StrongroomError('E_CRYPTOGRAM_INVALID', 'a wallet secret is longer than any layout');
    }
    out[at] = s.length;
    out.set(s, at + 1);
    at += 1 + s.length;
  }
  return out;
}

/** Signs each task with its secret (same order as packed); wipes every secret. One outcome per task. */
export function signEvmBatch(
  tasks: readonly EvmSignTask[],
  packed: Uint8Array,
): Array<TaskOutcome<EvmSigned>> {
  try {
    const out: Array<TaskOutcome<EvmSigned>> = [];
    let at = 0;
    for (const task of tasks) {
      const length = packed[at] ?? 0;
      const secret = packed.subarray(at + 1, at + 1 + length);
      at += 1 + length;
      try {
        out.push({ ok: signEvmWithSecret(task, secret) });
      } catch (e) {
        out.push({ error: taskError(e) });
      }
    }
    return out;
  } finally {
    wipe(packed);
  }
}

/** Public keys derived below each wallet's master (public data, bounded), by `EvmSignTask.wallet`. */
const memos = new Map<string, PublicKeyMemo>();

function memoOf(wallet: string): PublicKeyMemo {
  let memo = memos.get(wallet);
  if (!memo) {
    if (memos.size >= 4096) memos.clear();
    memos.set(wallet, (memo = new Map()));
  }
  return memo;
}

/** One signature from a wallet secret (not wiped here: the caller owns it). */
export function signEvmWithSecret(task: EvmSignTask, secret: Uint8Array): EvmSigned {
  // A native master node: an HDKey would compute its public key in pure JavaScript, unused here.
  const master = masterNodeOfSecret(secret);
  try {
    const r = signEvmTransaction({
      master,
      unsignedTx: task.unsignedTx,
      intent: task.intent,
      publicKeys: memoOf(String(task.wallet)),
    });
    const q = r.summary.request;
    return { rawTx: r.rawTx, hash: r.hash, maxFee: (q.gasLimit * q.maxFeePerGas).toString() };
  } finally {
    wipeNode(master);
  }
}

// ------------------------------------------------------------------------------------------ errors

/** A failure as it crosses threads: code, message, details, hints (never a secret). */
export interface TaskError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Record<string, unknown>;
  readonly hints?: string[];
}

export type TaskOutcome<T> = { readonly ok: T } | { readonly error: TaskError };

export function taskError(e: unknown): TaskError {
  if (isStrongroomError(e)) return { code: e.code, message: e.message, details: e.details, hints: e.hints };
  return {
    code: 'E_INTERNAL',
    message: `vault signing thread: ${e instanceof Error ? e.message : String(e)}`,
  };
}

/** Rebuilds a crossed error on the receiving side. */
export function fromTaskError(e: TaskError): StrongroomError {
  return new StrongroomError(e.code, e.message, { details: e.details ?? {}, hints: e.hints ?? [] });
}
