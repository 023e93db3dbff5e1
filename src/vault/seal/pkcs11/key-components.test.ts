import { describe, expect, it } from 'vitest';
import { combineKeyComponents, generateKeyComponent, keyCheckValue } from './key-components.ts';

const filled = (b: number) => new Uint8Array(32).fill(b);

describe('key components', () => {
  it('KCV is the first 3 bytes of AES-256-ECB of a zero block (known answer: zero key → DC95C0)', () => {
    // FIPS-197 / NIST AESAVS: AES-256 with an all-zero key encrypts the zero block to dc95c078a2408989...
    expect(keyCheckValue(new Uint8Array(32))).toBe('DC95C0');
  });

  it('combines by XOR', () => {
    const key = combineKeyComponents([filled(0x11), filled(0x22), filled(0x44)]);
    expect([...key]).toEqual(new Array(32).fill(0x77));
  });

  it('generates distinct 32-byte components', () => {
    const a = generateKeyComponent();
    const b = generateKeyComponent();
    expect(a).toHaveLength(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it.each([
    ['one component', [filled(1)]],
    ['a short component', [filled(1), new Uint8Array(31)]],
    ['a zero component', [filled(1), filled(0)]],
    ['duplicate components (they cancel out)', [filled(1), filled(2), filled(1)]],
    ['components that combine to zero', [filled(0x0f), filled(0xf0), filled(0xff)]],
    ['not bytes', [filled(1), 'x' as unknown as Uint8Array]],
  ])('refuses %s with E_KEY_MATERIAL_INVALID', (_name, components) => {
    expect(() => combineKeyComponents(components)).toThrowError(
      expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }),
    );
  });
});
