/**
 * The compiled minimal ERC-20 (ABI and bytecode), loaded from the committed erc20.artifact.json so runtime
 * code never needs the compiler. compile.ts regenerates it; artifact.test.ts proves it is current.
 */
import { readFileSync } from 'node:fs';
import { Interface } from 'ethers';

export interface Erc20Artifact {
  readonly contractName: 'Erc20';
  readonly compiler: {
    readonly version: string;
    readonly evmVersion: string;
    readonly optimizerRuns: number;
  };
  readonly abi: readonly unknown[];
  /** Creation code; constructor(string name, string symbol, uint8 decimals). */
  readonly bytecode: `0x${string}`;
  readonly deployedBytecode: `0x${string}`;
}

export const ERC20_ARTIFACT: Erc20Artifact = Object.freeze(
  JSON.parse(readFileSync(new URL('./erc20.artifact.json', import.meta.url), 'utf8')) as Erc20Artifact,
);

export const ERC20_INTERFACE = new Interface(ERC20_ARTIFACT.abi as never);

/** keccak256("Transfer(address,address,uint256)"): topic 0 of every ERC-20 transfer log. */
export const ERC20_TRANSFER_TOPIC = ERC20_INTERFACE.getEvent('Transfer')!.topicHash;
