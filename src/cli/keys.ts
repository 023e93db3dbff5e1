import type { Command } from 'commander';
import { generateKeyFile } from '../sdk/key-file.ts';
import { action, print } from './output.ts';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('your own signing keys');
  keys
    .command('generate')
    .description('create a key file (mode 0600) holding a new private key; prints its public key')
    .requiredOption('--out <file>', 'where to write the key file (must not exist)')
    .option('--alg <alg>', 'ed25519 | ecdsa-p256-sha256 | ecdsa-secp256k1-sha256', 'ed25519')
    .action(
      action(async (o: { out: string; alg: string }) => {
        print(await generateKeyFile(o.out, { alg: o.alg as never }));
      }),
    );
}
