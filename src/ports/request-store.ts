/**
 * The per-request costs of a reported day, as stored beside its CSV: `requests-DATE.ndjson.gz`
 * (one JSON line per request, sorted by request id then event id, in independent gzip blocks) and
 * `requests-DATE.index.json` (where each block starts, and per-feature figures), so a lookup by
 * request id reads the index and one block, never the whole day.
 */

/** One block of the data file: the first request id in it, and where its gzip member lies. */
export interface RequestBlock {
  readonly first: string;
  readonly offset: number;
  readonly length: number;
  readonly count: number;
}

/** Per feature of the day: what `explain` compares a request with. Money in nano-dollars. */
export interface FeatureCosts {
  readonly requests: number;
  readonly medianNanos: number;
  readonly p90Nanos: number;
  readonly maxNanos: number;
}

export interface RequestIndex {
  readonly version: 1;
  readonly date: string;
  readonly revision: number;
  readonly requests: number;
  /** Size of the data file in bytes. */
  readonly bytes: number;
  readonly blocks: readonly RequestBlock[];
  readonly features: Readonly<Record<string, FeatureCosts>>;
}

/** The stored per-request costs of one day, read in pieces. */
export interface RequestSource {
  index(): Promise<RequestIndex>;
  /** `length` bytes of the data file from `offset`. */
  range(offset: number, length: number): Promise<Uint8Array>;
}

/** The index file's text as a RequestIndex; throws naming what is wrong with a damaged one. */
export function parseRequestIndex(text: string): RequestIndex {
  const value = JSON.parse(text) as Partial<RequestIndex> | null;
  if (value === null || typeof value !== 'object' || value.version !== 1 || !Array.isArray(value.blocks))
    throw new Error('per-request index: not a version 1 index');
  return value as RequestIndex;
}
