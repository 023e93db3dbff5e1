import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { p2wpkh, Transaction } from '@scure/btc-signer';
import { accountXpubs, derivePublicKey, masterFromSeed, seedFromMnemonic } from '../hd.ts';
import { deriveP2trAddress, deriveP2wpkhAddress, parseBitcoinAddress } from '../../chains/bitcoin/address.ts';
import { buildPsbt, RBF_SEQUENCE, type WalletUtxo } from '../../chains/bitcoin/psbt.ts';
import { signBitcoinPsbt } from './bitcoin-signer.ts';
import type { BitcoinTransferIntent } from './intent.ts';

const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const NET = 'regtest' as const;
const seed = seedFromMnemonic(MNEMONIC);
const master = masterFromSeed(seed, NET);
seed.fill(0);
const xpubs = accountXpubs(master, NET);
const other = masterFromSeed(new Uint8Array(32).fill(9), NET); // a foreign wallet
const DEST = deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 0, 0).address;

function utxo(kind: 'p2wpkh' | 'p2tr', index: number, amount: bigint, txidByte: number): WalletUtxo {
  const d =
    kind === 'p2wpkh'
      ? deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 0, index)
      : deriveP2trAddress(xpubs.bip86.xpub, NET, 0, index);
  const purpose = kind === 'p2wpkh' ? 84 : 86;
  return {
    txid: bytesToHex(new Uint8Array(32).fill(txidByte)),
    vout: index,
    amount,
    script: d.script,
    kind,
    publicKey: d.publicKey,
    path: `m/${purpose}'/1'/0'/0/${index}`,
  };
}

function ourChange(kind: 'p2wpkh' | 'p2tr' = 'p2wpkh') {
  const d =
    kind === 'p2wpkh'
      ? deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 1, 3)
      : deriveP2trAddress(xpubs.bip86.xpub, NET, 1, 3);
  return {
    kind,
    publicKey: d.publicKey,
    script: d.script,
    path: `m/${kind === 'p2wpkh' ? 84 : 86}'/1'/0'/1/3`,
  };
}

const UTXOS = [utxo('p2wpkh', 0, 60_000n, 1), utxo('p2tr', 1, 50_000n, 2), utxo('p2wpkh', 2, 5_000n, 3)];

function build(changeDest = ourChange(), amount = 90_000n) {
  return buildPsbt({
    network: NET,
    utxos: UTXOS,
    outputs: [{ address: DEST, amount }],
    change: changeDest,
    masterFingerprint: xpubs.masterFingerprint,
    feeRate: 10,
    tipHeight: 800,
    strategy: 'largest-first',
  });
}

const INTENT: BitcoinTransferIntent = {
  chain: 'bitcoin',
  network: NET,
  asset: 'BTC',
  destination: DEST,
  amount: 90_000n,
  feeCap: 5_000n,
  changePolicy: 'same-wallet',
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
    return 'signed';
  } catch (e) {
    expect(e).toMatchObject({ code: 'E_EVIDENCE_INVALID' });
    return (e as { details: { field: string } }).details.field;
  }
}

describe('buildPsbt', () => {
  it('builds an RBF PSBT at the tip height with derivation info and change', () => {
    const b = build();
    expect(b.selected.map((u) => u.vout)).toEqual([0, 1]);
    expect(b.summary.lockTime).toBe(800);
    expect(b.summary.rbf).toBe(true);
    expect(b.summary.inputs.every((i) => i.sequence === RBF_SEQUENCE)).toBe(true);
    expect(b.summary.inputs.every((i) => i.origins[0]?.fingerprint === xpubs.masterFingerprint)).toBe(true);
    expect(b.summary.outputs).toHaveLength(2);
    expect(b.summary.outputs[0]).toMatchObject({ address: DEST, amount: 90_000n });
    expect(b.summary.fee).toBe(b.fee);
    expect(b.summary.totalIn - b.summary.totalOut).toBe(b.fee);
    // fee rate respected on the estimated size
    expect(Number(b.fee) / b.summary.vsize).toBeGreaterThanOrEqual(10);
    expect(b.summary.text).toContain('0.0009 BTC to ' + DEST);
  });

  it('refuses dust outputs and insufficient funds', () => {
    expect(() => build(ourChange(), 200n)).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => build(ourChange(), 10_000_000n)).toThrow(expect.objectContaining({ code: 'E_INSUFFICIENT_FUNDS' }));
  });
});

describe('signBitcoinPsbt', () => {
  it('signs P2WPKH (BIP143) and P2TR key-path (BIP341) inputs; signatures verify against recomputed sighashes', () => {
    const b = build();
    const signed = signBitcoinPsbt({ master, psbt: b.psbt, intent: INTENT });
    const tx = Transaction.fromRaw(signed.rawTx);
    expect(tx.id).toBe(signed.txid);
    expect(tx.lockTime).toBe(800);
    const prevScripts = b.selected.map((u) => u.script as Uint8Array);
    const amounts = b.selected.map((u) => u.amount);
    b.selected.forEach((u, i) => {
      const witness = tx.getInput(i).finalScriptWitness!;
      if (u.kind === 'p2wpkh') {
        const scriptCode = p2wpkh(u.publicKey).script; // BIP143 uses the P2PKH form of the key hash
        const code = new Uint8Array([0x76, 0xa9, 0x14, ...scriptCode.subarray(2), 0x88, 0xac]);
        const sighash = tx.preimageWitnessV0(i, code, 1, u.amount);
        const der = witness[0]!.subarray(0, -1);
        expect(witness[0]!.at(-1)).toBe(1);
        const sig = secp256k1.Signature.fromBytes(der, 'der');
        expect(sig.s <= secp256k1.Point.CURVE().n / 2n).toBe(true); // low-S
        expect(secp256k1.verify(sig.toBytes('compact'), sighash, witness[1]!, { prehash: false })).toBe(true);
      } else {
        const sighash = tx.preimageWitnessV1(i, prevScripts, 0, amounts);
        expect(witness[0]!.length).toBe(64); // SIGHASH_DEFAULT: no sighash byte
        expect(schnorr.verify(witness[0]!, sighash, (u.script as Uint8Array).subarray(2))).toBe(true);
      }
    });
    expect(signed.summary.fee).toBe(b.fee);
  });

  it('is deterministic: the same payload signs to the same bytes', () => {
    const b = build();
    const a1 = signBitcoinPsbt({ master, psbt: b.psbt, intent: INTENT });
    const a2 = signBitcoinPsbt({ master, psbt: b.psbt, intent: INTENT });
    // ECDSA is RFC 6979; BIP340 aux randomness differs, so compare txids (witness excluded).
    expect(a1.txid).toBe(a2.txid);
  });

  describe('refuses a payload that differs from the intent, naming the field, signing nothing', () => {
    const b = build();
    const before = bytesToHex(b.psbt);
    const cases: [string, Partial<BitcoinTransferIntent> | (() => Uint8Array), string][] = [
      [
        'destination',
        { destination: deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 0, 1).address },
        'destination',
      ],
      ['amount', { amount: 90_001n }, 'amount'],
      ['asset', { asset: 'ETH' as 'BTC' }, 'asset'],
      ['chain', { chain: 'ethereum' as 'bitcoin' }, 'chain'],
      ['fee over cap', { feeCap: b.fee - 1n }, 'fee'],
      ['change when none allowed', { changePolicy: 'none' }, 'change'],
      ['network', { network: 'testnet' }, 'destination'],
    ];
    for (const [name, change, field] of cases) {
      it(name, () => {
        expect(
          fieldOf(() => signBitcoinPsbt({ master, psbt: b.psbt, intent: { ...INTENT, ...change } })),
        ).toBe(field);
        expect(bytesToHex(b.psbt)).toBe(before);
      });
    }

    it('change to a foreign address (no origin)', () => {
      const foreign = deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 1, 0);
      const evil = build({
        kind: 'p2wpkh',
        publicKey: foreign.publicKey,
        script: foreign.script,
        path: "m/84'/1'/0'/1/0",
      });
      expect(fieldOf(() => signBitcoinPsbt({ master, psbt: evil.psbt, intent: INTENT }))).toBe('change');
    });

    it('change to a foreign key claiming our fingerprint and path', () => {
      const foreign = deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 1, 3);
      const evil = build({
        kind: 'p2wpkh',
        publicKey: foreign.publicKey,
        script: foreign.script,
        path: "m/84'/1'/0'/1/3",
      });
      expect(fieldOf(() => signBitcoinPsbt({ master, psbt: evil.psbt, intent: INTENT }))).toBe('change');
    });

    it('change to our receive chain (not an internal address)', () => {
      const d = deriveP2wpkhAddress(xpubs.bip84.xpub, NET, 0, 9);
      const evil = build({
        kind: 'p2wpkh',
        publicKey: d.publicKey,
        script: d.script,
        path: "m/84'/1'/0'/0/9",
      });
      expect(fieldOf(() => signBitcoinPsbt({ master, psbt: evil.psbt, intent: INTENT }))).toBe('change');
    });

    it('an input that is not ours', () => {
      const foreign = deriveP2wpkhAddress(accountXpubs(other, NET).bip84.xpub, NET, 0, 5);
      const evil = buildPsbt({
        network: NET,
        utxos: [{ ...UTXOS[0]!, amount: 200_000n, script: foreign.script, publicKey: foreign.publicKey }],
        outputs: [{ address: DEST, amount: 90_000n }],
        change: ourChange(),
        masterFingerprint: xpubs.masterFingerprint,
        feeRate: 10,
        tipHeight: 800,
      });
      expect(fieldOf(() => signBitcoinPsbt({ master, psbt: evil.psbt, intent: INTENT }))).toBe('inputs');
    });

    it('garbage payload', () => {
      expect(
        fieldOf(() => signBitcoinPsbt({ master, psbt: hexToBytes('70736274ff00'), intent: INTENT })),
      ).toBe('payload');
    });
  });

  it('P2TR change is accepted when it is ours', () => {
    const b = build(ourChange('p2tr'));
    expect(
      signBitcoinPsbt({ master, psbt: b.psbt, intent: INTENT }).summary.outputs[1]!.script.startsWith('5120'),
    ).toBe(true);
    expect(parseBitcoinAddress(DEST, NET).type).toBe('p2wpkh');
    expect(bytesToHex(derivePublicKey(master, "m/86'/1'/0'/1/3"))).toBe(
      bytesToHex(ourChange('p2tr').publicKey),
    );
  });
});
