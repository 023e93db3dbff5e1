/**
 * The vault's signing threads: the CPU-bound work of every withdrawal (the evidence check with its three
 * signature verifications, then BIP32 derivation, payload re-derivation and comparison with the intent,
 * libsecp256k1 signing and serialisation; signing-tasks.ts) runs on the other cores, so the event loop
 * keeps to storage, audit and the seal. Threads of this process, which stays the vault's boundary: the
 * governance chain is verified and the cryptogram opened (by the seal) on the calling thread.
 *
 * Work asked for in the same turn of the event loop goes to the threads together, a few messages per
 * batch. Governance states and policy documents travel once per thread (then by id). Each secret is copied
 * into its batch's one buffer, which is transferred (moved, not copied) and wiped by the thread; the
 * caller wipes its own secret as always. A thread that fails (or cannot start) leaves the work to the
 * calling thread, which runs the same functions.
 *
 * Threads are never terminated: the native secp256k1 addon aborts the whole process when its thread is torn
 * down inside a call. `close()` asks each to exit once idle. Idle threads do not keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { AssetRegistry } from '../domain/assets.ts';
import type { Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { GovernanceState } from '../governance/index.ts';
import type { TierName } from '../policy/index.ts';
import { wipe } from './bytes.ts';
import { checkEvidence, type Authorization, type EvidenceBundle } from './evidence.ts';
import type { VaultChainsConfig } from './intents.ts';
import {
  fromTaskError,
  packSecrets,
  signEvmWithSecret,
  type CheckTask,
  type EvmSigned,
  type EvmSignTask,
  type TaskError,
  type TaskOutcome,
} from './signing-tasks.ts';

/** Most tasks in one message. */
const MAX_PER_MESSAGE = 64;
/** Shared objects a thread keeps before it is told to forget them all. */
const MAX_SHARED = 256;

export interface CheckInput {
  /** The governance state the caller verified, and its digest. */
  readonly state: GovernanceState;
  readonly stateDigest: Digest;
  readonly bundle: Omit<EvidenceBundle, 'governance'>;
  readonly walletTier: TierName | undefined;
  /** ms */
  readonly now: number;
}

type Job =
  | { op: 'check'; input: CheckInput; resolve: (v: Authorization) => void; reject: (e: unknown) => void }
  | {
      op: 'evm';
      task: EvmSignTask;
      secret: Uint8Array;
      resolve: (v: EvmSigned) => void;
      reject: (e: unknown) => void;
    };

interface Slot {
  worker: Worker;
  pending: Map<number, Job[]>;
  /** Ids of the shared objects this thread holds. */
  known: Set<number>;
  exited: Promise<void>;
  /** True once its modules are loaded; until then work runs on the calling thread. */
  ready: boolean;
  gone: boolean;
}

export interface SigningWorkersOptions {
  /** Threads; 0 does everything on the calling thread. Default: one per core, at most four. */
  workers?: number;
  /** The vault's chains configuration (its asset registry decides what a signed body means). */
  chains?: VaultChainsConfig;
  /** The same configuration's asset registry, for work done on the calling thread. */
  assets: AssetRegistry;
}

export class SigningWorkers {
  readonly #size: number;
  readonly #chains: VaultChainsConfig | undefined;
  readonly #assets: AssetRegistry;
  #slots: Slot[] | undefined;
  #queue: Job[] = [];
  #scheduled = false;
  #seq = 0;
  #failed = false;
  #closing: Promise<void> | undefined;
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  constructor(options: SigningWorkersOptions) {
    const size = options.workers ?? Math.min(4, Math.max(1, availableParallelism()));
    if (!Number.isSafeInteger(size) || size < 0 || size > 64) {
      throw new StrongroomError('E_VALIDATION', 'signing workers must be 0..64', {
        details: { parameter: 'workers' },
      });
    }
    this.#size = size;
    this.#chains = options.chains;
    this.#assets = options.assets;
  }

  /** True when at least one thread is running and loaded (work then goes to the threads). */
  get ready(): boolean {
    return !this.#failed && (this.#slots ?? []).some((s) => s.ready && !s.gone);
  }

  /** Starts the threads now rather than at the first batch. */
  start(): void {
    if (this.#size > 0 && !this.#closing)
      this.#slots ??= Array.from({ length: this.#size }, () => this.#start());
  }

  /** Checks a bundle's evidence against the state the caller verified (evidence.ts `checkEvidence`). */
  check(input: CheckInput): Promise<Authorization> {
    if (this.#inlineNow()) return this.#checkInline(input);
    return new Promise<Authorization>((resolve, reject) =>
      this.#enqueue({ op: 'check', input, resolve, reject }),
    );
  }

  /** Signs an EVM withdrawal with `secret` (left to the caller to wipe). */
  signEvm(task: EvmSignTask, secret: Uint8Array): Promise<EvmSigned> {
    if (this.#inlineNow()) {
      try {
        return Promise.resolve(signEvmWithSecret(task, secret));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise<EvmSigned>((resolve, reject) =>
      this.#enqueue({ op: 'evm', task, secret: Uint8Array.from(secret), resolve, reject }),
    );
  }

  /** Lets every thread exit after the work already sent to it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#flush();
      for (const slot of this.#slots ?? []) {
        if (!slot.gone) {
          slot.worker.ref(); // an idle thread is unref'd: keep the process alive until it has exited
          slot.worker.postMessage({ op: 'close' });
        }
        await slot.exited;
      }
    })();
    return this.#closing;
  }

  #inlineNow(): boolean {
    return this.#size === 0 || this.#failed || this.#closing !== undefined;
  }

  #checkInline(input: CheckInput): Promise<Authorization> {
    return checkEvidence(input.bundle, input.state, input.now, input.walletTier, this.#assets, {
      stateDigest: input.stateDigest,
    });
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length === 0) return;
    if (this.#failed) {
      for (const job of queue) this.#inline(job);
      return;
    }
    this.#slots ??= Array.from({ length: this.#size }, () => this.#start());
    // Threads take a moment to load their modules: the first signatures do not wait for them.
    const slots = this.#slots.filter((s) => s.ready && !s.gone);
    if (slots.length === 0) {
      for (const job of queue) this.#inline(job);
      return;
    }
    for (const op of ['check', 'evm'] as const) {
      const jobs = queue.filter((j) => j.op === op);
      const per = Math.max(1, Math.min(MAX_PER_MESSAGE, Math.ceil(jobs.length / slots.length)));
      for (let at = 0; at < jobs.length; at += per) {
        const group = jobs.slice(at, at + per);
        const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
        if (op === 'check') this.#sendChecks(slot, group as Array<Extract<Job, { op: 'check' }>>);
        else this.#sendSignatures(slot, group as Array<Extract<Job, { op: 'evm' }>>);
      }
    }
  }

  #sendChecks(slot: Slot, group: Array<Extract<Job, { op: 'check' }>>): void {
    const objects: Array<[number, unknown]> = [];
    if (slot.known.size > MAX_SHARED) {
      slot.worker.postMessage({ op: 'forget' });
      slot.known.clear();
    }
    const share = (o: object): number => {
      let id = this.#ids.get(o);
      if (id === undefined) this.#ids.set(o, (id = this.#nextId++));
      if (!slot.known.has(id)) {
        slot.known.add(id);
        objects.push([id, o]);
      }
      return id;
    };
    const tasks: CheckTask[] = group.map(({ input }) => {
      const b = input.bundle;
      const policy: unknown = b?.policy;
      return {
        state: share(input.state),
        stateDigest: input.stateDigest,
        policy: policy !== null && typeof policy === 'object' ? { id: share(policy) } : { value: policy },
        bundle: {
          request: b?.request,
          initiatorRequest: b?.initiatorRequest,
          context: b?.context,
          approvals: b?.approvals,
        },
        walletTier: input.walletTier,
        now: input.now,
      };
    });
    this.#post(slot, group, { op: 'check', objects, tasks }, [], () => {
      // A message that cannot be sent leaves the thread without these objects.
      for (const [id] of objects) slot.known.delete(id);
    });
  }

  #sendSignatures(slot: Slot, group: Array<Extract<Job, { op: 'evm' }>>): void {
    let packed: Uint8Array;
    try {
      packed = packSecrets(group.map((j) => j.secret));
    } catch (e) {
      for (const j of group) j.reject(e);
      return;
    } finally {
      for (const j of group) wipe(j.secret);
    }
    const buffer = packed.buffer as ArrayBuffer;
    this.#post(slot, group, { op: 'evm', tasks: group.map((j) => j.task), secrets: buffer }, [buffer], () =>
      wipe(packed),
    );
  }

  #post(
    slot: Slot,
    group: Job[],
    message: Record<string, unknown>,
    transfer: ArrayBuffer[],
    undo: () => void,
  ): void {
    const id = this.#seq++;
    if (slot.pending.size === 0) slot.worker.ref();
    slot.pending.set(id, group);
    try {
      slot.worker.postMessage({ id, ...message }, transfer);
    } catch (e) {
      undo();
      slot.pending.delete(id);
      if (slot.pending.size === 0) slot.worker.unref();
      for (const j of group) j.reject(e);
    }
  }

  #start(): Slot {
    const worker = new Worker(new URL('./signing-worker.mjs', import.meta.url), {
      workerData: { chains: this.#chains },
    });
    worker.unref();
    let exited!: () => void;
    const slot: Slot = {
      worker,
      pending: new Map(),
      known: new Set(),
      exited: new Promise<void>((r) => (exited = r)),
      ready: false,
      gone: false,
    };
    worker.on(
      'message',
      (m: { id?: number; ready?: boolean; outcomes?: Array<TaskOutcome<unknown>>; error?: TaskError }) => {
        if (m.ready) slot.ready = true;
        if (m.id === undefined) return;
        const group = slot.pending.get(m.id);
        if (!group) return;
        slot.pending.delete(m.id);
        if (slot.pending.size === 0) worker.unref();
        group.forEach((j, i) => {
          const o = m.outcomes?.[i];
          if (o && 'ok' in o) (j.resolve as (v: unknown) => void)(o.ok);
          else
            j.reject(
              fromTaskError(
                o?.error ??
                  m.error ?? { code: 'E_INTERNAL', message: 'a vault signing thread answered no outcome' },
              ),
            );
        });
      },
    );
    const fail = (cause: unknown) => {
      this.#failed = true;
      for (const group of slot.pending.values()) {
        for (const j of group)
          j.reject(new StrongroomError('E_INTERNAL', 'a vault signing thread failed', { cause }));
      }
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      slot.gone = true;
      exited();
      if (code !== 0 || slot.pending.size > 0) fail(new Error(`exit code ${code}`));
    });
    return slot;
  }

  #inline(job: Job): void {
    if (job.op === 'check') {
      this.#checkInline(job.input).then(job.resolve, job.reject);
      return;
    }
    try {
      job.resolve(signEvmWithSecret(job.task, job.secret));
    } catch (e) {
      job.reject(e);
    } finally {
      wipe(job.secret);
    }
  }
}
