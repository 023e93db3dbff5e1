// Import boundaries of ../shared/CONVENTIONS.md, enforced: data flows one way, from the shells to the core,
// and only src/vault may touch seed and private-key material.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LAYERS = ['domain', 'policy', 'governance', 'audit', 'vault', 'chains', 'store', 'integrations', 'service', 'api', 'cli', 'sdk'];
/** What each layer may import besides itself. */
const ALLOWED = {
  domain: [],
  policy: ['domain'],
  audit: ['domain'],
  governance: ['domain', 'policy'],
  vault: ['domain', 'policy', 'governance', 'audit', 'chains'],
  chains: ['domain'],
  store: ['domain'],
  integrations: ['domain'],
  service: ['domain', 'policy', 'governance', 'audit', 'vault', 'chains', 'store', 'integrations'],
  api: ['domain', 'service'],
  sdk: ['domain', 'api'],
  cli: ['domain', 'policy', 'service', 'api', 'sdk', 'store', 'audit', 'vault'],
};

/** Seed, private-key and cipher libraries: src/vault only. */
const KEY_MATERIAL = [
  { name: '@scure/bip39', message: 'seeds live only in src/vault' },
  { name: 'secp256k1', message: 'private-key signing lives only in src/vault' },
  { name: 'shamir-secret-sharing', message: 'custodian shares live only in src/vault' },
  { name: 'pkcs11js', message: 'the HSM is reached only from src/vault' },
  { name: 'node:crypto', importNames: ['createCipheriv', 'createDecipheriv', 'createSecretKey', 'scrypt', 'scryptSync'], message: 'ciphers and secret keys live only in src/vault' },
];

function boundaryRule(layer) {
  const forbidden = LAYERS.filter((l) => l !== layer && !ALLOWED[layer].includes(l));
  return {
    files: [`src/${layer}/**/*.ts`],
    ignores: ['**/*.test.ts', '**/*.contract.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: layer === 'vault' ? [] : KEY_MATERIAL,
          patterns: forbidden.map((l) => ({ group: [`**/${l}/*`, `**/${l}/**`], message: `src/${layer} may not import src/${l} (see CONVENTIONS.md)` })),
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'bench/results/**', 'console/dist/**', '.tmp/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', fetch: 'readonly', crypto: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...LAYERS.map(boundaryRule),
);
