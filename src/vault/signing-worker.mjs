// Entry of the vault's signing threads (signing-workers.ts). Plain JavaScript so Node starts it as is; the
// work itself is TypeScript (signing-tasks.ts), loaded through the tsx loader the process runs under
// (`node --import tsx`: workers inherit it) or, where there is none (vitest's forks), through tsx's scoped
// `tsImport` (as vault-worker.mjs does). workerData: { chains } (the vault's chains configuration).
//
// Messages in, answered in order:
//   { id, op: 'check', objects: [[id, value], ...], tasks }  → { id, outcomes }   (evidence checks)
//   { id, op: 'evm', tasks, secrets }                        → { id, outcomes }   (secrets: transferred, wiped here)
//   { op: 'forget' }: drop the shared objects;  { op: 'close' }: stop listening and exit once idle.
// Never terminated mid-call: the native secp256k1 addon aborts the process when a thread is torn down
// inside a call. Messages out: { ready: true } once loaded; { id, error } when a whole message fails.
import { parentPort, workerData } from 'node:worker_threads';

async function load() {
  try {
    return await import('./signing-tasks.ts');
  } catch (e) {
    if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
    const { tsImport } = await import('tsx/esm/api');
    return tsImport('./signing-tasks.ts', import.meta.url);
  }
}

const tasks = await load();
const context = tasks.threadContext(workerData?.chains);

// Checks are asynchronous functions (synchronous inside): answer messages strictly in arrival order.
let chain = Promise.resolve();

parentPort.on('message', (message) => {
  if (message?.op === 'close') {
    chain.then(() => parentPort.close());
    return;
  }
  if (message?.op === 'forget') {
    chain = chain.then(() => context.objects.clear());
    return;
  }
  if (message?.op === 'evm') {
    chain = chain.then(() => {
      try {
        parentPort.postMessage({
          id: message.id,
          outcomes: tasks.signEvmBatch(message.tasks, new Uint8Array(message.secrets)),
        });
      } catch (e) {
        if (message.secrets instanceof ArrayBuffer) new Uint8Array(message.secrets).fill(0);
        parentPort.postMessage({ id: message.id, error: tasks.taskError(e) });
      }
    });
    return;
  }
  chain = chain.then(async () => {
    try {
      if (message?.op !== 'check') throw new Error(`unknown signing task ${String(message?.op)}`);
      for (const [id, value] of message.objects ?? []) context.objects.set(id, value);
      parentPort.postMessage({
        id: message.id,
        outcomes: await tasks.checkBatch(context.objects, message.tasks, context.assets),
      });
    } catch (e) {
      if (message?.secrets instanceof ArrayBuffer) new Uint8Array(message.secrets).fill(0);
      parentPort.postMessage({ id: message.id, error: tasks.taskError(e) });
    }
  });
});
parentPort.postMessage({ ready: true });
