/**
 * Builds vaults for the conformance suite (src/vault/vault.contract.ts): ShamirSeal or Pkcs11Seal, in
 * process or behind a socket, over a fresh SQLite database. A "kit" hands out each mechanism's ceremony
 * material the way custodians would bring it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../../src/domain/canonical.ts';
import { sealBlobRepository, vaultRepository } from '../../src/store/repositories/vault-repository.ts';
import { LocalVault } from '../../src/vault/local-vault.ts';
import { pkcs11Driver } from '../../src/vault/pkcs11-driver.ts';
import { connectVault } from '../../src/vault/remote.ts';
import { generateKeyComponent } from '../../src/vault/seal/pkcs11-seal.ts';
import { shamirDriver } from '../../src/vault/shamir-driver.ts';
import { startVaultServer } from '../../src/vault/vault-server.ts';
import type {
  InitializeParameters,
  InitializeReturnType,
  QuorumParameters,
  RestoreParameters,
  RotateParameters,
  UnsealParameters,
  Vault,
  VaultAction,
  VaultAuditSink,
  VaultStorage,
} from '../../src/vault/vault.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import { createSoftHsm, type SoftHsm, type TestToken } from './softhsm.ts';

export type Mechanism = 'shamir' | 'pkcs11';

/** Ceremony material of one tenant, kept across calls as custodians keep their files and components. */
export interface Kit {
  init(): InitializeParameters;
  /** Remembers what the ceremony issued (share files). */
  issued(result: InitializeReturnType | { shareFiles?: InitializeReturnType['shareFiles'] }): void;
  unseal(): UnsealParameters;
  /** Material that must fail to unseal. */
  badUnseal(): UnsealParameters;
  restore(): RestoreParameters;
  rotate(): RotateParameters;
  quorum(): QuorumParameters;
}

export interface RecordingAudit extends VaultAuditSink {
  entries: Array<{ tenant: string; actor: string; action: VaultAction; payloadDigest: Digest }>;
  failNext: boolean;
}

export function recordingAudit(): RecordingAudit {
  const sink: RecordingAudit = {
    entries: [],
    failNext: false,
    async record(tenant, entry) {
      if (sink.failNext) {
        sink.failNext = false;
        throw new Error('audit store unavailable');
      }
      sink.entries.push({ tenant, ...entry });
    },
  };
  return sink;
}

export interface VaultUnderTest {
  mechanism: Mechanism;
  vault: Vault;
  database: TestDatabase;
  storage: VaultStorage;
  kit(tenant: string): Kit;
  /** In-process audit sink; undefined when the vault runs in another process. */
  audit?: RecordingAudit;
  dispose(): Promise<void>;
}

const PASSPHRASES = ['correct horse alice', 'correct horse bob', 'correct horse carol'];
const enc = (s: string) => new TextEncoder().encode(s);

export function shamirKit(): Kit {
  let files: Array<{ file: Uint8Array }> = [];
  const share = (i: number) => ({ file: files[i]!.file, passphrase: enc(PASSPHRASES[i]!) });
  return {
    init: () => ({
      mechanism: 'shamir',
      threshold: 2,
      custodians: ['alice', 'bob', 'carol'].map((name, i) => ({ name, passphrase: enc(PASSPHRASES[i]!) })),
    }),
    issued(r) {
      if (r.shareFiles) files = r.shareFiles;
    },
    unseal: () => ({ mechanism: 'shamir', shares: [share(0), share(2)] }),
    badUnseal: () => ({ mechanism: 'shamir', shares: [share(1)] }),
    restore: () => ({ mechanism: 'shamir', shares: [share(1), share(2)] }),
    rotate: () => ({ mechanism: 'shamir', shares: [share(0), share(1), share(2)] }),
    quorum: () => ({ mechanism: 'shamir', shares: [share(0), share(1)] }),
  };
}

export function pkcs11Kit(token: TestToken): Kit {
  let components = [generateKeyComponent(), generateKeyComponent(), generateKeyComponent()];
  let next: Uint8Array[] | undefined;
  return {
    init: () => ({ mechanism: 'pkcs11', pin: token.pin, components }),
    issued() {
      if (next) components = next;
      next = undefined;
    },
    unseal: () => ({ mechanism: 'pkcs11', pin: token.pin }),
    badUnseal: () => ({ mechanism: 'pkcs11', pin: 'not-the-pin' }),
    restore: () => ({ mechanism: 'pkcs11', pin: token.pin, components }),
    rotate: () => {
      next = [generateKeyComponent(), generateKeyComponent()];
      return { mechanism: 'pkcs11', components: next };
    },
    quorum: () => ({ mechanism: 'pkcs11', components }),
  };
}

/** Tenants every PKCS#11 vault under test has a token for (tokens must exist before any seal opens). */
export const TEST_TENANTS = ['acme', 'globex', 'initech'];

export interface HarnessOptions {
  mechanism: Mechanism;
  /** `process`: a separate `node --import tsx` vault process on the same SQLite file. */
  placement: 'in-process' | 'socket' | 'process';
}

let softHsm: SoftHsm | undefined;
export function sharedSoftHsm(): SoftHsm {
  softHsm ??= createSoftHsm();
  return softHsm;
}

export async function createVaultUnderTest({
  mechanism,
  placement,
}: HarnessOptions): Promise<VaultUnderTest> {
  const database = await createTestDatabase('sqlite');
  const storage = vaultRepository(database.database);
  const audit = recordingAudit();
  const kits = new Map<string, Kit>();
  let tokens: Map<string, TestToken> | undefined;
  if (mechanism === 'pkcs11') {
    const hsm = sharedSoftHsm();
    tokens = new Map(TEST_TENANTS.map((t) => [t, hsm.createToken()]));
  }
  const seals =
    mechanism === 'shamir'
      ? shamirDriver({ storage: sealBlobRepository(database.database), scrypt: { N: 2 ** 10 } })
      : pkcs11Driver({
          tokenFor: (t) => tokens!.get(t)?.config ?? { modulePath: '/nonexistent', tokenLabel: 'none' },
        });
  const local = new LocalVault({ storage, audit, seals, network: 'regtest' });
  let vault: Vault = local;
  let closeServer = async () => {};
  if (placement === 'process') {
    const dir = mkdtempSync(join(tmpdir(), 'sr-vault-proc-'));
    const socketPath = join(dir, 'vault.sock');
    const config = {
      socketPath,
      dbPath: (database.config as { path: string }).path,
      mechanism,
      tokens: tokens ? Object.fromEntries([...tokens].map(([k, v]) => [k, v.config])) : undefined,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/vault-server.entry.ts'], {
      env: { ...process.env, STRONGROOM_TEST_VAULT: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`vault process exited with ${code}`)));
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
    });
    vault = await connectVault({ socketPath });
    closeServer = async () => {
      await vault.close();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    };
  } else if (placement === 'socket') {
    const dir = mkdtempSync(join(tmpdir(), 'sr-vault-sock-'));
    const server = await startVaultServer({ socketPath: join(dir, 'vault.sock'), vault: local });
    vault = await connectVault({ socketPath: server.socketPath });
    closeServer = async () => {
      await vault.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  return {
    mechanism,
    vault,
    database,
    storage,
    ...(placement === 'process' ? {} : { audit }),
    kit(tenant) {
      let k = kits.get(tenant);
      if (!k) {
        k = mechanism === 'shamir' ? shamirKit() : pkcs11Kit(tokens!.get(tenant)!);
        kits.set(tenant, k);
      }
      return k;
    },
    async dispose() {
      await closeServer();
      await local.close();
      await database.dispose();
    },
  };
}

export function randomWalletId(): string {
  return `w-${randomBytes(6).toString('hex')}`;
}
