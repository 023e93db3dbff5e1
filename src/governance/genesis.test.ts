import { describe, expect, it } from 'vitest';
import { genesisFixture, iso, keysOf, sync, T0, testUser } from '../../test/support/governance-kit.ts';
import { createGenesis, signGenesis, verifyGenesis } from './genesis.ts';
import { stateDigest, type GovernanceState } from './governance-state.ts';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('genesis', () => {
  it('builds height 0 with the governance and freeze groups defaulting to all admins', () => {
    const { genesis } = genesisFixture(3, 2);
    expect(genesis.height).toBe(0);
    expect(genesis.prev).toBeNull();
    expect(genesis.groups.admins).toEqual(['a0', 'a1', 'a2']);
    expect(genesis.governance).toEqual({ group: 'admins', k: 2 });
    expect(Object.keys(genesis.users.a0!.keys)[0]).toMatch(/^k_/);
  });

  it('verifies when every initial admin signed, with any supported key algorithm', () => {
    const admins = [
      testUser('x', ['ecdsa-p256-sha256']),
      testUser('y', ['ecdsa-secp256k1-sha256']),
      testUser('z'),
    ];
    const genesis = createGenesis({
      tenant: 't1',
      admins: admins.map((a) => ({ userId: a.userId, name: a.userId, keys: keysOf(a) })),
      governance: { group: 'admins', k: 2 },
      freezeGroup: 'ops',
      groups: { ops: ['z'] },
      createdAt: iso(T0),
    });
    const sigs = admins.map((a) => signGenesis(genesis, a.userId, sync(a.signer)));
    expect(verifyGenesis(genesis, sigs)).toBe(stateDigest(genesis));
  });

  it('requires every admin: one missing signature is E_QUORUM_INCOMPLETE naming them', () => {
    const { genesis, signatures } = genesisFixture(3, 2);
    let err: any;
    try {
      verifyGenesis(genesis, signatures.slice(0, 2));
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe('E_QUORUM_INCOMPLETE');
    expect(err.details.missing).toEqual(['a2']);
  });

  it('refuses a bad or foreign signature', () => {
    const { genesis, signatures, admins } = genesisFixture(2, 2);
    const forged = { ...signatures[1]!, signature: signatures[0]!.signature };
    expect(codeOf(() => verifyGenesis(genesis, [signatures[0]!, forged]))).toBe('E_SIGNATURE_INVALID');
    const stranger = testUser('s');
    expect(
      codeOf(() => verifyGenesis(genesis, [...signatures, signGenesis(genesis, 's', sync(stranger.signer))])),
    ).toBe('E_KEY_UNKNOWN');
    // a1 signing with a0's key: the key is not a1's.
    expect(
      codeOf(() =>
        verifyGenesis(genesis, [signatures[0]!, signGenesis(genesis, 'a1', sync(admins[0]!.signer))]),
      ),
    ).toBe('E_KEY_UNKNOWN');
  });

  it('signatures are bound to the exact genesis: any edit breaks them or its form', () => {
    const { genesis, signatures } = genesisFixture(2, 2);
    const edited: GovernanceState = { ...genesis, governance: { group: 'admins', k: 1 } };
    expect(codeOf(() => verifyGenesis(edited, signatures))).toBe('E_SIGNATURE_INVALID');
    const notGenesis: GovernanceState = { ...genesis, height: 1 };
    expect(codeOf(() => verifyGenesis(notGenesis, signatures))).toBe('E_GOVERNANCE_CHAIN_INVALID');
    const extra = { ...genesis, extra: true } as GovernanceState;
    expect(codeOf(() => verifyGenesis(extra, signatures))).toBe('E_GOVERNANCE_CHAIN_INVALID');
    const wrongKeyId = structuredClone(genesis) as any;
    const kid = Object.keys(wrongKeyId.users.a0.keys)[0]!;
    wrongKeyId.users.a0.keys['k_forged'] = wrongKeyId.users.a0.keys[kid];
    delete wrongKeyId.users.a0.keys[kid];
    expect(codeOf(() => verifyGenesis(wrongKeyId, signatures))).toBe('E_GOVERNANCE_CHAIN_INVALID');
  });

  it('refuses an unsatisfiable genesis', () => {
    const a = testUser('a');
    const b = testUser('b');
    const base = {
      tenant: 't',
      admins: [a, b].map((u) => ({ userId: u.userId, name: u.userId, keys: keysOf(u) })),
      freezeGroup: 'admins',
      createdAt: iso(T0),
    };
    expect(codeOf(() => createGenesis({ ...base, governance: { group: 'admins', k: 3 } }))).toBe(
      'E_QUORUM_UNSATISFIABLE',
    );
    expect(
      codeOf(() => createGenesis({ ...base, governance: { group: 'gov', k: 2 }, groups: { gov: ['a'] } })),
    ).toBe('E_QUORUM_UNSATISFIABLE');
    expect(
      codeOf(() =>
        createGenesis({
          ...base,
          governance: { group: 'admins', k: 1 },
          freezeGroup: 'f',
          groups: { f: [] },
        }),
      ),
    ).toBe('E_QUORUM_UNSATISFIABLE');
  });

  it('refuses malformed parameters with E_VALIDATION naming the field, and a key listed twice', () => {
    const a = testUser('a');
    const ok = {
      tenant: 't',
      admins: [{ userId: 'a', name: 'A', keys: keysOf(a) }],
      governance: { group: 'admins', k: 1 },
      freezeGroup: 'admins',
      createdAt: iso(T0),
    };
    expect(codeOf(() => createGenesis({ ...ok, createdAt: '2025-01-01' }))).toBe('E_VALIDATION');
    expect(codeOf(() => createGenesis({ ...ok, admins: [] }))).toBe('E_VALIDATION');
    expect(codeOf(() => createGenesis({ ...ok, groups: { g: ['nobody'] } }))).toBe('E_VALIDATION');
    expect(
      codeOf(() =>
        createGenesis({
          ...ok,
          admins: [{ userId: 'a', name: 'A', keys: [{ alg: 'ed25519', publicKey: 'AAAA' }] }],
        }),
      ),
    ).toBe('E_VALIDATION');
    expect(
      codeOf(() =>
        createGenesis({
          ...ok,
          admins: [
            { userId: 'a', name: 'A', keys: keysOf(a) },
            { userId: 'b', name: 'B', keys: keysOf(a) },
          ],
        }),
      ),
    ).toBe('E_CONFLICT');
  });
});
