import type { Command } from 'commander';
import { clientFrom, withClientOptions } from './client-options.ts';
import { action, print } from './output.ts';

type ClientOpts = { server: string; key?: string };

/**
 * `strongroom wallets …`: create wallets, list them, show and derive addresses, and read balances.
 *
 * @example
 * strongroom wallets create treasury --tier warm --label "Treasury" --key alice.key.json
 * strongroom wallets new-address treasury --chain bitcoin --kind p2tr --key alice.key.json
 * strongroom wallets balances treasury --key alice.key.json
 */
export function registerWallets(program: Command): void {
  const wallets = program.command('wallets').description('wallets: create, addresses, balances');
  withClientOptions(
    wallets
      .command('create <walletId>')
      .description('create a wallet in the vault (it must be unsealed) with its first receive addresses')
      .requiredOption('--tier <tier>', 'hot | warm | cold')
      .option('--label <text>', 'a name for humans')
      .option('--idempotency-key <key>', 'reuse to retry safely'),
  ).action(
    action(async (walletId: string, o: ClientOpts & { tier: string; label?: string; idempotencyKey?: string }) =>
      print(
        await clientFrom(o).createWallet(
          { walletId, tier: o.tier as 'hot', ...(o.label !== undefined ? { label: o.label } : {}) },
          o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {},
        ),
      ),
    ),
  );
  withClientOptions(
    wallets
      .command('list')
      .description('list wallets')
      .option('--after <walletId>', 'start after this wallet')
      .option('--limit <n>', 'at most n wallets'),
  ).action(
    action(async (o: ClientOpts & { after?: string; limit?: string }) =>
      print(
        await clientFrom(o).listWallets({
          ...(o.after !== undefined ? { after: o.after } : {}),
          ...(o.limit !== undefined ? { limit: Number(o.limit) } : {}),
        }),
      ),
    ),
  );
  withClientOptions(wallets.command('show <walletId>').description('show a wallet and its receive addresses')).action(
    action(async (walletId: string, o: ClientOpts) => print(await clientFrom(o).getWallet(walletId))),
  );
  withClientOptions(wallets.command('addresses <walletId>').description("list the wallet's addresses")).action(
    action(async (walletId: string, o: ClientOpts) => print(await clientFrom(o).walletAddresses(walletId))),
  );
  withClientOptions(
    wallets
      .command('new-address <walletId>')
      .description('derive the next receive address (bitcoin), or show the EVM address (ethereum)')
      .requiredOption('--chain <chain>', 'bitcoin | ethereum')
      .option('--kind <kind>', 'p2wpkh | p2tr (bitcoin), evm (ethereum); default p2wpkh or evm'),
  ).action(
    action(async (walletId: string, o: ClientOpts & { chain: string; kind?: string }) => {
      const kind = o.kind ?? (o.chain === 'ethereum' ? 'evm' : 'p2wpkh');
      print(await clientFrom(o).newWalletAddress(walletId, { chain: o.chain as 'bitcoin', kind: kind as 'p2wpkh' }));
    }),
  );
  withClientOptions(
    wallets.command('balances <walletId>').description('available, pending and locked per asset (base units)'),
  ).action(action(async (walletId: string, o: ClientOpts) => print(await clientFrom(o).walletBalances(walletId))));
  withClientOptions(
    wallets.command('deposits <walletId>').description("the wallet's deposits, newest first").option('--limit <n>', 'at most n'),
  ).action(
    action(async (walletId: string, o: ClientOpts & { limit?: string }) =>
      print(await clientFrom(o).walletDeposits(walletId, o.limit !== undefined ? { limit: Number(o.limit) } : {})),
    ),
  );
}
