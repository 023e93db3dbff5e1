import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from './policy-schema.ts';

const file = new URL('./policy.schema.json', import.meta.url);

describe('published JSON Schema', () => {
  it('src/policy/policy.schema.json is up to date (regenerate: UPDATE_POLICY_SCHEMA=1 npx vitest run src/policy/policy-schema.test.ts)', () => {
    const text = JSON.stringify(policyJsonSchema(), null, 2) + '\n';
    if (process.env.UPDATE_POLICY_SCHEMA === '1') writeFileSync(file, text);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('refuses unknown fields and numbers where amounts belong', () => {
    const s = policyJsonSchema() as { additionalProperties: boolean; $id: string };
    expect(s.additionalProperties).toBe(false);
    expect(s.$id).toMatch(/policy\.schema\.json$/);
    expect(JSON.stringify(s)).toContain('"pattern":"^(0|[1-9][0-9]{0,77})$"');
  });
});
