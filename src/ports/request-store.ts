import { PermanentError } from '../domain/errors.js';
import type { RequestKey } from '../domain/requests/request-line.js';

/**
 * The per-request costs of a reported day, as stored beside its CSV: `requests-DATE.ndjson.gz`
 * (one JSON line per request, sorted by tenant, request id and event id, in independent gzip
 * blocks) and `requests-DATE.index.json` (where each block starts, and per-feature figures of each
 * tenant), so a lookup by tenant and request id reads the index and one block, never the whole day.
 */

/** One block of the data file: the tenant and request id of its first line, and where its gzip member lies. */
export interface RequestBlock {
  readonly first: RequestKey;
  readonly offset: number;
  readonly length: number;
  readonly count: number;
}

/** Per feature of a tenant's day: what `explain` compares a request with. Money in nano-dollars. */
export interface FeatureCosts {
  readonly requests: number;
  readonly medianNanos: number;
  readonly p90Nanos: number;
  readonly maxNanos: number;
}

export interface RequestIndex {
  /** 2 since lookups are by tenant and request id; version 1 files were sorted by request id alone. */
  readonly version: 2;
  readonly date: string;
  readonly revision: number;
  readonly requests: number;
  /** Size of the data file in bytes. */
  readonly bytes: number;
  readonly blocks: readonly RequestBlock[];
  /** By tenant, then feature (a feature is a tenant's own: two tenants' `chat` are not one). */
  readonly features: Readonly<Record<string, Readonly<Record<string, FeatureCosts>>>>;
}

/** The stored per-request costs of one day, read in pieces. */
export interface RequestSource {
  index(): Promise<RequestIndex>;
  /** `length` bytes of the data file from `offset`. */
  range(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * The index file's text as a RequestIndex; throws a PermanentError naming what is wrong with a
 * damaged or outdated one (reading it again will not help; restating the day will).
 */
export function parseRequestIndex(text: string): RequestIndex {
  let value: { version?: unknown; blocks?: unknown } | null;
  try {
    value = JSON.parse(text) as { version?: unknown; blocks?: unknown } | null;
  } catch (error) {
    throw new PermanentError(
      `per-request index: not JSON (${(error as Error).message}); restate the day to rewrite it`,
    );
  }
  if (value?.version === 1)
    throw new PermanentError(
      'per-request index: version 1, written before lookups were by tenant; restate the day to rewrite it',
    );
  if (value === null || typeof value !== 'object' || value.version !== 2 || !Array.isArray(value.blocks))
    throw new PermanentError('per-request index: not a version 2 index; restate the day to rewrite it');
  return value as RequestIndex;
}
