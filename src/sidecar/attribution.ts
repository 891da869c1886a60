import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';
import { hasControlCharacter } from '../domain/text.js';

/** Who pays for a request (SPEC 2: tenant and feature 1-128 characters, no control characters). */
export interface Attribution {
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
}

export interface AttributionRules {
  readonly headers: { readonly tenant: string; readonly feature: string; readonly requestClass: string };
  /** API keys, by their SHA-256 hex digest, to who pays: the file holds no usable key. */
  readonly apiKeys: ReadonlyMap<string, Partial<Attribution> & { tenant: string }>;
  readonly missingTenant: 'reject' | 'unknown';
  readonly defaultClass: string;
}

const keyFile = z.record(
  z.string().regex(/^[0-9a-f]{64}$/, 'keys must be SHA-256 hex digests of the API keys'),
  z.object({
    tenant: z.string().min(1).max(128),
    feature: z.string().min(1).max(128).optional(),
    requestClass: z.string().min(1).max(128).optional(),
  }),
);

/** Reads the API-key map: `{ "<sha256 of key>": { "tenant": "...", "feature"?: "...", "requestClass"?: "..." } }`. */
export function loadApiKeys(path: string | undefined): AttributionRules['apiKeys'] {
  if (path === undefined) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigurationError(`SIDECAR_API_KEYS_FILE ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const plain = Object.keys(parsed).find((k) => !/^[0-9a-f]{64}$/.test(k));
    if (plain !== undefined) {
      // Never echo what may be a live key: its first characters are enough to find it.
      throw new ConfigurationError(
        `SIDECAR_API_KEYS_FILE ${path}: key "${plain.slice(0, 4)}…" is not a SHA-256 hex digest; store sha256(apiKey), never the key`,
      );
    }
  }
  const result = keyFile.safeParse(parsed);
  if (!result.success) {
    throw new ConfigurationError(
      `SIDECAR_API_KEYS_FILE ${path}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return new Map(Object.entries(result.data));
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Characters that make one name look like another: bidirectional embeddings, overrides and
 * isolates (U+202A-U+202E, U+2066-U+2069) and marks (U+200E, U+200F, U+061C), and invisible ones
 * (zero-width space U+200B, word joiner and invisible operators U+2060-U+2064, U+FEFF, U+180E,
 * soft hyphen U+00AD). Zero-width joiner and non-joiner (U+200C, U+200D) stay legal: emoji
 * sequences and Persian or Indic names need them.
 */
const DECEPTIVE = /[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
/** The tenant of the idle rows of every report (SPEC 4.3): no request may be charged to it. */
const RESERVED_TENANT = '(idle)';

/**
 * The attribution headers of a request, from Node's `rawHeaders`: each value is re-read as UTF-8
 * (Node hands header bytes over as latin1, which turned `Ström` into `StrÃ¶m`), and a header sent
 * twice is an error rather than the `alice, bob` Node's joined form would bill.
 */
function readHeaders(
  rawHeaders: readonly string[],
  names: readonly string[],
): Map<string, string> | { error: string } {
  const found = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (!names.includes(name)) continue;
    if (found.has(name)) return { error: `header ${name}: must be sent once` };
    try {
      found.set(name, utf8.decode(Buffer.from(rawHeaders[i + 1] ?? '', 'latin1')));
    } catch {
      return { error: `header ${name}: must be valid UTF-8` };
    }
  }
  return found;
}

/** Who pays, or the reason (naming the header) why the request must be refused. */
export function attribute(
  rawHeaders: readonly string[],
  rules: AttributionRules,
): Attribution | { error: string } {
  const names = rules.headers;
  const headers = readHeaders(rawHeaders, [names.tenant, names.feature, names.requestClass, 'authorization']);
  if (!(headers instanceof Map)) return headers;
  const authorization = headers.get('authorization');
  const key =
    authorization?.startsWith('Bearer ') === true
      ? rules.apiKeys.get(sha256(authorization.slice(7).trim()))
      : undefined;
  const tenant =
    headers.get(names.tenant) ?? key?.tenant ?? (rules.missingTenant === 'unknown' ? 'unknown' : undefined);
  if (tenant === undefined)
    return {
      error: `missing header ${names.tenant}: every request must name the tenant that pays for it`,
    };
  const feature = headers.get(names.feature) ?? key?.feature ?? 'unspecified';
  const requestClass = headers.get(names.requestClass) ?? key?.requestClass ?? rules.defaultClass;
  for (const [name, value] of [
    [names.tenant, tenant],
    [names.feature, feature],
    [names.requestClass, requestClass],
  ] as const) {
    // SPEC 2 counts characters as the reports do (UTF-16 code units), after UTF-8 decoding.
    if (value.length === 0 || value.length > 128)
      return { error: `header ${name}: must be 1 to 128 characters` };
    if (hasControlCharacter(value)) return { error: `header ${name}: must not contain control characters` };
    if (DECEPTIVE.test(value))
      return { error: `header ${name}: must not contain invisible or bidirectional control characters` };
  }
  if (tenant === RESERVED_TENANT)
    return { error: `header ${names.tenant}: ${RESERVED_TENANT} is reserved for idle time` };
  return { tenant, feature, requestClass };
}
