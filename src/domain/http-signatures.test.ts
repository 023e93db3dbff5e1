import { describe, it, expect } from 'vitest';
import { createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import {
  buildSignatureBase,
  contentDigest,
  serializeSignatureParams,
  signRequest,
  verifySignedRequest,
  type HeaderRecord,
  type ResolvedKey,
  type SignedRequestInput,
  type VerifyOptions,
} from './http-signatures.ts';
import { KEY_ALGORITHMS, parsePublicKey, verifySignature, type KeyAlgorithm } from './keys.ts';
import { StrongroomError, type ErrorCode } from './errors.ts';
import { generateRequestSigner, type RequestSigner } from '../sdk/signer.ts';

const NOW = 1_700_000_000;
const NONCE = 'bm9uY2Utbm9uY2UtMTIz';
const TARGET = 'https://vault.example.com/v1/requests?wallet=w_1';
const BODY = '{"type":"transfer","amount":"150000000"}';

const signers = Object.fromEntries(KEY_ALGORITHMS.map((alg) => [alg, generateRequestSigner(alg)])) as Record<
  KeyAlgorithm,
  RequestSigner
>;

function resolverFor(...known: RequestSigner[]): VerifyOptions['resolveKey'] {
  const keys = new Map<string, ResolvedKey>(
    known.map((s) => [s.keyId, { alg: s.alg, key: parsePublicKey(s.alg, s.publicKeySpki) }]),
  );
  return (keyId) => keys.get(keyId);
}

async function signed(
  signer: RequestSigner,
  over: Partial<SignedRequestInput> = {},
): Promise<SignedRequestInput> {
  const headers = await signRequest({
    method: 'POST',
    targetUri: TARGET,
    body: BODY,
    signer,
    created: NOW,
    nonce: NONCE,
  });
  return { method: 'POST', targetUri: TARGET, body: BODY, headers: { ...headers }, ...over };
}

async function rejection(
  req: SignedRequestInput,
  opts: Partial<VerifyOptions> = {},
): Promise<StrongroomError> {
  try {
    await verifySignedRequest(req, { resolveKey: resolverFor(...Object.values(signers)), now: NOW, ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return e as StrongroomError;
  }
  throw new Error('expected the request to be rejected');
}

async function expectCode(req: SignedRequestInput, code: ErrorCode, opts: Partial<VerifyOptions> = {}) {
  const e = await rejection(req, opts);
  expect(e.code).toBe(code);
  return e;
}

describe('contentDigest', () => {
  it('is RFC 9530 sha-256 over the raw bytes; the empty body digests the empty string', () => {
    expect(contentDigest('')).toBe('sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:');
    // RFC 9530 §2 example body.
    expect(contentDigest('{"hello": "world"}')).toBe(
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    );
    expect(contentDigest(new TextEncoder().encode('{"hello": "world"}'))).toBe(
      contentDigest('{"hello": "world"}'),
    );
  });
});

describe('signature base (RFC 9421 §2.5)', () => {
  it('has one line per covered component, then @signature-params, and no trailing newline', () => {
    const params = serializeSignatureParams({ created: NOW, nonce: NONCE, keyId: 'k_abc', alg: 'ed25519' });
    expect(params).toBe(
      `("@method" "@target-uri" "content-digest");created=1700000000;nonce="${NONCE}";keyid="k_abc";alg="ed25519"`,
    );
    const base = buildSignatureBase({
      method: 'POST',
      targetUri: TARGET,
      contentDigest: contentDigest(BODY),
      signatureParams: params,
    });
    expect(base.split('\n')).toStrictEqual([
      '"@method": POST',
      `"@target-uri": ${TARGET}`,
      `"content-digest": ${contentDigest(BODY)}`,
      `"@signature-params": ${params}`,
    ]);
    expect(base.endsWith('\n')).toBe(false);
  });

  it('signRequest signs exactly that base and emits matching headers', async () => {
    const headers = await signRequest({
      method: 'post',
      targetUri: TARGET,
      body: BODY,
      signer: signers.ed25519,
      created: NOW,
      nonce: NONCE,
    });
    const params = serializeSignatureParams({
      created: NOW,
      nonce: NONCE,
      keyId: signers.ed25519.keyId,
      alg: 'ed25519',
    });
    expect(headers['signature-input']).toBe(`sig1=${params}`);
    expect(headers['content-digest']).toBe(contentDigest(BODY));
    const m = /^sig1=:(.+):$/.exec(headers.signature);
    const base = buildSignatureBase({
      method: 'POST',
      targetUri: TARGET,
      contentDigest: contentDigest(BODY),
      signatureParams: params,
    });
    const key = parsePublicKey('ed25519', signers.ed25519.publicKeySpki);
    expect(verifySignature('ed25519', key, Buffer.from(base), Buffer.from(m![1]!, 'base64'))).toBe(true);
  });

  it('refuses component values that would break the base into extra lines', () => {
    const p = { method: 'POST', targetUri: TARGET, contentDigest: contentDigest(''), signatureParams: '()' };
    expect(() => buildSignatureBase({ ...p, targetUri: `${TARGET}\n"@method": GET` })).toThrowError(
      StrongroomError,
    );
    expect(() => buildSignatureBase({ ...p, method: 'PO ST' })).toThrowError(StrongroomError);
  });
});

describe('RFC 9421 Appendix B known answers (our primitives on the RFC keys)', () => {
  it('B.2.6 ed25519: node:crypto reproduces the RFC signature byte for byte, and we verify it', () => {
    const jwk = {
      kty: 'OKP',
      crv: 'Ed25519',
      x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
      d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
    };
    const base = [
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@method": POST',
      '"@path": /foo',
      '"@authority": example.com',
      '"content-type": application/json',
      '"content-length": 18',
      '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    ].join('\n');
    const expected =
      'wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==';
    const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    expect(cryptoSign(null, Buffer.from(base), privateKey).toString('base64')).toBe(expected);
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
    const key = parsePublicKey('ed25519', spki);
    expect(verifySignature('ed25519', key, Buffer.from(base), Buffer.from(expected, 'base64'))).toBe(true);
    expect(verifySignature('ed25519', key, Buffer.from(base + ' '), Buffer.from(expected, 'base64'))).toBe(
      false,
    );
  });

  it('B.2.4 ecdsa-p256-sha256: the RFC r||s signature verifies', () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      x: 'qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA',
      y: 'Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0',
    };
    const base = [
      '"@status": 200',
      '"content-type": application/json',
      '"content-digest": sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
      '"content-length": 23',
      '"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
    ].join('\n');
    const signature = Buffer.from(
      'wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw==',
      'base64',
    );
    const spki = createPublicKey({ key: jwk, format: 'jwk' })
      .export({ format: 'der', type: 'spki' })
      .toString('base64');
    const key = parsePublicKey('ecdsa-p256-sha256', spki);
    expect(verifySignature('ecdsa-p256-sha256', key, Buffer.from(base), signature)).toBe(true);
    expect(
      verifySignature('ecdsa-p256-sha256', key, Buffer.from(base.replace('200', '201')), signature),
    ).toBe(false);
  });
});

describe('verifySignedRequest: round trip', () => {
  it.each(KEY_ALGORITHMS)('%s', async (alg) => {
    const result = await verifySignedRequest(await signed(signers[alg]), {
      resolveKey: resolverFor(signers[alg]),
      now: NOW,
    });
    expect(result).toStrictEqual({ keyId: signers[alg].keyId, alg, created: NOW, nonce: NONCE });
  });

  it('accepts a body given as bytes, an empty body on GET, and array-valued single headers', async () => {
    const s = signers.ed25519;
    const req = await signed(s);
    await verifySignedRequest(
      { ...req, body: new TextEncoder().encode(BODY) },
      { resolveKey: resolverFor(s), now: NOW },
    );
    const get = await signRequest({
      method: 'GET',
      targetUri: TARGET,
      signer: s,
      created: NOW,
      nonce: NONCE,
    });
    await verifySignedRequest(
      { method: 'GET', targetUri: TARGET, body: '', headers: get },
      { resolveKey: resolverFor(s), now: NOW },
    );
    const arrays: HeaderRecord = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, [v as string]]),
    );
    await verifySignedRequest({ ...req, headers: arrays }, { resolveKey: resolverFor(s), now: NOW });
  });

  it('defaults created to now and the nonce to 16 random bytes', async () => {
    const s = signers.ed25519;
    const before = Math.floor(Date.now() / 1000);
    const a = await signRequest({ method: 'POST', targetUri: TARGET, body: BODY, signer: s });
    const b = await signRequest({ method: 'POST', targetUri: TARGET, body: BODY, signer: s });
    const ra = await verifySignedRequest(
      { method: 'POST', targetUri: TARGET, body: BODY, headers: a },
      { resolveKey: resolverFor(s), now: before },
    );
    const rb = await verifySignedRequest(
      { method: 'POST', targetUri: TARGET, body: BODY, headers: b },
      { resolveKey: resolverFor(s), now: before },
    );
    expect(ra.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(ra.nonce).not.toBe(rb.nonce);
    expect(ra.created - before).toBeLessThanOrEqual(5);
  });
});

describe('verifySignedRequest: refusals', () => {
  const s = signers.ed25519;

  it('E_SIGNATURE_MISSING when any of the three headers is absent', async () => {
    const req = await signed(s);
    for (const name of ['signature', 'signature-input', 'content-digest']) {
      const headers = { ...req.headers, [name]: undefined };
      const e = await expectCode({ ...req, headers }, 'E_SIGNATURE_MISSING');
      expect(e.details.header).toBe(name);
    }
    await expectCode({ ...req, headers: {} }, 'E_SIGNATURE_MISSING');
  });

  it('E_SIGNATURE_INVALID for a tampered method', async () => {
    await expectCode(await signed(s, { method: 'PUT' }), 'E_SIGNATURE_INVALID');
  });

  it.each([
    ['path', 'https://vault.example.com/v1/requests/other?wallet=w_1'],
    ['query', 'https://vault.example.com/v1/requests?wallet=w_2'],
    ['host', 'https://evil.example.com/v1/requests?wallet=w_1'],
    ['scheme', 'http://vault.example.com/v1/requests?wallet=w_1'],
  ])('E_SIGNATURE_INVALID for a tampered target URI (%s)', async (_what, targetUri) => {
    await expectCode(await signed(s, { targetUri }), 'E_SIGNATURE_INVALID');
  });

  it('E_DIGEST_MISMATCH for a tampered body (checked before the key is even looked up)', async () => {
    let lookedUp = false;
    const e = await expectCode(
      await signed(s, { body: BODY.replace('150000000', '950000000') }),
      'E_DIGEST_MISMATCH',
      {
        resolveKey: () => {
          lookedUp = true;
          return undefined;
        },
      },
    );
    expect(e.message).toContain('content-digest');
    expect(lookedUp).toBe(false);
  });

  it('E_SIGNATURE_INVALID when body and digest are both swapped (the digest is signed)', async () => {
    const req = await signed(s);
    const body = '{"type":"transfer","amount":"950000000"}';
    await expectCode(
      { ...req, body, headers: { ...req.headers, 'content-digest': contentDigest(body) } },
      'E_SIGNATURE_INVALID',
    );
  });

  it('E_SIGNATURE_EXPIRED / E_SIGNATURE_FUTURE outside the 60 s window, accepted at its edges', async () => {
    const req = await signed(s);
    const ok = { resolveKey: resolverFor(s) };
    await verifySignedRequest(req, { ...ok, now: NOW + 60 });
    await verifySignedRequest(req, { ...ok, now: NOW - 60 });
    await expectCode(req, 'E_SIGNATURE_EXPIRED', { now: NOW + 61 });
    await expectCode(req, 'E_SIGNATURE_FUTURE', { now: NOW - 61 });
    await expectCode(req, 'E_SIGNATURE_EXPIRED', { now: NOW + 11, maxSkewSeconds: 10 });
  });

  it('E_KEY_UNKNOWN when the key is not registered; resolver errors propagate', async () => {
    const e = await expectCode(await signed(s), 'E_KEY_UNKNOWN', { resolveKey: async () => undefined });
    expect(e.details.keyId).toBe(s.keyId);
    const revoked = new StrongroomError('E_KEY_REVOKED', 'revoked');
    await expect(
      verifySignedRequest(await signed(s), { now: NOW, resolveKey: () => Promise.reject(revoked) }),
    ).rejects.toBe(revoked);
  });

  it('E_SIGNATURE_INVALID when the signature says another alg than the registered key', async () => {
    const req = await signed(s);
    const key = parsePublicKey('ed25519', s.publicKeySpki);
    const e = await expectCode(req, 'E_SIGNATURE_INVALID', {
      resolveKey: () => ({ alg: 'ecdsa-p256-sha256', key }),
    });
    expect(e.details.parameter).toBe('alg');
  });

  it('E_SIGNATURE_INVALID when the signature was made by another key under this key id', async () => {
    const other = signers['ecdsa-p256-sha256'];
    const mallory = { keyId: other.keyId, alg: other.alg, sign: generateRequestSigner(other.alg).sign };
    const headers = await signRequest({
      method: 'POST',
      targetUri: TARGET,
      body: BODY,
      signer: mallory,
      created: NOW,
      nonce: NONCE,
    });
    await expectCode({ method: 'POST', targetUri: TARGET, body: BODY, headers }, 'E_SIGNATURE_INVALID');
  });

  it('E_SIGNATURE_INVALID when the alg parameter is rewritten (it is covered by the signature)', async () => {
    const p = signers['ecdsa-p256-sha256'];
    const k = signers['ecdsa-secp256k1-sha256'];
    const req = await signed(p);
    const input = (req.headers['signature-input'] as string).replace(
      'ecdsa-p256-sha256',
      'ecdsa-secp256k1-sha256',
    );
    const key = parsePublicKey(k.alg, k.publicKeySpki);
    await expectCode(
      { ...req, headers: { ...req.headers, 'signature-input': input } },
      'E_SIGNATURE_INVALID',
      {
        resolveKey: () => ({ alg: 'ecdsa-secp256k1-sha256', key }),
      },
    );
  });

  const params = `;created=${NOW};nonce="${NONCE}";keyid="k_x";alg="ed25519"`;
  it.each([
    ['another label', `sig2=("@method" "@target-uri" "content-digest")${params}`],
    ['two signatures', `sig1=("@method" "@target-uri" "content-digest")${params}, sig2=("@method")${params}`],
    ['fewer components', `sig1=("@method" "@target-uri")${params}`],
    ['reordered components', `sig1=("@target-uri" "@method" "content-digest")${params}`],
    ['extra component', `sig1=("@method" "@target-uri" "content-digest" "date")${params}`],
    ['unquoted component', `sig1=(@method "@target-uri" "content-digest")${params}`],
    [
      'reordered params',
      `sig1=("@method" "@target-uri" "content-digest");nonce="${NONCE}";created=${NOW};keyid="k_x";alg="ed25519"`,
    ],
    [
      'missing nonce',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};keyid="k_x";alg="ed25519"`,
    ],
    ['extra expires', `sig1=("@method" "@target-uri" "content-digest")${params};expires=${NOW + 60}`],
    [
      'short nonce',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};nonce="abc";keyid="k_x";alg="ed25519"`,
    ],
    [
      'nonce with bad chars',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};nonce="${NONCE}+/";keyid="k_x";alg="ed25519"`,
    ],
    [
      'negative created',
      `sig1=("@method" "@target-uri" "content-digest");created=-1;nonce="${NONCE}";keyid="k_x";alg="ed25519"`,
    ],
    [
      'leading-zero created',
      `sig1=("@method" "@target-uri" "content-digest");created=0${NOW};nonce="${NONCE}";keyid="k_x";alg="ed25519"`,
    ],
    [
      'decimal created',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW}.5;nonce="${NONCE}";keyid="k_x";alg="ed25519"`,
    ],
    [
      'unknown alg',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};nonce="${NONCE}";keyid="k_x";alg="hmac-sha256"`,
    ],
    [
      'keyid with a space',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};nonce="${NONCE}";keyid="k x";alg="ed25519"`,
    ],
    [
      'escaped quote',
      `sig1=("@method" "@target-uri" "content-digest");created=${NOW};nonce="${NONCE}";keyid="k\\"x";alg="ed25519"`,
    ],
    ['trailing junk', `sig1=("@method" "@target-uri" "content-digest")${params} `],
  ])('E_SIGNATURE_INVALID for a malformed signature-input: %s', async (_name, input) => {
    const req = await signed(s);
    await expectCode(
      { ...req, headers: { ...req.headers, 'signature-input': input } },
      'E_SIGNATURE_INVALID',
    );
  });

  it.each([
    ['another label', (sig: string) => sig.replace('sig1=', 'sig2=')],
    ['no colons', (sig: string) => sig.replace(/:/g, '')],
    ['base64url alphabet', (sig: string) => sig.replace(/^sig1=:./, 'sig1=:-')],
    ['truncated', (sig: string) => sig.slice(0, 20) + ':'],
    // The last char before '==' carries 2 bits; A/Q/g/w are canonical, the next letter sets a padding bit.
    [
      'non-canonical padding bits',
      (sig: string) =>
        sig.replace(/([AQgw])==:$/, (_m, c: string) => `${String.fromCharCode(c.charCodeAt(0) + 1)}==:`),
    ],
  ])('E_SIGNATURE_INVALID for a malformed signature header: %s', async (_name, mutate) => {
    const req = await signed(s);
    const signature = mutate(req.headers.signature as string);
    expect(signature).not.toBe(req.headers.signature);
    await expectCode({ ...req, headers: { ...req.headers, signature } }, 'E_SIGNATURE_INVALID');
  });

  it.each([
    ['sha-512', 'sha-512=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'],
    ['two digests', `${contentDigest(BODY)}, sha-512=:AA==:`],
    ['no colons', contentDigest(BODY).replace(/:/g, '')],
  ])('E_SIGNATURE_INVALID for a malformed content-digest: %s', async (_name, digest) => {
    const req = await signed(s);
    await expectCode(
      { ...req, headers: { ...req.headers, 'content-digest': digest } },
      'E_SIGNATURE_INVALID',
    );
  });

  it('E_SIGNATURE_INVALID for a repeated header', async () => {
    const req = await signed(s);
    const e = await expectCode(
      {
        ...req,
        headers: {
          ...req.headers,
          signature: [req.headers.signature as string, req.headers.signature as string],
        },
      },
      'E_SIGNATURE_INVALID',
    );
    expect(e.details.parameter).toBe('signature');
  });

  it('fails closed on a NaN clock or skew instead of skipping the time window', async () => {
    const req = await signed(s);
    await expectCode(req, 'E_VALIDATION', { now: Number.NaN });
    await expectCode(req, 'E_VALIDATION', { maxSkewSeconds: Number.NaN });
    await expectCode(req, 'E_VALIDATION', { maxSkewSeconds: -1 });
  });

  it('refuses a signer that returns a DER (not r||s) ECDSA signature', async () => {
    const der = { keyId: s.keyId, alg: s.alg, sign: () => new Uint8Array(70) };
    await expect(signRequest({ method: 'POST', targetUri: TARGET, signer: der })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    });
  });

  it('refuses to sign with parameters it would itself reject', async () => {
    await expect(
      signRequest({ method: 'POST', targetUri: TARGET, signer: s, nonce: 'short' }),
    ).rejects.toMatchObject({
      code: 'E_SIGNATURE_INVALID',
    });
    await expect(
      signRequest({ method: 'POST', targetUri: TARGET, signer: { ...s, keyId: 'bad"id' } }),
    ).rejects.toMatchObject({
      code: 'E_SIGNATURE_INVALID',
    });
  });
});
