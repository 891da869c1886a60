import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  readJsonSchema,
  schemaViolations,
  type JsonSchema,
} from '../../../src/domain/evaluation/json-schema.js';

const SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name', 'age', 'tags'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 5 },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    tags: { type: 'array', minItems: 1, maxItems: 2, items: { enum: ['a', 'b'] } },
    kind: { const: 'person' },
  },
  additionalProperties: false,
};

const VALUES: unknown[] = [
  { name: 'Ada', age: 36, tags: ['a'] },
  { name: 'Ada', age: 36.5, tags: ['a'] },
  { name: '', age: 36, tags: ['a'] },
  { name: 'Adalovelace', age: 36, tags: ['a'] },
  { name: 'Ada', age: -1, tags: ['a'] },
  { name: 'Ada', age: 151, tags: ['a'] },
  { name: 'Ada', age: 36, tags: [] },
  { name: 'Ada', age: 36, tags: ['a', 'b', 'a'] },
  { name: 'Ada', age: 36, tags: ['c'] },
  { name: 'Ada', age: 36, tags: ['a'], extra: 1 },
  { name: 'Ada', age: 36, tags: ['a'], kind: 'robot' },
  { name: 'Ada', age: 36, tags: ['a'], kind: 'person' },
  { name: 'Ada', tags: ['a'] },
  { name: '😀😀😀😀😀', age: 1, tags: ['b'] },
  [],
  null,
  'Ada',
];

describe('the JSON schema subset', () => {
  it('agrees with ajv on valid and invalid values', () => {
    const validate = new Ajv({ strict: true }).compile(SCHEMA);
    for (const value of VALUES)
      expect(schemaViolations(SCHEMA, value).length === 0, JSON.stringify(value)).toBe(validate(value));
  });

  it('counts string length in code points, as JSON Schema does', () => {
    expect(schemaViolations({ type: 'string', maxLength: 2 }, '😀😀')).toEqual([]);
  });

  it('names the path of a nested violation', () => {
    expect(schemaViolations(SCHEMA, { name: 'Ada', age: 36, tags: ['a', 'z'] })).toEqual([
      '$.tags[1]: must be one of "a", "b"',
    ]);
  });

  it('refuses a keyword outside the subset rather than ignoring it', () => {
    expect(readJsonSchema({ type: 'string', pattern: '^a' })).toEqual({
      error: 'schema: keyword "pattern" is not supported by this schema subset',
    });
  });

  it('refuses a bad nested schema with its path', () => {
    expect(readJsonSchema({ properties: { a: { type: 'text' } } })).toEqual({
      error:
        'schema.properties.a.type: must be one of object, array, string, number, integer, boolean, null (or a list of them)',
    });
  });
});
