import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkcs11ModuleInUse } from '../../src/vault/seal/pkcs11/module.ts';
import type { Pkcs11SealConfig } from '../../src/vault/seal/pkcs11-seal.ts';

/** SoftHSM2's PKCS#11 library (Debian/Ubuntu path); override with STRONGROOM_TEST_PKCS11_MODULE. */
export const SOFTHSM_MODULE = process.env.STRONGROOM_TEST_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

/** Why SoftHSM tests cannot run here, or undefined when they can. Tests skip only on this. */
export function softHsmMissing(): string | undefined {
  if (!existsSync(SOFTHSM_MODULE)) return `${SOFTHSM_MODULE} not found (apt-get install -y softhsm2)`;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'softhsm2-util is not on PATH (apt-get install -y softhsm2)';
  }
  return undefined;
}

export interface TestToken {
  config: Pkcs11SealConfig;
  pin: string;
}

export interface SoftHsm {
  /** The token directory (for scans of what is on disk). */
  dir: string;
  /** A fresh token with a random label and PIN. */
  createToken(): TestToken;
  dispose(): void;
}

/**
 * A private SoftHSM2 installation for one test file: its own token directory and config, selected through
 * SOFTHSM2_CONF. SoftHSM reads the config and scans tokens only at C_Initialize, so create tokens while no
 * seal is open (every seal closed: the library is finalised with its last user).
 */
export function createSoftHsm(): SoftHsm {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    createToken() {
      if (pkcs11ModuleInUse(SOFTHSM_MODULE)) {
        throw new Error(
          'create SoftHSM tokens before opening a seal: SoftHSM only sees new tokens after C_Initialize',
        );
      }
      const label = `t-${randomBytes(6).toString('hex')}`;
      const pin = randomBytes(8).toString('hex');
      const soPin = randomBytes(8).toString('hex');
      execFileSync(
        'softhsm2-util',
        ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin],
        {
          env: { ...process.env, SOFTHSM2_CONF: conf },
          stdio: 'ignore',
        },
      );
      return { config: { modulePath: SOFTHSM_MODULE, tokenLabel: label }, pin };
    },
    dispose() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
