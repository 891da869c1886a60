import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.js';

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

// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

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

/** Who pays, or the reason (naming the header) why the request must be refused. */
export function attribute(
  headers: IncomingHttpHeaders,
  rules: AttributionRules,
): Attribution | { error: string } {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const authorization = header('authorization');
  const key =
    authorization?.startsWith('Bearer ') === true
      ? rules.apiKeys.get(sha256(authorization.slice(7).trim()))
      : undefined;
  const tenant =
    header(rules.headers.tenant) ??
    key?.tenant ??
    (rules.missingTenant === 'unknown' ? 'unknown' : undefined);
  if (tenant === undefined)
    return {
      error: `missing header ${rules.headers.tenant}: every request must name the tenant that pays for it`,
    };
  const feature = header(rules.headers.feature) ?? key?.feature ?? 'unspecified';
  const requestClass = header(rules.headers.requestClass) ?? key?.requestClass ?? rules.defaultClass;
  for (const [name, value] of [
    [rules.headers.tenant, tenant],
    [rules.headers.feature, feature],
    [rules.headers.requestClass, requestClass],
  ] as const) {
    if (value.length === 0 || value.length > 128)
      return { error: `header ${name}: must be 1 to 128 characters` };
    if (CONTROL.test(value)) return { error: `header ${name}: must not contain control characters` };
  }
  return { tenant, feature, requestClass };
}
