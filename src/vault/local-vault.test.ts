import { vaultContract } from './vault.contract.ts';
import { createVaultUnderTest } from '../../test/support/vault-harness.ts';
import { softHsmMissing } from '../../test/support/softhsm.ts';

vaultContract('ShamirSeal, in process', () =>
  createVaultUnderTest({ mechanism: 'shamir', placement: 'in-process' }),
);

const missing = softHsmMissing();
if (missing) console.warn(`skipping the PKCS#11 vault conformance suite: ${missing}`);
else
  vaultContract('Pkcs11Seal (SoftHSM2), in process', () =>
    createVaultUnderTest({ mechanism: 'pkcs11', placement: 'in-process' }),
  );
