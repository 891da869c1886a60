import { createHash } from 'node:crypto';

/*
 * Keys and long values for the Table adapters that keep records as JSON (the quality and the
 * retraining stores). Limits from
 * https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model:
 * a PartitionKey or RowKey is at most 1 KiB and may not hold '/', '\', '#', '?' or control
 * characters; a string property holds at most 64 KiB of UTF-16 (32K code units), a binary one 64 KiB;
 * an entity holds at most 1 MiB.
 */

const MAX_ENCODED_KEY = 400;

/**
 * A key (or key part) for any string, model names and eventIds from the wire included. Percent-
 * encoding removes every forbidden character (and ':' and '|', which then separate key parts); a
 * string whose encoding is too long, or that has a lone surrogate (which encodeURIComponent
 * refuses), is named by the SHA-256 of its UTF-16 code units instead, marked by '%%', which no
 * percent-encoding produces. Injective either way; the value itself is kept in a property, so
 * reading never decodes a key.
 */
export function tableKey(value: string): string {
  let encoded: string | undefined;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    // URIError: a lone surrogate, which only the hash below can name exactly.
  }
  if (encoded !== undefined && encoded.length <= MAX_ENCODED_KEY) return encoded;
  return `%%${createHash('sha256').update(Buffer.from(value, 'utf16le')).digest('hex')}`;
}

// A little under 32K, the most code units a string property holds.
const TEXT_PART = 32_000;
const BYTES_PART = 64 * 1024;

/** Text spread over properties `<name>_0`, `<name>_1`, ... with their count in `<name>_parts`. */
export function textProperties(name: string, text: string): Record<string, string | number> {
  const properties: Record<string, string | number> = {};
  let parts = 0;
  for (let start = 0; start < text.length; parts += 1) {
    let end = Math.min(start + TEXT_PART, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1; // keep a surrogate pair whole
    properties[`${name}_${parts}`] = text.slice(start, end);
    start = end;
  }
  properties[`${name}_parts`] = parts;
  return properties;
}

/** The text textProperties spread over an entity. */
export function textOf(entity: Readonly<Record<string, unknown>>, name: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < partsOf(entity, name); i += 1) {
    const part = entity[`${name}_${i}`];
    if (typeof part !== 'string') throw new Error(`entity property ${name}_${i} is missing`);
    chunks.push(part);
  }
  return chunks.join('');
}

/** Bytes spread over binary properties `<name>_0`, ... with their count in `<name>_parts`. */
export function bytesProperties(name: string, bytes: Uint8Array): Record<string, Uint8Array | number> {
  const properties: Record<string, Uint8Array | number> = {};
  let parts = 0;
  for (let start = 0; start < bytes.length; start += BYTES_PART, parts += 1) {
    properties[`${name}_${parts}`] = bytes.subarray(start, start + BYTES_PART);
  }
  properties[`${name}_parts`] = parts;
  return properties;
}

/** The bytes bytesProperties spread over an entity. */
export function bytesOf(entity: Readonly<Record<string, unknown>>, name: string): Buffer {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < partsOf(entity, name); i += 1) {
    const part = entity[`${name}_${i}`];
    if (!(part instanceof Uint8Array)) throw new Error(`entity property ${name}_${i} is missing`);
    chunks.push(part);
  }
  return Buffer.concat(chunks);
}

function partsOf(entity: Readonly<Record<string, unknown>>, name: string): number {
  const parts = entity[`${name}_parts`];
  if (typeof parts !== 'number') throw new Error(`entity property ${name}_parts is missing`);
  return parts;
}
