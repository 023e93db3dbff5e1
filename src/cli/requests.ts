import type { Command } from 'commander';
import { clientFrom, withClientOptions } from './client-options.ts';
import { action, print } from './output.ts';

type ClientOpts = { server: string; key?: string };

export function registerRequests(program: Command): void {
  const requests = program.command('requests').description('requests (intents), signed by their initiator');
  withClientOptions(
    requests
      .command('transfer')
      .description('submit a transfer request')
      .requiredOption('--asset <symbol>', 'BTC | ETH | a configured ERC-20 (e.g. TUSD)')
      .requiredOption('--amount <decimal>', 'amount in asset units, e.g. 0.015')
      .requiredOption('--from <walletId>', 'source wallet')
      .requiredOption('--to <address>', 'destination address')
      .option('--note <text>', 'free text for approvers')
      .option('--max-fee <decimal>', 'highest network fee accepted, in the chain native coin (default: the configured cap)'),
  ).action(
    action(
      async (o: ClientOpts & { asset: string; amount: string; from: string; to: string; note?: string; maxFee?: string }) =>
        print(
          await clientFrom(o).post('/v1/requests', {
            type: 'transfer',
            asset: o.asset,
            amount: o.amount,
            from: o.from,
            to: o.to,
            ...(o.note ? { note: o.note } : {}),
            ...(o.maxFee ? { maxFee: o.maxFee } : {}),
          }),
        ),
    ),
  );
  withClientOptions(requests.command('list').description('list requests, newest first')).action(
    action(async (o: ClientOpts) => print(await clientFrom(o).get('/v1/requests'))),
  );
  withClientOptions(requests.command('execution <id>').description('the transaction of an approved withdrawal: state, txid, fee, block')).action(
    action(async (id: string, o: ClientOpts) => print(await clientFrom(o).get(`/v1/requests/${encodeURIComponent(id)}/execution`))),
  );
  withClientOptions(
    requests
      .command('bump-fee <id>')
      .description('replace a broadcast, unconfirmed withdrawal by one paying more (within the approved fee cap)')
      .option('--fee-rate <satPerVb>', 'Bitcoin: the new fee rate (default: the node estimate)'),
  ).action(
    action(async (id: string, o: ClientOpts & { feeRate?: string }) =>
      print(await clientFrom(o).post(`/v1/requests/${encodeURIComponent(id)}/bump-fee`, o.feeRate ? { feeRate: Number(o.feeRate) } : {})),
    ),
  );
  withClientOptions(requests.command('show <id>').description('show a request')).action(
    action(async (id: string, o: ClientOpts) =>
      print(await clientFrom(o).get(`/v1/requests/${encodeURIComponent(id)}`)),
    ),
  );
}
