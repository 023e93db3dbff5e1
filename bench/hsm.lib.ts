import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createSoftHsm, softHsmMissing } from '../test/support/softhsm.ts';
import { Pkcs11Seal, generateKeyComponent } from '../src/vault/seal/pkcs11-seal.ts';
import { median, opsPerSecond, opsPerSecondAsync, type Figure } from './harness.ts';

const ROUNDS = 5;
const N = 5_000;

/**
 * SoftHSM2 AES-256-GCM wraps and unwraps per second through `Pkcs11Seal` (a 64-byte seed with AAD, the
 * shape of a wallet cryptogram), beside raw node:crypto AES-256-GCM of the same input in the same run.
 * Returns no figures (with a warning) when SoftHSM2 is not installed.
 */
export async function measureHsmFigures(): Promise<Figure[]> {
  const missing = softHsmMissing();
  if (missing) {
    console.warn(`hsm figures skipped: ${missing}`);
    return [];
  }
  const hsm = createSoftHsm();
  const token = hsm.createToken();
  const components = [generateKeyComponent(), generateKeyComponent()];
  let seal: Pkcs11Seal | undefined;
  try {
    const init = await Pkcs11Seal.initialize({
      tenant: 'bench',
      config: token.config,
      pin: token.pin,
      components,
    });
    components.forEach((c) => c.fill(0));
    const { ref } = init;
    const s = (seal = init.seal);
    await s.unseal({ pin: token.pin });
    const seed = new Uint8Array(randomBytes(64));
    const aad = new TextEncoder().encode('tenant=bench;wallet=w-000001;key=1;purpose=seed');
    const sealed = await s.encrypt(seed, aad);

    const rawKey = randomBytes(32);
    const rawGcm = () =>
      opsPerSecond(N, () => {
        const c = createCipheriv('aes-256-gcm', rawKey, randomBytes(12));
        c.setAAD(aad);
        c.update(seed);
        c.final();
        c.getAuthTag();
      });
    const rawNonce = randomBytes(12);
    const rawCipher = createCipheriv('aes-256-gcm', rawKey, rawNonce).setAAD(aad);
    const rawSealed = Buffer.concat([rawCipher.update(seed), rawCipher.final()]);
    const rawTag = rawCipher.getAuthTag();
    const rawGcmDecrypt = () =>
      opsPerSecond(N, () => {
        const d = createDecipheriv('aes-256-gcm', rawKey, rawNonce).setAAD(aad).setAuthTag(rawTag);
        d.update(rawSealed).fill(0);
        d.final();
      });

    const wraps = await median(ROUNDS, () =>
      opsPerSecondAsync(N, async () => void (await s.encrypt(seed, aad))),
    );
    const wrapBaseline = await median(ROUNDS, rawGcm);
    const unwraps = await median(ROUNDS, () =>
      opsPerSecondAsync(N, async () => void (await s.decrypt(sealed, aad, ref)).fill(0)),
    );
    const unwrapBaseline = await median(ROUNDS, rawGcmDecrypt);
    seed.fill(0);
    return [
      {
        name: 'SoftHSM2 AES-256-GCM wraps (Pkcs11Seal.encrypt, 64 B + AAD)',
        value: wraps,
        unit: 'ops/s',
        baseline: { name: 'node:crypto AES-256-GCM encrypt, same input', value: wrapBaseline, unit: 'ops/s' },
      },
      {
        name: 'SoftHSM2 AES-256-GCM unwraps (Pkcs11Seal.decrypt)',
        value: unwraps,
        unit: 'ops/s',
        baseline: {
          name: 'node:crypto AES-256-GCM decrypt, same input',
          value: unwrapBaseline,
          unit: 'ops/s',
        },
      },
    ];
  } finally {
    await seal?.close();
    hsm.dispose();
  }
}
