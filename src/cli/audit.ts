import type { Command } from 'commander';
import type { AuditVerifyReport } from '../audit/verify-chain.ts';
import { StrongroomError } from '../domain/errors.ts';
import { serverConfig } from './config.ts';
import { action, print } from './output.ts';

type DbOpts = { data: string; databaseUrl?: string; tenant?: string };

function parseTrustedKeys(specs: string[] = []): Map<string, Uint8Array> {
  return new Map(
    specs.map((s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new StrongroomError('E_VALIDATION', `--trusted-key takes keyId=base64, got "${s}"`);
      return [s.slice(0, eq), new Uint8Array(Buffer.from(s.slice(eq + 1), 'base64'))];
    }),
  );
}

function summarize(r: AuditVerifyReport): string {
  const head = `tenant ${r.tenant}: ${r.count} entries, head seq ${r.headSeq}, anchored by a signed checkpoint up to seq ${r.anchoredSeq}`;
  if (r.ok) return `OK ${head}`;
  return [`TAMPERED ${head}`, ...r.problems.map((p) => `  ${p.kind} at seq ${p.seq}: ${p.message}`)].join(
    '\n',
  );
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the hash-chained, signed audit log');
  audit
    .command('verify')
    .description(
      'verify the audit chain of a database (--data / --database-url) or of an export file (--file), offline',
    )
    .option('--data <dir>', 'data directory', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite')
    .option('--tenant <id>', 'only this tenant')
    .option('--file <export>', 'an export file written by `audit export`')
    .option(
      '--trusted-key <keyId=base64...>',
      "audit public keys to trust (default for --data: the server's own)",
    )
    .option('--json', 'print the full report as JSON')
    .action(
      action(async (o: DbOpts & { file?: string; trustedKey?: string[]; json?: boolean }) => {
        const reports: AuditVerifyReport[] = [];
        if (o.file) {
          const keys = parseTrustedKeys(o.trustedKey);
          if (keys.size === 0)
            throw new StrongroomError(
              'E_VALIDATION',
              '--file needs --trusted-key keyId=base64 (the audit public key)',
            );
          const { verifyAuditExport } = await import('../audit/export.ts');
          reports.push(await verifyAuditExport(o.file, keys));
        } else {
          const { createStrongroom } = await import('../service/app.ts');
          const { directoryRepository } = await import('../store/index.ts');
          const app = await createStrongroom(serverConfig(o));
          try {
            const tenants = o.tenant
              ? [o.tenant]
              : (await directoryRepository.listTenants(app.database.db)).map((t) => t.id);
            if (!o.trustedKey) {
              process.stderr.write(
                'note: trusting the audit keys recorded by this installation; pass --trusted-key for an independent check\n',
              );
            }
            for (const t of tenants)
              reports.push(
                await app.audit.verify(t, o.trustedKey ? parseTrustedKeys(o.trustedKey) : undefined),
              );
          } finally {
            await app.vault.close();
            await app.database.close();
          }
        }
        print(o.json ? reports : reports.map(summarize).join('\n'));
        if (reports.some((r) => !r.ok)) process.exit(3);
      }),
    );
  audit
    .command('export')
    .description(
      "write a tenant's audit entries and signed checkpoints to a JSON Lines file for offline verification",
    )
    .requiredOption('--out <file>', 'export file to write')
    .option('--data <dir>', 'data directory', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite')
    .option('--tenant <id>', 'tenant id (default: the only tenant)')
    .action(
      action(async (o: DbOpts & { out: string }) => {
        const { createStrongroom } = await import('../service/app.ts');
        const { directoryRepository } = await import('../store/index.ts');
        const { writeAuditExport } = await import('../audit/export.ts');
        const app = await createStrongroom(serverConfig(o));
        try {
          const tenants = (await directoryRepository.listTenants(app.database.db)).map((t) => t.id);
          const tenant = o.tenant ?? (tenants.length === 1 ? tenants[0]! : undefined);
          if (!tenant)
            throw new StrongroomError(
              'E_VALIDATION',
              `--tenant is required (tenants: ${tenants.join(', ')})`,
            );
          await app.audit.checkpoint(tenant);
          await writeAuditExport(
            o.out,
            { tenant },
            app.audit.records(tenant),
            await app.audit.checkpoints(tenant),
          );
          const keys = [...(await app.audit.trustedKeys(tenant))].map(
            ([id, pub]) => `--trusted-key ${id}=${Buffer.from(pub).toString('base64')}`,
          );
          print(`wrote ${o.out}; verify with: strongroom audit verify --file ${o.out} ${keys.join(' ')}`);
        } finally {
          await app.vault.close();
          await app.database.close();
        }
      }),
    );
}
