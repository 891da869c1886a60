import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';
import { nameSchema } from '../domain/events.js';
import { readLabel } from '../domain/text.js';

/** The tenant of the idle rows of every report (contracts.md §4.3): no request may be charged to it. */
const RESERVED_TENANT = '(idle)';

/** Who pays for a request: each name under the one text rule (domain/text.ts, readLabel), in NFC. */
export interface Attribution {
  readonly tenant: string;
  readonly feature: string;
  readonly requestClass: string;
}

/** A refusal: the reason (never the key) and the HTTP status the client gets. */
export interface AttributionError {
  readonly error: string;
  /** 400 a header is wrong or missing; 401 no API key or an unknown one; 403 the key does not allow it. */
  readonly status: 400 | 401 | 403;
}

/** What one API key may bill: its tenant, and the features and classes it may name. */
export interface ApiKeyGrant {
  readonly tenant: string;
  /** Billed when the request sends no feature header (otherwise `unspecified`). */
  readonly feature?: string;
  /** Billed when the request sends no class header (otherwise the sidecar's default class). */
  readonly requestClass?: string;
  /** The features a request may name; absent: only `feature` when that is given, else any. */
  readonly features?: readonly string[];
  /** The classes a request may name; absent: only `requestClass` when that is given, else any. */
  readonly requestClasses?: readonly string[];
}

export interface AttributionRules {
  readonly headers: { readonly tenant: string; readonly feature: string; readonly requestClass: string };
  /**
   * API keys, by their SHA-256 hex digest, to what each may bill: the file holds no usable key.
   * When the map has any key, every metered request must carry one, and the key decides.
   */
  readonly apiKeys: ReadonlyMap<string, ApiKeyGrant>;
  readonly missingTenant: 'reject' | 'unknown';
  readonly defaultClass: string;
}

/** A name in the key map, under the same rule as a header's (so the map cannot hold `(idle) `). */
const name = nameSchema();
const nameList = z.array(name).min(1, { error: 'must list at least one name' });

// Strict: a misspelt `featurs` would otherwise be dropped, and the key allowed every feature.
const grant = z
  .strictObject({
    tenant: name.refine((t) => t !== RESERVED_TENANT, {
      error: `${RESERVED_TENANT} is reserved for idle time`,
    }),
    feature: name.optional(),
    requestClass: name.optional(),
    features: nameList.optional(),
    requestClasses: nameList.optional(),
  })
  .superRefine((g, ctx) => {
    if (g.feature !== undefined && g.features !== undefined && !g.features.includes(g.feature))
      ctx.addIssue({ code: 'custom', path: ['feature'], message: 'must be one of features' });
    if (
      g.requestClass !== undefined &&
      g.requestClasses !== undefined &&
      !g.requestClasses.includes(g.requestClass)
    )
      ctx.addIssue({ code: 'custom', path: ['requestClass'], message: 'must be one of requestClasses' });
  });

const keyFile = z.record(
  z.string().regex(/^[0-9a-f]{64}$/, 'keys must be SHA-256 hex digests of the API keys'),
  grant,
);

/**
 * Reads the API-key map: `{ "<sha256 of key>": { "tenant": "...", "feature"?: "...",
 * "requestClass"?: "...", "features"?: [...], "requestClasses"?: [...] } }`.
 */
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

const FIELDS = ['tenant', 'feature', 'requestClass'] as const;

const refusal = (status: AttributionError['status'], error: string): AttributionError => ({ error, status });

/**
 * Who pays, or why the request must be refused (naming the header, never the key). Without an
 * API-key map the headers decide. With one, the key decides: a request without a key or with an
 * unknown one is refused (401), and a header that names another tenant, or a feature or class the
 * key does not allow, is refused (403) rather than billed as the header says.
 */
export function attribute(
  rawHeaders: readonly string[],
  rules: AttributionRules,
): Attribution | AttributionError {
  const names = rules.headers;
  const headers = readHeaders(rawHeaders, [names.tenant, names.feature, names.requestClass, 'authorization']);
  if (!(headers instanceof Map)) return refusal(400, headers.error);
  // Every name sent is checked, and compared with the key's, in the form ingestion keeps (NFC).
  const sent: Partial<Record<keyof Attribution, string>> = {};
  for (const field of FIELDS) {
    const value = headers.get(names[field]);
    if (value === undefined) continue;
    const checked = readLabel(value);
    if ('error' in checked) return refusal(400, `header ${names[field]}: ${checked.error}`);
    sent[field] = checked.value;
  }
  const who =
    rules.apiKeys.size > 0 ? byKey(sent, headers.get('authorization'), rules) : byHeaders(sent, rules);
  if ('error' in who) return who;
  if (who.tenant === RESERVED_TENANT)
    return refusal(400, `header ${names.tenant}: ${RESERVED_TENANT} is reserved for idle time`);
  return who;
}

function byHeaders(
  sent: Partial<Record<keyof Attribution, string>>,
  rules: AttributionRules,
): Attribution | AttributionError {
  const tenant = sent.tenant ?? (rules.missingTenant === 'unknown' ? 'unknown' : undefined);
  if (tenant === undefined)
    return refusal(
      400,
      `missing header ${rules.headers.tenant}: every request must name the tenant that pays for it`,
    );
  return {
    tenant,
    feature: sent.feature ?? 'unspecified',
    requestClass: sent.requestClass ?? rules.defaultClass,
  };
}

function byKey(
  sent: Partial<Record<keyof Attribution, string>>,
  authorization: string | undefined,
  rules: AttributionRules,
): Attribution | AttributionError {
  const names = rules.headers;
  if (authorization === undefined) return refusal(401, 'missing API key: send Authorization: Bearer <key>');
  // The scheme is case-insensitive (RFC 9110 11.1); the key is whatever follows it.
  const token = /^bearer +(.*)$/i.exec(authorization)?.[1]?.trim() ?? '';
  if (token === '') return refusal(401, 'header authorization: must be Bearer <key>');
  const grant = rules.apiKeys.get(sha256(token));
  if (grant === undefined) return refusal(401, 'unknown API key');
  if (sent.tenant !== undefined && sent.tenant !== grant.tenant)
    return refusal(403, `header ${names.tenant}: does not match the tenant of the API key`);
  const feature = allowed(
    names.feature,
    sent.feature,
    grant.feature ?? 'unspecified',
    grant.features ?? (grant.feature === undefined ? undefined : [grant.feature]),
  );
  if (typeof feature !== 'string') return feature;
  const requestClass = allowed(
    names.requestClass,
    sent.requestClass,
    grant.requestClass ?? rules.defaultClass,
    grant.requestClasses ?? (grant.requestClass === undefined ? undefined : [grant.requestClass]),
  );
  if (typeof requestClass !== 'string') return requestClass;
  return { tenant: grant.tenant, feature, requestClass };
}

/** The header's value, or the key's default without one, when the key allows it (`undefined`: any). */
function allowed(
  header: string,
  sent: string | undefined,
  fallback: string,
  permitted: readonly string[] | undefined,
): string | AttributionError {
  const value = sent ?? fallback;
  if (permitted === undefined || permitted.includes(value)) return value;
  if (sent !== undefined) return refusal(403, `header ${header}: not allowed for this API key`);
  // A key that lists its classes but names no default, with the sidecar's default not among them.
  return refusal(400, `missing header ${header}: this API key does not allow the default "${fallback}"`);
}
