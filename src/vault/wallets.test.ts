import { randomBytes } from 'node:crypto';
import { createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import * as bip39 from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StrongroomError } from '../domain/errors.ts';
import { masterFromSeed } from './hd.ts';
import {
  fingerprintOfSecret,
  generateWalletSecret,
  masterOfSecret,
  newWalletSecretSync,
  publicInfoOfSecret,
  secretFromMnemonic,
  secretFromXprv,
} from './wallets.ts';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const enc = (s: string) => new TextEncoder().encode(s);
const b58 = createBase58check(sha256);

/** Re-encodes an xpub with other version bytes (e.g. zpub for BIP84 vectors). */
function withVersion(xpub: string, version: number): string {
  const raw = b58.decode(xpub);
  const out = Uint8Array.from(raw);
  new DataView(out.buffer).setUint32(0, version, false);
  return b58.encode(out);
}

describe('wallet secrets', () => {
  it('BIP84 and BIP86 test vectors pass through mnemonic import', async () => {
    const secret = await secretFromMnemonic(enc(MNEMONIC), new Uint8Array(0));
    const info = publicInfoOfSecret(secret, 'mainnet');
    expect(info.fingerprint).toBe('73c5da0a');
    // BIP84 "Test vectors": account 0 zpub.
    expect(withVersion(info.xpubs.bip84, 0x04b24746)).toBe(
      'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs',
    );
    // BIP86 "Test vectors": account 0 xpub.
    expect(info.xpubs.bip86).toBe(
      'xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ',
    );
    expect(fingerprintOfSecret(secret)).toBe('73c5da0a');
  });

  it('the bytes-only BIP39 path equals @scure/bip39 for random mnemonics and passphrases', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(128, 160, 192, 224, 256), fc.string({ maxLength: 12 }), async (strength, pass) => {
        const ascii = pass.replace(/[^\x20-\x7e]/g, 'a');
        const m = bip39.generateMnemonic(wordlist, strength);
        const secret = await secretFromMnemonic(enc(m), enc(ascii));
        expect(Buffer.from(secret.subarray(2)).toString('hex')).toBe(Buffer.from(bip39.mnemonicToSeedSync(m, ascii)).toString('hex'));
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a bad checksum, an unknown word or a wrong length without echoing words', async () => {
    for (const bad of [MNEMONIC.replace(/about$/, 'abandon'), MNEMONIC.replace('abandon', 'abandonx'), 'abandon about', 'abändon']) {
      const e = await secretFromMnemonic(enc(bad), new Uint8Array(0)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StrongroomError);
      expect((e as StrongroomError).code).toBe('E_KEY_MATERIAL_INVALID');
      expect((e as StrongroomError).message).not.toMatch(/abandon|about/);
    }
  });

  it('the libsecp256k1 fingerprint equals @scure/bip32 for generated secrets and xprv imports', async () => {
    for (let i = 0; i < 5; i++) {
      const secret = await generateWalletSecret();
      expect(fingerprintOfSecret(secret)).toBe(publicInfoOfSecret(secret, 'mainnet').fingerprint);
      const xprv = masterFromSeed(randomBytes(32)).privateExtendedKey;
      const fromX = secretFromXprv(xprv);
      expect(fingerprintOfSecret(fromX)).toBe(publicInfoOfSecret(fromX, 'mainnet').fingerprint);
    }
  });

  it('the native public info (libsecp256k1) equals a pure @scure/bip32 derivation, on mainnet and testnet', async () => {
    const secrets = [
      await generateWalletSecret(),
      await generateWalletSecret('bip39'),
      newWalletSecretSync('bip39'),
      secretFromXprv(masterFromSeed(randomBytes(64)).privateExtendedKey),
    ];
    for (const secret of secrets) {
      for (const [network, coin] of [['mainnet', 0], ['testnet', 1]] as const) {
        const info = publicInfoOfSecret(secret, network);
        const ref = masterOfSecret(secret, network);
        expect(info.fingerprint).toBe(ref.fingerprint.toString(16).padStart(8, '0'));
        expect(info.xpubs.bip84).toBe(ref.derive(`m/84'/${coin}'/0'`).publicExtendedKey);
        expect(info.xpubs.bip86).toBe(ref.derive(`m/86'/${coin}'/0'`).publicExtendedKey);
        // EVM xpubs always carry mainnet version bytes.
        expect(info.xpubs.bip44eth).toBe(masterOfSecret(secret, 'mainnet').derive("m/44'/60'/0'").publicExtendedKey);
      }
    }
  });

  it('generates fresh seeds: 256 bits from the CSPRNG by default, or a BIP39 PBKDF2 seed (512 bits)', async () => {
    for (const [secret, bytes] of [
      [await generateWalletSecret(), 32],
      [newWalletSecretSync('csprng'), 32],
      [await generateWalletSecret('bip39'), 64],
      [newWalletSecretSync('bip39'), 64],
    ] as const) {
      expect([secret.length, secret[0], secret[1]]).toEqual([2 + bytes, 1, bytes]);
    }
    expect(Buffer.from(newWalletSecretSync('csprng')).equals(Buffer.from(newWalletSecretSync('csprng')))).toBe(false);
    await expect(generateWalletSecret('dice' as never)).rejects.toMatchObject({ code: 'E_VALIDATION' });
  });

  it('BIP32 test vector 1: an imported master xprv gives the vector fingerprint', () => {
    const xprv = 'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi';
    expect(fingerprintOfSecret(secretFromXprv(xprv))).toBe('3442193e');
  });
});
