/**
 * Signed-request verification throughput on one core, with the public key already parsed (PublicKeyCache
 * hit), against the bare node:crypto verify of the same signature base: the floor our parsing, digest and
 * checks add to. Target: >= 10,000 ed25519 verifications/s.
 */
import { opsPerSecond, opsPerSecondAsync, report, type Figure } from './harness.ts';
import {
  buildSignatureBase,
  contentDigest,
  serializeSignatureParams,
  signRequest,
  verifySignedRequest,
  type SignedRequestInput,
} from '../src/domain/http-signatures.ts';
import { KEY_ALGORITHMS, PublicKeyCache, verifySignature } from '../src/domain/keys.ts';
import { generateRequestSigner } from '../src/sdk/signer.ts';

const TARGET = 'https://vault.example.com/v1/requests';
const BODY = JSON.stringify({
  type: 'transfer',
  wallet: 'w_1',
  asset: 'BTC',
  amount: '150000000',
  memo: 'x'.repeat(300),
});

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  for (const alg of KEY_ALGORITHMS) {
    const signer = generateRequestSigner(alg);
    const cache = new PublicKeyCache();
    const resolveKey = (keyId: string) =>
      keyId === signer.keyId ? { alg, key: cache.get(alg, signer.publicKeySpki) } : undefined;
    const created = Math.floor(Date.now() / 1000);
    const nonce = 'bench-nonce-0123456789';
    const headers = await signRequest({
      method: 'POST',
      targetUri: TARGET,
      body: BODY,
      signer,
      created,
      nonce,
    });
    const req: SignedRequestInput = { method: 'POST', targetUri: TARGET, body: BODY, headers };

    const base = Buffer.from(
      buildSignatureBase({
        method: 'POST',
        targetUri: TARGET,
        contentDigest: contentDigest(BODY),
        signatureParams: serializeSignatureParams({ created, nonce, keyId: signer.keyId, alg }),
      }),
    );
    const signature = Buffer.from(headers.signature.slice(6, -1), 'base64');
    const key = cache.get(alg, signer.publicKeySpki);

    const n = alg === 'ed25519' ? 10_000 : alg === 'ecdsa-p256-sha256' ? 5_000 : 1_000;
    const now = created;
    await opsPerSecondAsync(1_000, async () => void (await verifySignedRequest(req, { resolveKey, now })));
    // Alternate the two measurements round by round so load from other processes hits both alike.
    const ours: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < 5; round++) {
      ours.push(
        await opsPerSecondAsync(n, async () => void (await verifySignedRequest(req, { resolveKey, now }))),
      );
      bare.push(
        opsPerSecond(n, () => {
          if (!verifySignature(alg, key, base, signature)) throw new Error('bench signature does not verify');
        }),
      );
    }
    figures.push({
      name: `verifySignedRequest ${alg} (${BODY.length}-byte body, cached key)`,
      value: middle(ours),
      unit: 'verifications/s',
      baseline: { name: `bare node:crypto verify`, value: middle(bare), unit: 'verifications/s' },
    });
  }
  report('http-signatures', figures);
}

function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
