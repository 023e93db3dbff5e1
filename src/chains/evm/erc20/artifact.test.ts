import { describe, expect, it } from 'vitest';
import { ERC20_ARTIFACT, ERC20_INTERFACE, ERC20_TRANSFER_TOPIC } from './artifact.ts';
import { compileErc20 } from './compile.ts';
import { SELECTORS } from '../calldata.ts';

describe('ERC-20 artifact', () => {
  it('the committed artifact equals a fresh solc compile of Erc20.sol', () => {
    expect(JSON.parse(JSON.stringify(compileErc20()))).toEqual(JSON.parse(JSON.stringify(ERC20_ARTIFACT)));
  }, 120_000);

  it('exposes the standard ERC-20 interface the builder and scanner rely on', () => {
    expect(ERC20_INTERFACE.getFunction('transfer')!.selector).toBe(SELECTORS.transfer);
    expect(ERC20_INTERFACE.getFunction('mint')!.selector).toBe(SELECTORS.mint);
    expect(ERC20_TRANSFER_TOPIC).toBe('0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef');
    expect(ERC20_ARTIFACT.compiler.evmVersion).toBe('shanghai');
  });
});
