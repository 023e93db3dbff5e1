import type { Command } from 'commander';
import { createClient } from '../sdk/client.ts';
import { loadKeyFile } from '../sdk/key-file.ts';
import { DEFAULT_SERVER } from './config.ts';

/** Options every command that talks to a server takes: where, and which key file signs. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .option(
      '--server <url>',
      'Strongroom API (env STRONGROOM_SERVER)',
      process.env.STRONGROOM_SERVER ?? DEFAULT_SERVER,
    )
    .option('--key <file>', 'your key file (env STRONGROOM_KEY)', process.env.STRONGROOM_KEY);
}

export function clientFrom(o: { server: string; key?: string }) {
  if (!o.key)
    throw new Error('--key <file> (or STRONGROOM_KEY) is required: every call is signed by your key');
  return createClient({ baseUrl: o.server, signer: loadKeyFile(o.key) });
}
