import { vaultContract } from './vault.contract.ts';
import { createVaultUnderTest } from '../../test/support/vault-harness.ts';
import { softHsmMissing } from '../../test/support/softhsm.ts';

// The same suite through the socket RPC: a server in this process, and a real separate vault process.
vaultContract('ShamirSeal, remote (socket, server in process)', () =>
  createVaultUnderTest({ mechanism: 'shamir', placement: 'socket' }),
);
vaultContract('ShamirSeal, remote (separate process)', () =>
  createVaultUnderTest({ mechanism: 'shamir', placement: 'process' }),
);

const missing = softHsmMissing();
if (missing) console.warn(`skipping the PKCS#11 remote vault conformance suite: ${missing}`);
else {
  vaultContract('Pkcs11Seal (SoftHSM2), remote (socket, server in process)', () =>
    createVaultUnderTest({ mechanism: 'pkcs11', placement: 'socket' }),
  );
  vaultContract('Pkcs11Seal (SoftHSM2), remote (separate process)', () =>
    createVaultUnderTest({ mechanism: 'pkcs11', placement: 'process' }),
  );
}
