import type { Command } from 'commander';
import { StrongroomError } from '../domain/errors.ts';
import { loadKeyFile } from '../sdk/key-file.ts';
import { serverConfig } from './config.ts';
import { action, print } from './output.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description(
      'one-shot bootstrap of the first tenant and its admins (a second run fails, changing nothing)',
    )
    .requiredOption('--tenant <name>', 'name of the first tenant')
    .requiredOption(
      '--admin <name=keyfile...>',
      'an admin and their key file (only its public key is read); repeatable',
    )
    .option('--data <dir>', 'data directory', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite')
    .action(
      action(async (o: { tenant: string; admin: string[]; data: string; databaseUrl?: string }) => {
        const admins = o.admin.map((spec) => {
          const eq = spec.indexOf('=');
          if (eq <= 0) throw new StrongroomError('E_VALIDATION', `--admin takes name=keyfile, got "${spec}"`);
          const signer = loadKeyFile(spec.slice(eq + 1));
          return { name: spec.slice(0, eq), alg: signer.alg, publicKey: signer.publicKeySpki };
        });
        const { createStrongroom } = await import('../service/app.ts');
        const app = await createStrongroom(serverConfig(o));
        try {
          print(await app.initialize({ tenant: o.tenant, admins }));
        } finally {
          await app.close();
        }
      }),
    );
}
