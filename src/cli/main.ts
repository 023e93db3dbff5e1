#!/usr/bin/env node
/** `strongroom`: one file per command group; each only parses options and calls the service or the SDK. */
import { Command } from 'commander';
import { registerAudit } from './audit.ts';
import { registerGroups, registerUsers } from './directory.ts';
import { registerInit } from './init.ts';
import { registerKeys } from './keys.ts';
import { registerRequests } from './requests.ts';
import { registerServe, registerWorker } from './serve.ts';
import { registerVaultCommands } from './vault-commands.ts';

const program = new Command('strongroom')
  .description('Strongroom: self-hosted custody of digital assets')
  .version('0.1.0')
  .showHelpAfterError();

registerServe(program);
registerWorker(program);
registerInit(program);
registerKeys(program);
registerUsers(program);
registerGroups(program);
registerRequests(program);
registerAudit(program);
registerVaultCommands(program);
(await import('./governance.ts')).registerGovernance(program);
(await import('./wallets.ts')).registerWallets(program);

await program.parseAsync(process.argv);
