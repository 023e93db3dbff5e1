// Entry of the vault's worker threads (vault-worker-pool.ts). Plain JavaScript so Node starts it as is;
// the work itself is TypeScript (vault-worker-tasks.ts), loaded through the tsx loader the process already
// runs under (`node --import tsx`: workers inherit it) or, where there is none (vitest's forks), through
// tsx's scoped `tsImport`.
//
// Messages in: { id, op, ...task } (see vault-worker-tasks.ts `handleTask`), or { op: 'close' }: the
// worker stops listening and exits once its running tasks are done (never terminated mid-call: the native
// secp256k1 addon aborts the process when a worker is torn down inside a call).
// Messages out: { ready: true } once loaded; then { id, result } or { id, error: { code, message, ... } }.
import { parentPort } from 'node:worker_threads';

async function load() {
  try {
    return await import('./vault-worker-tasks.ts');
  } catch (e) {
    if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
    const { tsImport } = await import('tsx/esm/api');
    return tsImport('./vault-worker-tasks.ts', import.meta.url);
  }
}

const tasks = await load();
const state = {};
// Tasks still running (BIP39 wallets wait for PBKDF2); a request to exit waits for them.
let running = 0;
let closing = false;

function finished() {
  running--;
  if (closing && running === 0) parentPort.close();
}

function answer(id, out) {
  parentPort.postMessage({ id, result: out.result }, out.transfer);
}

function fail(id, e) {
  parentPort.postMessage({ id, error: tasks.workerError(e) });
}

parentPort.on('message', (message) => {
  if (message?.op === 'close') {
    closing = true;
    state.rewrap = undefined;
    if (running === 0) parentPort.close();
    return;
  }
  running++;
  let out;
  try {
    out = tasks.handleTask(state, message);
  } catch (e) {
    fail(message.id, e);
    finished();
    return;
  }
  if (typeof out?.then !== 'function') {
    answer(message.id, out);
    finished();
    return;
  }
  out.then(
    (o) => answer(message.id, o),
    (e) => fail(message.id, e),
  ).finally(finished);
});
parentPort.postMessage({ ready: true });
