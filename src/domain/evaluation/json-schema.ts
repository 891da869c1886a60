/**
 * A small subset of JSON Schema for the harness's `json` scorer (docs/quality-gates.md, "Writing
 * and scheduling a suite"): `type`, `enum`, `const`, `required`, `properties`,
 * `additionalProperties` (boolean or a schema), `items`, `minimum`, `maximum`, `minLength`,
 * `maxLength`, `minItems`, `maxItems`. A suite's schema is checked when the suite is read, so a
 * keyword outside the subset is an error there, not a check that silently passes everything.
 */

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

const TYPES: readonly JsonType[] = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
const NUMBER_KEYS = ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems'] as const;
const KEYWORDS = new Set<string>([
  '$comment',
  'description',
  'type',
  'enum',
  'const',
  'required',
  'properties',
  'additionalProperties',
  'items',
  ...NUMBER_KEYS,
]);

export interface JsonSchema {
  readonly type?: JsonType | readonly JsonType[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/** Checks that `value` is a schema of the subset; returns it typed, or the first problem with its path. */
export function readJsonSchema(value: unknown, path = 'schema'): JsonSchema | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: `${path}: must be an object (a JSON schema)` };
  const schema = value as Record<string, unknown>;
  for (const key of Object.keys(schema))
    if (!KEYWORDS.has(key))
      return { error: `${path}: keyword "${key}" is not supported by this schema subset` };
  const type = schema.type;
  if (type !== undefined) {
    const list = Array.isArray(type) ? type : [type];
    if (list.length === 0 || !list.every((t) => TYPES.includes(t as JsonType)))
      return { error: `${path}.type: must be one of ${TYPES.join(', ')} (or a list of them)` };
  }
  if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0))
    return { error: `${path}.enum: must be a non-empty list` };
  if (
    schema.required !== undefined &&
    (!Array.isArray(schema.required) || !schema.required.every((r) => typeof r === 'string'))
  )
    return { error: `${path}.required: must be a list of property names` };
  for (const key of NUMBER_KEYS) {
    const n = schema[key];
    if (n !== undefined && (typeof n !== 'number' || !Number.isFinite(n)))
      return { error: `${path}.${key}: must be a finite number` };
  }
  if (schema.properties !== undefined) {
    if (
      typeof schema.properties !== 'object' ||
      schema.properties === null ||
      Array.isArray(schema.properties)
    )
      return { error: `${path}.properties: must be an object of property name to schema` };
    for (const [name, inner] of Object.entries(schema.properties)) {
      const read = readJsonSchema(inner, `${path}.properties.${name}`);
      if ('error' in read) return read;
    }
  }
  const additional = schema.additionalProperties;
  if (additional !== undefined && typeof additional !== 'boolean') {
    const read = readJsonSchema(additional, `${path}.additionalProperties`);
    if ('error' in read) return read;
  }
  if (schema.items !== undefined) {
    const read = readJsonSchema(schema.items, `${path}.items`);
    if ('error' in read) return read;
  }
  return schema;
}

/** The violations of `schema` by `value`, each as `$.path: what is wrong`; [] when it conforms. */
export function schemaViolations(schema: JsonSchema, value: unknown, path = '$'): string[] {
  const types =
    schema.type === undefined ? undefined : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types !== undefined && !types.some((t) => isType(value, t as JsonType)))
    return [`${path}: must be ${types.join(' or ')}, got ${typeName(value)}`];
  const out: string[] = [];
  if (schema.enum !== undefined && !schema.enum.some((option) => sameJson(option, value)))
    out.push(`${path}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (schema.const !== undefined && !sameJson(schema.const, value))
    out.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      out.push(`${path}: must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      out.push(`${path}: must be <= ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    // Length in code points, as JSON Schema counts it (an emoji is one character).
    const length = Array.from(value).length;
    if (schema.minLength !== undefined && length < schema.minLength)
      out.push(`${path}: must have at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength)
      out.push(`${path}: must have at most ${schema.maxLength} characters`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      out.push(`${path}: must have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      out.push(`${path}: must have at most ${schema.maxItems} items`);
    const items = schema.items;
    if (items !== undefined)
      value.forEach((item, i) => out.push(...schemaViolations(items, item, `${path}[${i}]`)));
  }
  if (isObject(value)) out.push(...objectViolations(schema, value, path));
  return out;
}

function objectViolations(schema: JsonSchema, value: Record<string, unknown>, path: string): string[] {
  const out: string[] = [];
  for (const name of schema.required ?? [])
    if (!Object.hasOwn(value, name)) out.push(`${path}: property "${name}" is required`);
  const properties = schema.properties ?? {};
  for (const [name, inner] of Object.entries(value)) {
    const at = `${path}.${name}`;
    if (Object.hasOwn(properties, name)) {
      const sub = properties[name];
      if (sub !== undefined) out.push(...schemaViolations(sub, inner, at));
    } else if (schema.additionalProperties === false) out.push(`${at}: is not an allowed property`);
    else if (typeof schema.additionalProperties === 'object')
      out.push(...schemaViolations(schema.additionalProperties, inner, at));
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Equality of two decoded JSON values, object keys in any order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}
