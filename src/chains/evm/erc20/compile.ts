/**
 * Compiles Erc20.sol in-process with the pinned `solc` npm package (the Emscripten build: no binary to
 * download). Used to (re)generate erc20.artifact.json, which is what runtime code loads, so production never
 * needs a compiler; a test proves the committed artifact equals a fresh compile.
 *
 * Regenerate: `npx tsx src/chains/evm/erc20/compile.ts --write`
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { StrongroomError } from '../../../domain/errors.ts';
import type { Erc20Artifact } from './artifact.ts';

/** Shanghai: PUSH0 is fine on anvil and every mainnet since 2023; later forks add nothing we use. */
export const ERC20_EVM_VERSION = 'shanghai';
export const ERC20_SOURCE_PATH = fileURLToPath(new URL('./Erc20.sol', import.meta.url));
export const ERC20_ARTIFACT_PATH = fileURLToPath(new URL('./erc20.artifact.json', import.meta.url));

export function compileErc20(): Erc20Artifact {
  const require = createRequire(import.meta.url);
  const solc = require('solc') as { compile(input: string): string; version(): string };
  const source = readFileSync(ERC20_SOURCE_PATH, 'utf8');
  const input = {
    language: 'Solidity',
    sources: { 'Erc20.sol': { content: source } },
    settings: {
      evmVersion: ERC20_EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      // No metadata hash: the bytecode then depends on the source and settings only, not on file paths.
      metadata: { bytecodeHash: 'none' },
      outputSelection: {
        'Erc20.sol': { Erc20: ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts?: Record<
      string,
      Record<
        string,
        { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
      >
    >;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  const contract = output.contracts?.['Erc20.sol']?.Erc20;
  if (errors.length > 0 || !contract) {
    throw new StrongroomError('E_INTERNAL', 'Erc20.sol does not compile', {
      details: { errors: errors.map((e) => e.formattedMessage) },
    });
  }
  return {
    contractName: 'Erc20',
    compiler: { version: solc.version(), evmVersion: ERC20_EVM_VERSION, optimizerRuns: 200 },
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
}

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url) === process.argv[1] &&
  process.argv.includes('--write')
) {
  writeFileSync(ERC20_ARTIFACT_PATH, JSON.stringify(compileErc20(), null, 2) + '\n');
  console.log(`wrote ${ERC20_ARTIFACT_PATH}`);
}
