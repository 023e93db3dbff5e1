// Worker thread of fingerprint-pool.ts: BIP32 fingerprints of master private keys, off the main thread.
// Plain ESM JavaScript (no TypeScript) so Node loads it in a worker without a loader, under tsx, vitest
// or plain node alike. It only does the generic step (libsecp256k1 public key, HASH160); which key a
// wallet secret holds is decided in wallets.ts.
//
// Message in: { id, keys: ArrayBuffer } (n × 32-byte private keys, transferred, wiped here).
// Message out: { id, fingerprints: ArrayBuffer (n × u32), invalid: number[] (indices of invalid keys) }
// or { id, error }.
import { createECDH, createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

// OpenSSL's secp256k1 through node:crypto ECDH (setPrivateKey derives the public key). Not the native
// secp256k1 addon: it is not safe to unload in worker threads (terminating the worker aborted the process).
const ecdh = createECDH('secp256k1');
function publicKeyOf(key) {
  try {
    ecdh.setPrivateKey(key);
  } catch {
    return undefined; // zero or not below the curve order
  }
  return ecdh.getPublicKey(null, 'compressed');
}

parentPort.on('message', ({ id, keys }) => {
  const all = new Uint8Array(keys);
  try {
    const n = all.length / 32;
    const out = new Uint32Array(n);
    const invalid = [];
    for (let i = 0; i < n; i++) {
      const key = all.subarray(i * 32, i * 32 + 32);
      const pub = publicKeyOf(key);
      if (!pub) {
        invalid.push(i);
        continue;
      }
      out[i] = createHash('ripemd160').update(createHash('sha256').update(pub).digest()).digest().readUInt32BE(0);
    }
    parentPort.postMessage({ id, fingerprints: out.buffer, invalid }, [out.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  } finally {
    all.fill(0);
  }
});
