import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';
import { nameSchema } from '../domain/events.js';
import { readLabel } from '../domain/text.js';

/** Who pays for a request: each name under the one text rule (domain/text.ts, readLabel), in NFC. */
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

/** A name in the key map, under the same rule as a header's (so the map cannot hold `(idle) `). */
const name = nameSchema();

const keyFile = z.record(
  z.string().regex(/^[0-9a-f]{64}$/, 'keys must be SHA-256 hex digests of the API keys'),
  z.object({
    tenant: name,
    feature: name.optional(),
    requestClass: name.optional(),
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
  const who = { tenant, feature, requestClass };
  for (const field of ['tenant', 'feature', 'requestClass'] as const) {
    // The rule ingestion applies too, after UTF-8 decoding: what is refused here is never billed.
    const checked = readLabel(who[field]);
    if ('error' in checked) return { error: `header ${names[field]}: ${checked.error}` };
    who[field] = checked.value;
  }
  if (who.tenant === RESERVED_TENANT)
    return { error: `header ${names.tenant}: ${RESERVED_TENANT} is reserved for idle time` };
  return who;
}
