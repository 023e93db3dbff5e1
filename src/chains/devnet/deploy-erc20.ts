/**
 * Dev-only helpers that sign with anvil's throwaway dev keys (never a custody key): deploy the minimal
 * ERC-20 from the committed artifact, mint, and send ETH, so tests and `npm start` can fund a wallet.
 */
import { ContractFactory, Contract, JsonRpcProvider, Network, NonceManager, Wallet } from 'ethers';
import { ERC20_ARTIFACT } from '../evm/erc20/artifact.ts';
import type { EvmAddress } from '../evm/address.ts';
import { toChecksumAddress } from '../evm/address.ts';
import type { AnvilDevnet, DevAccount } from './anvil.ts';

export interface DevSigner {
  readonly address: EvmAddress;
  deployErc20(p: { name: string; symbol: string; decimals: number }): Promise<EvmAddress>;
  mint(token: string, to: string, amount: bigint): Promise<void>;
  sendEth(to: string, amount: bigint): Promise<void>;
  close(): void;
}

/** A signer for one dev account of a dev node; each method waits for its transaction to be mined. */
export function devSigner(devnet: Pick<AnvilDevnet, 'rpcUrl' | 'chainId'>, account: DevAccount): DevSigner {
  const network = Network.from(devnet.chainId);
  const provider = new JsonRpcProvider(devnet.rpcUrl, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    pollingInterval: 50,
  });
  const wallet = new NonceManager(new Wallet(account.privateKey, provider));
  const mined = async (tx: { wait(): Promise<unknown> }) => {
    await tx.wait();
  };
  return {
    address: toChecksumAddress(account.address),
    async deployErc20({ name, symbol, decimals }) {
      const factory = new ContractFactory(ERC20_ARTIFACT.abi as never, ERC20_ARTIFACT.bytecode, wallet);
      const contract = await factory.deploy(name, symbol, decimals);
      await contract.waitForDeployment();
      return toChecksumAddress(await contract.getAddress());
    },
    async mint(token, to, amount) {
      const contract = new Contract(token, ERC20_ARTIFACT.abi as never, wallet);
      await mined(await contract.getFunction('mint')(to, amount));
    },
    async sendEth(to, amount) {
      await mined(await wallet.sendTransaction({ to, value: amount }));
    },
    close: () => provider.destroy(),
  };
}
