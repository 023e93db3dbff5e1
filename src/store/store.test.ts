import { createTestDatabase, DIALECTS } from '../../test/support/databases.ts';
import { storeContract } from './store.contract.ts';

for (const dialect of DIALECTS) {
  storeContract(dialect, () => createTestDatabase(dialect));
}
