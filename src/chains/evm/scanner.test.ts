import { describe, expect, it } from 'vitest';
import { extractEvmEvents, type EvmScanBlock } from './scanner.ts';
import { ERC20_TRANSFER_TOPIC } from './erc20/artifact.ts';
import type { EvmLog, EvmTxInfo } from './rpc.ts';

const WALLET = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const SENDER = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';
const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const SPAM = '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB';
const H = (n: number) => '0x' + n.toString(16).padStart(64, '0');
const topic = (a: string) => '0x' + a.slice(2).toLowerCase().padStart(64, '0');
const watch = { addresses: [WALLET], tokens: [TOKEN] };

function tx(n: number, to: string | undefined, value: bigint): EvmTxInfo {
  return {
    hash: H(n),
    from: SENDER as `0x${string}`,
    to: to as `0x${string}` | undefined,
    nonce: n,
    value,
    blockNumber: 5,
  };
}
function log(address: string, to: string, value: bigint, extra: Partial<EvmLog> = {}): EvmLog {
  return {
    address: address as `0x${string}`,
    topics: [ERC20_TRANSFER_TOPIC, topic(SENDER), topic(to)],
    data: '0x' + value.toString(16).padStart(64, '0'),
    blockNumber: 5,
    blockHash: H(500),
    transactionHash: H(9),
    logIndex: 0,
    removed: false,
    ...extra,
  };
}
function block(txs: EvmTxInfo[], logs: EvmLog[], succeeded: [string, boolean][]): EvmScanBlock {
  return {
    height: 5,
    hash: H(500),
    parentHash: H(499),
    block: { number: 5, hash: H(500), parentHash: H(499), baseFeePerGas: 1n, transactions: txs },
    logs,
    succeeded: new Map(succeeded),
  };
}

describe('EVM scanner (pure extraction)', () => {
  it('credits successful ETH transfers to watched addresses only', () => {
    const b = block(
      [tx(1, WALLET, 10n), tx(2, WALLET, 20n), tx(3, SENDER, 30n), tx(4, WALLET, 0n), tx(5, undefined, 40n)],
      [],
      [
        [H(1), true],
        [H(2), false], // reverted: no value moved
      ],
    );
    expect(extractEvmEvents(b, watch).map((c) => [c.kind, c.value])).toEqual([['native', 10n]]);
  });

  it('credits Transfer logs of watched tokens to watched addresses, ignoring spam tokens and odd encodings', () => {
    const b = block(
      [],
      [
        log(TOKEN, WALLET, 100n),
        log(SPAM, WALLET, 1_000_000n), // a token nobody listed
        log(TOKEN, SENDER, 5n), // not to us
        log(TOKEN, WALLET, 7n, { removed: true }),
        log(TOKEN, WALLET, 8n, { blockHash: H(501) }), // belongs to another block
        {
          ...log(TOKEN, WALLET, 9n),
          topics: [ERC20_TRANSFER_TOPIC, topic(SENDER), '0x01' + topic(WALLET).slice(4)],
        }, // dirty padding
      ],
      [],
    );
    const credits = extractEvmEvents(b, watch);
    expect(credits).toEqual([
      {
        kind: 'token',
        token: TOKEN,
        hash: H(9),
        logIndex: 0,
        from: SENDER,
        to: WALLET,
        value: 100n,
        height: 5,
        blockHash: H(500),
      },
    ]);
  });
});
