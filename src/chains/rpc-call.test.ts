import { describe, expect, it } from 'vitest';
import { redactUrl, splitCredentials, withRetries, chainRpcError } from './rpc-call.ts';

describe('rpc-call helpers', () => {
  it('redacts credentials, query strings and key-like path segments', () => {
    expect(redactUrl('http://user:pw@127.0.0.1:8332/?apikey=x')).toBe('http://127.0.0.1:8332/');
    expect(redactUrl('https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef')).toBe(
      'https://mainnet.infura.io/v3/***',
    );
    expect(redactUrl('not a url')).toBe('<invalid url>');
  });

  it('splits credentials out of a URL and refuses other schemes', () => {
    expect(splitCredentials('http://a%40b:p%3Aw@host:1/x')).toEqual({
      url: 'http://host:1/x',
      username: 'a@b',
      password: 'p:w',
    });
    expect(() => splitCredentials('file:///etc/passwd')).toThrow(
      expect.objectContaining({ code: 'E_VALIDATION' }),
    );
  });

  it('retries only retriable errors, a bounded number of times', async () => {
    let n = 0;
    const transient = () =>
      chainRpcError({ method: 'm', reason: 'transport', message: 'x', retriable: true });
    await expect(
      withRetries(
        async () => {
          n++;
          throw transient();
        },
        { retries: 3, backoffMs: 1 },
      ),
    ).rejects.toMatchObject({ details: { attempts: 4 } });
    expect(n).toBe(4);
    n = 0;
    await expect(
      withRetries(
        async () => {
          n++;
          throw chainRpcError({ method: 'm', reason: 'rpc-error', message: 'x', retriable: false });
        },
        { retries: 3, backoffMs: 1 },
      ),
    ).rejects.toMatchObject({ details: { attempts: 1 } });
    expect(n).toBe(1);
    n = 0;
    expect(
      await withRetries(async () => (++n < 3 ? Promise.reject(transient()) : 'ok'), { backoffMs: 1 }),
    ).toBe('ok');
  });
});
