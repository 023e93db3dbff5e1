/**
 * `npm run bench -- vault`: the vault's figures, each beside a baseline measured in the same run.
 *
 * - cryptogram unwraps/s through the software seal vs raw node:crypto AES-256-GCM (vault-seal.lib.ts)
 * - SoftHSM2 wraps/s vs raw AES-256-GCM (hsm.lib.ts)
 * - wallet creations/s end to end (seed → BIP32 master → 3 account xpubs → cryptogram → SQLite), twice:
 *   with the default seeds (a 256-bit BIP32 seed straight from the CSPRNG; wallets.ts says why) beside
 *   the same derivation done raw on one thread, and with BIP39 seeds (mnemonic → PBKDF2-HMAC-SHA512 ×2048)
 *   beside the BIP39 PBKDF2 alone, which bounds it
 * - rewrap of N cryptograms stored in SQLite end to end (default 1,000,000; STRONGROOM_BENCH_REWRAP_ROWS),
 *   vs raw AES-256-GCM decrypt+encrypt of the same count in memory, and vs the whole per-row crypto of a
 *   rewrap (3 × AES-256-GCM, BIP32 master key, libsecp256k1 public key, HASH160) raw on one thread
 */
import { createCipheriv, createDecipheriv, pbkdf2, pbkdf2Sync, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { createTestDatabase, type TestDatabase } from '../test/support/databases.ts';
import { sealBlobRepository, vaultRepository } from '../src/store/repositories/vault-repository.ts';
import { sealCryptogram } from '../src/vault/cryptogram.ts';
import { LocalVault, type LocalVaultOptions } from '../src/vault/local-vault.ts';
import { shamirDriver } from '../src/vault/shamir-driver.ts';
import { fingerprintOfSecret, newWalletSecretSync, publicInfoOfSecret, walletBinding } from '../src/vault/wallets.ts';
import type { InitializeReturnType, Vault } from '../src/vault/vault.ts';
import type { Seal } from '../src/vault/seal/seal.ts';
import { ShamirSeal } from '../src/vault/seal/shamir-seal.ts';
import { parseShareFile } from '../src/vault/seal/share-file.ts';
import { median, opsPerSecond, report, type Figure } from './harness.ts';
import { measureSealFigures } from './vault-seal.lib.ts';
import { measureHsmFigures } from './hsm.lib.ts';

const REWRAP_ROWS = Number(process.env.STRONGROOM_BENCH_REWRAP_ROWS ?? 1_000_000);
const TENANT = 'bench';
const enc = (s: string) => new TextEncoder().encode(s);

async function shamirVault(options: Pick<LocalVaultOptions, 'walletSeeds'> = {}) {
  const database = await createTestDatabase('sqlite');
  const vault = new LocalVault({
    storage: vaultRepository(database.database),
    audit: { async record() {} },
    seals: shamirDriver({ storage: sealBlobRepository(database.database), scrypt: { N: 2 ** 10 } }),
    ...options,
  });
  const init: InitializeReturnType = await vault.initialize(TENANT, {
    mechanism: 'shamir',
    threshold: 2,
    custodians: [
      { name: 'alice', passphrase: enc('alice bench') },
      { name: 'bob', passphrase: enc('bob bench') },
    ],
  });
  return { database, vault, init };
}

const WALLETS = Number(process.env.STRONGROOM_BENCH_WALLETS ?? 2000);
const IN_FLIGHT = 64;

/** Runs `n` calls of `fn` with `IN_FLIGHT` of them in flight at once; returns calls per second. */
async function concurrently(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The public-key work of one default wallet, raw on this thread: CSPRNG seed, BIP32 master, 3 account xpubs. */
function rawDerivations(n: number): number {
  return opsPerSecond(n, () => {
    const secret = newWalletSecretSync('csprng');
    publicInfoOfSecret(secret, 'mainnet');
    secret.fill(0);
  });
}

async function walletCreations(): Promise<Figure[]> {
  const csprng = await shamirVault();
  const bip39 = await shamirVault({ walletSeeds: 'bip39' });
  try {
    const sentence = Buffer.from('abandon '.repeat(23) + 'art');
    const pbkdf2Async = promisify(pbkdf2);
    const rawPbkdf2 = () => concurrently(WALLETS, () => pbkdf2Async(sentence, 'mnemonic', 2048, 64, 'sha512'));
    let round = 0;
    const create = (vault: Vault) =>
      concurrently(WALLETS, (i) => vault.createWallet(TENANT, { walletId: `c${round}-${String(i).padStart(6, '0')}`, tier: 'hot' }));
    await rawPbkdf2(); // warm-up of the libuv pool
    rawDerivations(200);
    // Alternate each figure and its baseline, so a change in machine load hits both alike.
    const raw = { derive: [] as number[], pbkdf2: [] as number[] };
    const created = { csprng: [] as number[], bip39: [] as number[] };
    for (; round < 3; round++) {
      raw.derive.push(rawDerivations(WALLETS));
      created.csprng.push(await create(csprng.vault));
      raw.pbkdf2.push(await rawPbkdf2());
      created.bip39.push(await create(bip39.vault));
    }
    const mid = (v: number[]) => v.sort((a, b) => a - b)[1]!;
    const pbkdf2Sync1 = opsPerSecond(200, () => pbkdf2Sync(sentence, 'mnemonic', 2048, 64, 'sha512'));
    return [
      {
        name: `wallet creations/s, default seeds (256-bit CSPRNG BIP32 seed, 3 account xpubs, cryptogram, SQLite), ${IN_FLIGHT} in flight (target >= 1,000/s)`,
        value: mid(created.csprng),
        unit: 'ops/s',
        baseline: { name: 'raw CSPRNG seed + BIP32 master + 3 account xpubs (libsecp256k1), one thread', value: mid(raw.derive), unit: 'ops/s' },
      },
      {
        name: `wallet creations/s, BIP39 seeds (mnemonic, PBKDF2 seed, 3 account xpubs, cryptogram, SQLite), ${IN_FLIGHT} in flight`,
        value: mid(created.bip39),
        unit: 'ops/s',
        baseline: { name: `raw BIP39 PBKDF2-HMAC-SHA512 x2048, async, ${IN_FLIGHT} in flight`, value: mid(raw.pbkdf2), unit: 'ops/s' },
      },
      {
        name: 'BIP39 PBKDF2 on one thread (pbkdf2Sync), for scale',
        value: pbkdf2Sync1,
        unit: 'ops/s',
      },
    ];
  } finally {
    for (const v of [csprng, bip39]) {
      await v.vault.close();
      await v.database.dispose();
    }
  }
}

/** Seeds `rows` wallet cryptograms straight into SQLite (1,000 distinct seeds, each row bound to its id). */
async function seedRows(seal: Seal, path: string, rows: number): Promise<void> {
  const secrets = Array.from({ length: 1000 }, () => {
    const s = new Uint8Array(66);
    s[0] = 1;
    s[1] = 64;
    s.set(randomBytes(64), 2);
    return { secret: s, fingerprint: fingerprintOfSecret(s) };
  });
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  const insert = raw.prepare(
    `insert into vault_wallets (tenant_id, wallet_id, tier, label, key_version, cryptogram, fingerprint, network, xpubs, created_at)
     values (?, ?, 'hot', '', 1, ?, ?, 'mainnet', '{"bip84":"-","bip86":"-","bip44eth":"-"}', '2025-01-01T00:00:00.000Z')`,
  );
  const chunk = 50_000;
  for (let start = 0; start < rows; start += chunk) {
    const batch: Array<[string, Uint8Array, string]> = [];
    for (let i = start; i < Math.min(rows, start + chunk); i++) {
      const walletId = `r${String(i).padStart(8, '0')}`;
      const s = secrets[i % secrets.length]!;
      batch.push([walletId, await sealCryptogram(seal, walletBinding(TENANT, walletId), s.secret), s.fingerprint]);
    }
    raw.transaction(() => {
      for (const [id, c, fp] of batch) insert.run(TENANT, id, Buffer.from(c), fp);
    })();
  }
  raw.close();
}

/** A second handle on the tenant's seal, unsealed with the bench custodians' share files (bench only). */
async function benchSeal(database: TestDatabase, init: InitializeReturnType): Promise<ShamirSeal> {
  const seal = await ShamirSeal.open({ tenant: TENANT, storage: sealBlobRepository(database.database) });
  await seal.unseal(
    init.shareFiles!.map((f, i) => ({ file: parseShareFile(f.file), passphrase: i === 0 ? 'alice bench' : 'bob bench' })),
  );
  return seal;
}

function rawRewrapBaseline(n: number): number {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const seed = randomBytes(66);
  const aad = randomBytes(96);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', oldKey, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(seed), c.final()]);
  const tag = c.getAuthTag();
  return opsPerSecond(n, () => {
    const d = createDecipheriv('aes-256-gcm', oldKey, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    const pt = d.update(ct);
    d.final();
    const e = createCipheriv('aes-256-gcm', newKey, randomBytes(12));
    e.setAAD(aad);
    e.update(pt);
    e.final();
    e.getAuthTag();
    pt.fill(0);
  });
}

/**
 * Everything a rewrap computes per row, raw on one thread and in memory: open under the old key, seal
 * under the new, open again, BIP32 master key and fingerprint (HMAC-SHA512, libsecp256k1, HASH160).
 */
function rawRewrapRowCrypto(n: number): number {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const secret = new Uint8Array(66);
  secret.set([1, 64]);
  secret.set(randomBytes(64), 2);
  const aad = randomBytes(96);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', oldKey, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(secret), c.final()]);
  const tag = c.getAuthTag();
  return opsPerSecond(n, () => {
    const d = createDecipheriv('aes-256-gcm', oldKey, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    const pt = d.update(ct);
    d.final();
    const nonce = randomBytes(12);
    const e = createCipheriv('aes-256-gcm', newKey, nonce);
    e.setAAD(aad);
    const ct2 = e.update(pt);
    e.final();
    const tag2 = e.getAuthTag();
    pt.fill(0);
    const d2 = createDecipheriv('aes-256-gcm', newKey, nonce);
    d2.setAAD(aad);
    d2.setAuthTag(tag2);
    const check = d2.update(ct2);
    d2.final();
    fingerprintOfSecret(check);
    check.fill(0);
  });
}

async function rewrapFigures(): Promise<Figure[]> {
  const { database, vault, init } = await shamirVault();
  const seal = await benchSeal(database, init);
  try {
    const t0 = process.hrtime.bigint();
    await seedRows(seal, (database.config as { path: string }).path, REWRAP_ROWS);
    await seal.close();
    const seedSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await vault.rotate(TENANT, { mechanism: 'shamir' });
    const t1 = process.hrtime.bigint();
    const r = await vault.rewrap(TENANT, { batchSize: 10_000 });
    const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
    if (r.verified !== REWRAP_ROWS || r.digestAfter !== r.digestBefore) throw new Error('rewrap did not verify');
    const raw = await median(3, () => rawRewrapBaseline(200_000));
    const rowCrypto = await median(3, () => rawRewrapRowCrypto(20_000));
    return [
      { name: `bench setup: seeding ${REWRAP_ROWS.toLocaleString('en-US')} cryptograms (raw insert)`, value: seedSeconds, unit: 's' },
      {
        name: `rewrap ${REWRAP_ROWS.toLocaleString('en-US')} cryptograms in SQLite, verified (target <= 60 s)`,
        value: seconds,
        unit: 's',
        baseline: { name: 'raw AES-256-GCM decrypt+encrypt of as many, in memory', value: REWRAP_ROWS / raw, unit: 's' },
      },
      {
        name: 'rewrap throughput (re-encrypt + re-open + re-derive fingerprint + commit)',
        value: REWRAP_ROWS / seconds,
        unit: 'cryptograms/s',
        baseline: { name: 'raw AES-256-GCM decrypt+encrypt', value: raw, unit: 'cryptograms/s' },
      },
      {
        name: 'rewrap throughput, against its own per-row crypto',
        value: REWRAP_ROWS / seconds,
        unit: 'cryptograms/s',
        baseline: { name: 'raw per-row crypto (3 x AES-GCM, BIP32 master, libsecp256k1 public key), one thread', value: rowCrypto, unit: 'cryptograms/s' },
      },
    ];
  } finally {
    await vault.close();
    await database.dispose();
  }
}

/** STRONGROOM_BENCH_VAULT_PARTS=seal,hsm,wallets,rewrap (default all) runs some parts only, when profiling. */
const PARTS = new Set((process.env.STRONGROOM_BENCH_VAULT_PARTS ?? 'seal,hsm,wallets,rewrap').split(','));

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  if (PARTS.has('seal')) figures.push(...(await measureSealFigures()));
  if (PARTS.has('hsm')) figures.push(...(await measureHsmFigures()));
  if (PARTS.has('wallets')) figures.push(...(await walletCreations()));
  if (PARTS.has('rewrap')) figures.push(...(await rewrapFigures()));
  report('vault', figures);
}
