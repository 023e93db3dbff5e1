import { createDecipheriv } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createSoftHsm,
  softHsmMissing,
  type SoftHsm,
  type TestToken,
} from '../../../test/support/softhsm.ts';
import { StrongroomError } from '../../domain/errors.ts';
import { Pkcs11Seal, generateKeyComponent, keyCheckValue } from './pkcs11-seal.ts';
import { combineKeyComponents } from './pkcs11/key-components.ts';
import { acquirePkcs11Module } from './pkcs11/module.ts';

const missing = softHsmMissing();
if (missing) console.warn(`skipping Pkcs11Seal tests: ${missing}`);

const TENANT = 'acme';
const enc = (s: string) => new TextEncoder().encode(s);

/** Runs `fn` and returns the StrongroomError it throws (fails the test if it does not throw one). */
async function failure(fn: () => unknown): Promise<StrongroomError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return e as StrongroomError;
  }
  throw new Error('expected a StrongroomError');
}

/**
 * A raw PKCS#11 session beside the seal, to look at the token the way an attacker with the PIN would.
 * Login is per token: while the seal is unsealed this session sees private objects without logging in.
 */
function rawToken(token: TestToken, { login = false } = {}) {
  const module = acquirePkcs11Module(token.config.modulePath);
  const p11 = module.p11;
  const session = p11.C_OpenSession(
    module.findSlot(token.config.tokenLabel),
    pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION,
  );
  if (login) p11.C_Login(session, pkcs11js.CKU_USER, token.pin);
  const find = (label: string) => {
    p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const found = p11.C_FindObjects(session, 10);
    p11.C_FindObjectsFinal(session);
    return found;
  };
  return {
    p11,
    session,
    find,
    masterKey(version = 1) {
      const [key] = find(`strongroom:${TENANT}:master:${version}`);
      return key;
    },
    close() {
      if (login) p11.C_Logout(session);
      p11.C_CloseSession(session);
      module.release();
    },
  };
}

/** Error text an operator could see: message, hints, details and the JSON form. */
function visibleText(e: StrongroomError): string {
  return `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`;
}

describe.skipIf(!!missing)('Pkcs11Seal on SoftHSM2', () => {
  let hsm: SoftHsm;
  let token: TestToken;
  let components: Uint8Array[];
  const opened: Pkcs11Seal[] = [];

  beforeAll(() => {
    hsm = createSoftHsm();
  });
  afterAll(() => hsm.dispose());

  beforeEach(() => {
    token = hsm.createToken();
    components = [generateKeyComponent(), generateKeyComponent(), generateKeyComponent()];
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  /** The ceremony, then an unseal (a new seal starts sealed). */
  async function init() {
    const result = await Pkcs11Seal.initialize({
      tenant: TENANT,
      config: token.config,
      pin: token.pin,
      components,
    });
    opened.push(result.seal);
    expect(result.seal.state()).toBe('sealed');
    await result.seal.unseal({ pin: token.pin });
    return result;
  }
  async function open() {
    const seal = await Pkcs11Seal.open({ tenant: TENANT, config: token.config });
    opened.push(seal);
    return seal;
  }

  it('starts uninitialized and refuses key operations with E_VAULT_UNINITIALIZED', async () => {
    const seal = await open();
    expect(seal.state()).toBe('uninitialized');
    expect(seal.status()).toEqual({
      mechanism: 'pkcs11',
      tenant: TENANT,
      state: 'uninitialized',
      tokenLabel: token.config.tokenLabel,
    });
    expect((await failure(() => seal.encrypt(enc('x'), enc('a')))).code).toBe('E_VAULT_UNINITIALIZED');
    expect((await failure(() => seal.unseal({ pin: token.pin }))).code).toBe('E_VAULT_UNINITIALIZED');
  });

  it('ceremony: imports the XOR of the components as a non-extractable token key and shows every KCV', async () => {
    const { seal, kcv, componentKcvs, ref } = await init();
    const combined = combineKeyComponents(components);
    expect(kcv).toBe(keyCheckValue(combined)); // computed by the token, checked against the host's own
    combined.fill(0);
    expect(kcv).toMatch(/^[0-9A-F]{6}$/);
    expect(componentKcvs).toEqual(components.map((c) => keyCheckValue(c)));
    expect(ref).toEqual({ id: expect.stringMatching(/^[0-9a-f]{16}$/), version: 1 });
    expect(seal.state()).toBe('unsealed');
    expect(seal.current()).toEqual(ref);
    expect(seal.keyCheckValue()).toBe(kcv);
    expect(seal.status()).toMatchObject({
      state: 'unsealed',
      keyId: ref.id,
      current: 1,
      keys: [{ version: 1, kcv, state: 'active' }],
    });
    expect(String(seal)).toBe(`Pkcs11Seal(${TENANT}, unsealed)`);

    const raw = rawToken(token);
    try {
      const key = raw.masterKey();
      expect(key).toBeDefined();
      const attrs = raw.p11.C_GetAttributeValue(raw.session, key!, [
        { type: pkcs11js.CKA_TOKEN },
        { type: pkcs11js.CKA_PRIVATE },
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
        { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        { type: pkcs11js.CKA_WRAP },
        { type: pkcs11js.CKA_ENCRYPT },
        { type: pkcs11js.CKA_VALUE_LEN },
      ]);
      const [tok, priv, sens, extr, , , wrap, encr, len] = attrs.map((a) => a.value);
      expect([tok![0], priv![0], sens![0], extr![0], wrap![0], encr![0]]).toEqual([1, 1, 1, 0, 0, 1]);
      expect(len!.readUInt32LE(0)).toBe(32);
    } finally {
      raw.close();
    }

    const again = await failure(() =>
      Pkcs11Seal.initialize({ tenant: TENANT, config: token.config, pin: token.pin, components }),
    );
    expect(again.code).toBe('E_VAULT_ALREADY_INITIALIZED');
    expect(seal.keyCheckValue()).toBe(kcv);
  });

  it('encrypts in the token as nonce(12) || ciphertext || tag(16), bound to the AAD', async () => {
    const { seal, ref } = await init();
    const seed = new Uint8Array(64).map((_, i) => i);
    const aad = enc('tenant=acme;wallet=w1;v=1;purpose=seed');
    const sealed = await seal.encrypt(seed, aad);
    expect(sealed.length).toBe(12 + 64 + 16);
    expect([...(await seal.decrypt(sealed, aad, ref))]).toEqual([...seed]);

    // The format is plain AES-256-GCM under the XOR of the components: node:crypto opens it too.
    const key = combineKeyComponents(components);
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    key.fill(0);
    expect([...plain]).toEqual([...seed]);

    const again = await seal.encrypt(seed, aad);
    expect(Buffer.from(again.subarray(0, 12)).equals(Buffer.from(sealed.subarray(0, 12)))).toBe(false); // fresh nonce
  });

  it('refuses a wrong AAD, a flipped bit, a short cryptogram or another lineage with E_CRYPTOGRAM_INVALID', async () => {
    const { seal, ref } = await init();
    const aad = enc('wallet=w1');
    const sealed = await seal.encrypt(enc('secret seed'), aad);
    expect((await failure(() => seal.decrypt(sealed, enc('wallet=w2'), ref))).code).toBe(
      'E_CRYPTOGRAM_INVALID',
    );
    for (const i of [0, 12, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect((await failure(() => seal.decrypt(bad, aad, ref))).code).toBe('E_CRYPTOGRAM_INVALID');
    }
    expect((await failure(() => seal.decrypt(sealed.subarray(0, 27), aad, ref))).code).toBe(
      'E_CRYPTOGRAM_INVALID',
    );
    expect((await failure(() => seal.decrypt(sealed, aad, { id: '00'.repeat(8), version: 1 }))).code).toBe(
      'E_CRYPTOGRAM_INVALID',
    );
    expect((await failure(() => seal.decrypt(sealed, aad, { ...ref, version: 2 }))).code).toBe(
      'E_CRYPTOGRAM_INVALID',
    );
    // nothing changed: the original still opens
    expect(new TextDecoder().decode(await seal.decrypt(sealed, aad, ref))).toBe('secret seed');
  });

  it('seal: every key operation fails with E_VAULT_SEALED until unseal; a fresh process sees it sealed', async () => {
    const { seal, ref } = await init();
    const aad = enc('a');
    const sealed = await seal.encrypt(enc('x'), aad);
    await seal.seal();
    await seal.seal(); // idempotent
    expect(seal.state()).toBe('sealed');
    expect((await failure(() => seal.encrypt(enc('x'), aad))).code).toBe('E_VAULT_SEALED');
    expect((await failure(() => seal.decrypt(sealed, aad, ref))).code).toBe('E_VAULT_SEALED');
    expect((await failure(() => seal.rotate({ components }))).code).toBe('E_VAULT_SEALED');

    // After seal the token is logged out: private objects are invisible to anyone without the PIN.
    const raw = rawToken(token);
    try {
      expect(raw.masterKey()).toBeUndefined();
    } finally {
      raw.close();
    }

    await seal.close();
    const other = await open();
    expect(other.state()).toBe('sealed');
    await other.unseal({ pin: token.pin });
    expect(other.state()).toBe('unsealed');
    expect(new TextDecoder().decode(await other.decrypt(sealed, aad, ref))).toBe('x');
  });

  it('unseal with a wrong PIN fails with E_PIN_INCORRECT, never shows the PIN, and changes nothing', async () => {
    const { seal, ref } = await init();
    const aad = enc('a');
    const sealed = await seal.encrypt(enc('x'), aad);
    await seal.seal();
    const wrongPin = `${token.pin}0`;
    const e = await failure(() => seal.unseal({ pin: wrongPin }));
    expect(e.code).toBe('E_PIN_INCORRECT');
    expect(visibleText(e)).not.toContain(wrongPin);
    expect(visibleText(e)).not.toContain(token.pin);
    expect(seal.state()).toBe('sealed');
    expect((await failure(() => seal.decrypt(sealed, aad, ref))).code).toBe('E_VAULT_SEALED');
    expect((await failure(() => seal.unseal({ pin: '' }))).code).toBe('E_VALIDATION');

    await seal.unseal({ pin: token.pin });
    expect(new TextDecoder().decode(await seal.decrypt(sealed, aad, ref))).toBe('x');
  });

  it('the master key cannot be read (CKA_VALUE), wrapped out, or used outside GCM/ECB', async () => {
    await init();
    const raw = rawToken(token);
    try {
      const key = raw.masterKey()!;
      expect(() =>
        raw.p11.C_GetAttributeValue(raw.session, key, [{ type: pkcs11js.CKA_VALUE }]),
      ).toThrowError('CKR_ATTRIBUTE_SENSITIVE');
      // A wrapping key the attacker controls: the token still refuses to export the master key under it.
      const wrappingKey = raw.p11.C_GenerateKey(raw.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      ]);
      for (const mechanism of [pkcs11js.CKM_AES_KEY_WRAP_PAD, pkcs11js.CKM_AES_KEY_WRAP]) {
        expect(() =>
          raw.p11.C_WrapKey(raw.session, { mechanism }, wrappingKey, key, Buffer.alloc(64)),
        ).toThrowError('CKR_KEY_UNEXTRACTABLE');
      }
      // Nor can its attributes be flipped to make it extractable.
      expect(() =>
        raw.p11.C_SetAttributeValue(raw.session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]),
      ).toThrowError(/CKR_ATTRIBUTE_READ_ONLY|CKR_ACTION_PROHIBITED|:27$/); // 0x1B, PKCS#11 3.0 ACTION_PROHIBITED
      // CKA_ALLOWED_MECHANISMS: no CBC (a padding oracle) or anything else beyond GCM and ECB.
      expect(() =>
        raw.p11.C_EncryptInit(
          raw.session,
          { mechanism: pkcs11js.CKM_AES_CBC, parameter: Buffer.alloc(16) },
          key,
        ),
      ).toThrowError('CKR_MECHANISM_INVALID');
    } finally {
      raw.close();
    }
  });

  it('zeroize destroys the key object; E_VAULT_ZEROIZED everywhere; a fresh process sees it zeroized', async () => {
    const { seal, ref } = await init();
    const aad = enc('a');
    const sealed = await seal.encrypt(enc('x'), aad);
    await seal.zeroize();
    expect(seal.state()).toBe('zeroized');
    expect((await failure(() => seal.encrypt(enc('x'), aad))).code).toBe('E_VAULT_ZEROIZED');
    expect((await failure(() => seal.decrypt(sealed, aad, ref))).code).toBe('E_VAULT_ZEROIZED');
    expect((await failure(() => seal.unseal({ pin: token.pin }))).code).toBe('E_VAULT_ZEROIZED');

    const raw = rawToken(token, { login: true }); // with the PIN, the object is simply gone
    try {
      expect(raw.masterKey()).toBeUndefined();
    } finally {
      raw.close();
    }
    await seal.zeroize(); // idempotent
    await seal.close();
    expect((await open()).state()).toBe('zeroized');
  });

  it('zeroize of a sealed seal needs the PIN', async () => {
    const { seal } = await init();
    await seal.seal();
    expect((await failure(() => seal.zeroize())).code).toBe('E_VAULT_SEALED');
    expect(seal.state()).toBe('sealed');
    expect((await failure(() => seal.zeroize({ pin: 'nope' }))).code).toBe('E_PIN_INCORRECT');
    expect(seal.state()).toBe('sealed');
    await seal.zeroize({ pin: token.pin });
    expect(seal.state()).toBe('zeroized');
  });

  it('restore with the same components brings back the same key: same KCV, old cryptograms open', async () => {
    const { seal, ref, kcv } = await init();
    const aad = enc('wallet=w1');
    const sealed = await seal.encrypt(enc('seed before zeroize'), aad);
    await seal.zeroize();

    // A different component set is refused before anything is imported, and nothing changes.
    const wrong = [components[0]!, generateKeyComponent(), components[2]!];
    const e = await failure(() => seal.restore({ pin: token.pin, components: wrong }));
    expect(e.code).toBe('E_KEY_MATERIAL_INVALID');
    expect(e.details).toMatchObject({ expectedKcv: kcv });
    expect(e.details.actualKcv).not.toBe(kcv);
    expect(seal.state()).toBe('zeroized');
    const raw = rawToken(token, { login: true });
    try {
      expect(raw.masterKey()).toBeUndefined();
    } finally {
      raw.close();
    }
    // Components are checked before the token is asked for anything, PIN included.
    expect((await failure(() => seal.restore({ pin: 'nope', components: wrong }))).code).toBe(
      'E_KEY_MATERIAL_INVALID',
    );
    expect((await failure(() => seal.restore({ pin: 'nope', components }))).code).toBe('E_PIN_INCORRECT');
    expect(seal.state()).toBe('zeroized');

    // The components in another order are the same key (XOR commutes).
    const restored = await seal.restore({ pin: token.pin, components: [...components].reverse() });
    expect(restored.kcv).toBe(kcv);
    expect(restored.ref).toEqual(ref);
    expect(seal.state()).toBe('unsealed');
    expect(new TextDecoder().decode(await seal.decrypt(sealed, aad, ref))).toBe('seed before zeroize');
    expect((await failure(() => seal.restore({ pin: token.pin, components }))).code).toBe('E_CONFLICT');

    // And a later process unseals it normally.
    await seal.close();
    const other = await open();
    await other.unseal({ pin: token.pin });
    expect(new TextDecoder().decode(await other.decrypt(sealed, aad, ref))).toBe('seed before zeroize');
  });

  it('rotate adds a version; old cryptograms open until the old key is retired', async () => {
    const { seal, ref: v1 } = await init();
    const aad = enc('a');
    const old = await seal.encrypt(enc('old'), aad);
    const next = [generateKeyComponent(), generateKeyComponent()];
    const rotated = await seal.rotate({ components: next });
    expect(rotated.ref).toEqual({ id: v1.id, version: 2 });
    expect(rotated.kcv).toBe(keyCheckValue(combineKeyComponents(next)));
    expect(seal.current()).toEqual(rotated.ref);
    const fresh = await seal.encrypt(enc('new'), aad);
    expect((await failure(() => seal.decrypt(fresh, aad, v1))).code).toBe('E_CRYPTOGRAM_INVALID');
    expect(new TextDecoder().decode(await seal.decrypt(old, aad, v1))).toBe('old');
    expect(new TextDecoder().decode(await seal.decrypt(fresh, aad, rotated.ref))).toBe('new');

    expect((await failure(() => seal.retire(rotated.ref))).code).toBe('E_CONFLICT');
    await seal.retire(v1);
    expect((await failure(() => seal.decrypt(old, aad, v1))).code).toBe('E_CRYPTOGRAM_INVALID');
    const raw = rawToken(token);
    try {
      expect(raw.masterKey(1)).toBeUndefined();
      expect(raw.masterKey(2)).toBeDefined();
    } finally {
      raw.close();
    }

    // A process started later unseals with version 2 only, and zeroize/restore concerns version 2 only.
    await seal.zeroize();
    const back = await seal.restore({ pin: token.pin, components: next });
    expect(back.ref.version).toBe(2);
    expect(new TextDecoder().decode(await seal.decrypt(fresh, aad, rotated.ref))).toBe('new');
  });

  it('after a rotation, zeroize takes every live version and restore brings them back one by one', async () => {
    const { seal, ref: v1 } = await init();
    const aad = enc('a');
    const old = await seal.encrypt(enc('old'), aad);
    const next = [generateKeyComponent(), generateKeyComponent()];
    const { ref: v2 } = await seal.rotate({ components: next });
    const fresh = await seal.encrypt(enc('new'), aad);
    await seal.zeroize();
    expect(seal.status().keys).toEqual([
      expect.objectContaining({ version: 1, state: 'destroyed' }),
      expect.objectContaining({ version: 2, state: 'destroyed' }),
    ]);

    await seal.restore({ pin: token.pin, components: next }); // current version first
    expect(seal.state()).toBe('zeroized'); // version 1 is still missing
    expect((await failure(() => seal.decrypt(fresh, aad, v2))).code).toBe('E_VAULT_ZEROIZED');
    const wrongVersion = await failure(() => seal.restore({ pin: token.pin, components: next, version: 1 }));
    expect(wrongVersion.code).toBe('E_KEY_MATERIAL_INVALID');
    await seal.restore({ pin: token.pin, components, version: 1 });
    expect(seal.state()).toBe('unsealed');
    expect(new TextDecoder().decode(await seal.decrypt(old, aad, v1))).toBe('old');
    expect(new TextDecoder().decode(await seal.decrypt(fresh, aad, v2))).toBe('new');
  });

  it('validates inputs and names the bad parameter', async () => {
    expect(
      (
        await failure(() =>
          Pkcs11Seal.initialize({ tenant: 'a:b', config: token.config, pin: token.pin, components }),
        )
      ).details,
    ).toEqual({ parameter: 'tenant' });
    expect(
      (
        await failure(() =>
          Pkcs11Seal.initialize({
            tenant: TENANT,
            config: token.config,
            pin: token.pin,
            components: [components[0]!],
          }),
        )
      ).code,
    ).toBe('E_KEY_MATERIAL_INVALID');
    const bad = await failure(() =>
      Pkcs11Seal.open({ tenant: TENANT, config: { ...token.config, tokenLabel: 'absent' } }),
    );
    expect(bad.code).toBe('E_HSM');
    expect((await open()).state()).toBe('uninitialized'); // nothing was created by the refused ceremonies
    const { seal } = await init();
    expect((await failure(() => seal.encrypt('x' as unknown as Uint8Array, enc('a')))).details).toEqual({
      parameter: 'plaintext',
    });
    expect(JSON.stringify(seal)).toBe(
      JSON.stringify({ mechanism: 'pkcs11', tenant: TENANT, state: 'unsealed' }),
    );
  });

  it('one logged-in seal per token: a second tenant waits, and looking does not log the first one out', async () => {
    const { seal, ref } = await init();
    const other = await Pkcs11Seal.open({ tenant: 'globex', config: token.config });
    opened.push(other);
    expect(other.state()).toBe('uninitialized');
    const sealed = await seal.encrypt(enc('x'), enc('a')); // still logged in after the other seal's look
    const busy = await failure(() =>
      Pkcs11Seal.initialize({ tenant: 'globex', config: token.config, pin: token.pin, components }),
    );
    expect(busy.code).toBe('E_CONFLICT');
    expect(new TextDecoder().decode(await seal.decrypt(sealed, enc('a'), ref))).toBe('x');
    await seal.seal();
    const second = await Pkcs11Seal.initialize({
      tenant: 'globex',
      config: token.config,
      pin: token.pin,
      components: [generateKeyComponent(), generateKeyComponent()],
    });
    opened.push(second.seal);
    expect(second.ref.id).not.toBe(ref.id);
  });

  it('initialize with a wrong PIN leaves the token untouched', async () => {
    const e = await failure(() =>
      Pkcs11Seal.initialize({ tenant: TENANT, config: token.config, pin: 'wrong', components }),
    );
    expect(e.code).toBe('E_PIN_INCORRECT');
    expect((await open()).state()).toBe('uninitialized');
  });
});
