/**
 * `strongroom vault serve` (the vault as its own process on a Unix socket) and `strongroom ceremony
 * init|unseal|seal|zeroize|restore|rekey|rotate|status`, which talk to that process. Passphrases, PINs and
 * key components are read from the terminal without echo; share files are written mode 0600.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { StrongroomError } from '../domain/errors.ts';
import { action, print } from './output.ts';

type SocketOpts = { socket: string; tenant: string; actor?: string };

/** Reads a line from the terminal without echoing it. */
export async function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  if (!input.isTTY) {
    // Non-interactive (tests, scripted ceremonies): one line from stdin.
    return new Promise((resolve) => {
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          input.off('data', onData);
          input.pause();
          input.unshift(Buffer.from(buf.slice(nl + 1)));
          process.stderr.write('\n');
          resolve(buf.slice(0, nl).replace(/\r$/, ''));
        }
      };
      input.on('data', onData);
      input.resume();
    });
  }
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve) => {
    let value = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          input.off('data', onData);
          input.setRawMode(false);
          input.pause();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

const enc = (s: string) => new TextEncoder().encode(s);

async function vaultClient(o: SocketOpts) {
  const { connectVault } = await import('../vault/remote.ts');
  return connectVault({ socketPath: o.socket });
}

async function presentShares(files: string[]) {
  const shares = [];
  for (const f of files)
    shares.push({
      file: new Uint8Array(readFileSync(f)),
      passphrase: enc(await readSecret(`passphrase for ${f}: `)),
    });
  return shares;
}

async function readComponents(n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) {
    const hex = (await readSecret(`key component of custodian ${i} (64 hex, not echoed): `)).trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex))
      throw new StrongroomError('E_VALIDATION', 'a key component is 64 hex digits', {
        details: { custodian: i },
      });
    out.push(new Uint8Array(Buffer.from(hex, 'hex')));
  }
  return out;
}

function writeShareFiles(
  dir: string,
  tenant: string,
  files: Array<{ custodian: string; file: Uint8Array }>,
): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return files.map((f) => {
    const path = join(dir, `${tenant}-${f.custodian}.share.json`);
    writeFileSync(path, f.file, { mode: 0o600, flag: 'wx' });
    return path;
  });
}

function progressBar(p: { done: number; total: number }): void {
  const width = 40;
  const filled = p.total ? Math.round((p.done / p.total) * width) : width;
  process.stderr.write(`\rrewrap [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}`);
}

export function registerVaultCommands(program: Command): void {
  program
    .command('vault')
    .description('run the vault as its own process, reached over a local socket')
    .command('serve')
    .option('--data <dir>', 'data directory (SQLite)', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite')
    .option('--socket <path>', 'Unix socket to listen on (mode 0600)', './data/vault.sock')
    .option('--seal <mechanism>', 'shamir | pkcs11', 'shamir')
    .option('--pkcs11-module <path>', 'PKCS#11 library', '/usr/lib/softhsm/libsofthsm2.so')
    .option(
      '--pkcs11-token <label>',
      'token label; {tenant} is replaced by the tenant id',
      'strongroom-{tenant}',
    )
    .option('--network <name>', 'bitcoin network of the account xpubs', 'mainnet')
    .action(
      action(
        async (o: {
          data: string;
          databaseUrl?: string;
          socket: string;
          seal: string;
          pkcs11Module: string;
          pkcs11Token: string;
          network: string;
        }) => {
          const { openDatabase } = await import('../store/database.ts');
          const { AuditedWriter } = await import('../service/audited-writer.ts');
          const { openVault } = await import('../service/vault-wiring.ts');
          const { startVaultServer } = await import('../vault/vault-server.ts');
          const database = await openDatabase(
            o.databaseUrl
              ? { dialect: 'postgres', url: o.databaseUrl }
              : { dialect: 'sqlite', path: join(o.data, 'strongroom.db') },
          );
          // The vault process appends its own audit entries (before it acts) to the same hash chain.
          const writer = new AuditedWriter(database);
          const vault = await openVault(
            o.seal === 'pkcs11'
              ? {
                  placement: 'local',
                  seal: 'pkcs11',
                  modulePath: o.pkcs11Module,
                  tokenLabel: (t) => o.pkcs11Token.replace('{tenant}', t),
                  network: o.network as 'mainnet',
                }
              : { placement: 'local', seal: 'shamir', network: o.network as 'mainnet' },
            database,
            writer,
          );
          const server = await startVaultServer({
            socketPath: o.socket,
            vault,
            onError: (m, code) => process.stderr.write(`vault ${m} failed: ${code}\n`),
          });
          process.stderr.write(`vault listening on ${server.socketPath} (every tenant starts sealed)\n`);
          const stop = async () => {
            await server.close();
            await vault.close();
            await database.close();
            process.exit(0);
          };
          process.on('SIGTERM', stop);
          process.on('SIGINT', stop);
        },
      ),
    );

  const ceremony = program.command('ceremony').description('key ceremonies of a tenant\u2019s vault');
  const common = (c: Command) =>
    c
      .requiredOption('--tenant <id>', 'tenant')
      .option('--socket <path>', 'the vault process socket', './data/vault.sock')
      .option('--actor <keyId>', 'who performs it (recorded in the audit log)');
  const run = (fn: (vault: Awaited<ReturnType<typeof vaultClient>>, o: any) => Promise<unknown>) =>
    action(async (o: SocketOpts & Record<string, any>) => {
      const vault = await vaultClient(o);
      try {
        print(await fn(vault, o));
      } finally {
        await vault.close();
      }
    });

  common(ceremony.command('status')).action(run((v, o) => v.status(o.tenant)));
  common(ceremony.command('seal')).action(run((v, o) => v.seal(o.tenant, { actor: o.actor })));
  common(ceremony.command('zeroize'))
    .option('--pkcs11', 'the seal is PKCS#11 and sealed: ask for the PIN')
    .action(
      run(async (v, o) =>
        v.zeroize(o.tenant, {
          actor: o.actor,
          ...(o.pkcs11 ? { pin: await readSecret('token PIN: ') } : {}),
        }),
      ),
    );

  common(ceremony.command('init'))
    .requiredOption('--custodians <n>', 'number of custodians', Number)
    .option('--threshold <m>', 'shares needed to unseal (Shamir)', Number)
    .option('--mechanism <m>', 'shamir | pkcs11', 'shamir')
    .option('--out <dir>', 'where share files are written', './shares')
    .action(
      run(async (v, o) => {
        if (o.mechanism === 'pkcs11') {
          const pin = await readSecret('token PIN: ');
          const r = await v.initialize(o.tenant, {
            mechanism: 'pkcs11',
            pin,
            components: await readComponents(o.custodians),
            actor: o.actor,
          });
          return {
            status: r.status,
            kcv: r.kcv,
            componentKcvs: r.componentKcvs,
            auditKeyId: r.auditPublicKey.keyId,
          };
        }
        const custodians = [];
        for (let i = 1; i <= o.custodians; i++) {
          const name = (await readSecret(`custodian ${i} name: `)).trim();
          const a = await readSecret(`passphrase of ${name}: `);
          if (a !== (await readSecret(`passphrase of ${name} again: `)))
            throw new StrongroomError('E_VALIDATION', 'the passphrases differ');
          custodians.push({ name, passphrase: enc(a) });
        }
        const r = await v.initialize(o.tenant, {
          mechanism: 'shamir',
          custodians,
          threshold: o.threshold,
          actor: o.actor,
        });
        return {
          status: r.status,
          fingerprint: r.fingerprint,
          auditKeyId: r.auditPublicKey.keyId,
          shareFiles: writeShareFiles(o.out, o.tenant, r.shareFiles ?? []),
        };
      }),
    );

  common(ceremony.command('unseal'))
    .option('--share <files...>', 'share files (Shamir); each custodian types their passphrase')
    .action(
      run(async (v, o) =>
        o.share
          ? v.unseal(o.tenant, { mechanism: 'shamir', shares: await presentShares(o.share), actor: o.actor })
          : v.unseal(o.tenant, { mechanism: 'pkcs11', pin: await readSecret('token PIN: '), actor: o.actor }),
      ),
    );

  common(ceremony.command('restore'))
    .option('--share <files...>', 'share files (Shamir)')
    .option('--components <n>', 'number of key components (PKCS#11)', Number)
    .action(
      run(async (v, o) =>
        o.share
          ? v.restore(o.tenant, { mechanism: 'shamir', shares: await presentShares(o.share), actor: o.actor })
          : v.restore(o.tenant, {
              mechanism: 'pkcs11',
              pin: await readSecret('token PIN: '),
              components: await readComponents(o.components),
              actor: o.actor,
            }),
      ),
    );

  common(ceremony.command('rekey'))
    .requiredOption('--share <files...>', 'the current quorum\u2019s share files')
    .requiredOption('--custodians <n>', 'new number of custodians', Number)
    .requiredOption('--threshold <m>', 'new threshold', Number)
    .option('--out <dir>', 'where the new share files are written', './shares-rekeyed')
    .action(
      run(async (v, o) => {
        const shares = await presentShares(o.share);
        const custodians = [];
        for (let i = 1; i <= o.custodians; i++) {
          const name = (await readSecret(`new custodian ${i} name: `)).trim();
          custodians.push({ name, passphrase: enc(await readSecret(`passphrase of ${name}: `)) });
        }
        const r = await v.rekey(o.tenant, { shares, custodians, threshold: o.threshold, actor: o.actor });
        return { fingerprint: r.fingerprint, shareFiles: writeShareFiles(o.out, o.tenant, r.shareFiles) };
      }),
    );

  common(ceremony.command('rotate'))
    .option('--components <n>', 'PKCS#11: number of new key components')
    .option('--resume', 'only finish an interrupted rewrap')
    .option('--batch <n>', 'cryptograms per transaction', Number, 2000)
    .action(
      run(async (v, o) => {
        let rotated: unknown;
        if (!o.resume) {
          rotated = o.components
            ? await v.rotate(o.tenant, {
                mechanism: 'pkcs11',
                components: await readComponents(Number(o.components)),
                actor: o.actor,
              })
            : await v.rotate(o.tenant, { mechanism: 'shamir', actor: o.actor });
        }
        const rewrap = await v.rewrap(o.tenant, {
          batchSize: o.batch,
          actor: o.actor,
          onProgress: progressBar,
        });
        process.stderr.write('\n');
        return { rotated, rewrap };
      }),
    );
}
