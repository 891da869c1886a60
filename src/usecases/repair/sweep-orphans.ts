import { indexRowOf, type Ledger, type LedgerRepair, type SegmentBlob } from '../../ports/ledger.js';

/**
 * Sweeping orphan segments: blobs under `segments/` that no index row names. Ingestion writes a
 * segment's blob before the Table transaction that commits it, so a crash or a lost race between
 * the two leaves a blob that no report reads (a redelivery commits the same events under a
 * committed name). Such a blob costs storage only; this removes it, with three guards:
 * - only blobs older than `minAgeMs`: a young one may belong to a commit still in progress;
 * - a blob named by an index row of its day is never deleted: the day's rows are listed once, and
 *   for every candidate the row its name maps to is read again just before the delete;
 * - the delete is conditional on the version listed, so a blob written again since (a redelivery
 *   about to commit under the same name) survives.
 * A name the ledger never writes is left alone and reported.
 */

export interface SweepDeps {
  readonly ledger: Ledger & LedgerRepair;
  readonly now: () => Date;
}

export interface SweepOptions {
  readonly minAgeMs: number;
  /** List what would be deleted, delete nothing. */
  readonly dryRun: boolean;
}

export interface SweptBlob {
  readonly name: string;
  readonly bytes: number;
  readonly lastModified: string;
}

export interface SweepOutcome {
  /** Orphans deleted (in a dry run: that would be). */
  orphans: SweptBlob[];
  orphanBytes: number;
  /** Segment blobs looked at. */
  examined: number;
  committed: number;
  /** Blobs younger than the minimum age, left alone whatever they are. */
  young: number;
  /** Orphans that changed or went away between the listing and the delete. */
  changed: number;
  /** Names that are not segment names the ledger writes. */
  unrecognised: string[];
}

export async function sweepOrphanSegments(deps: SweepDeps, options: SweepOptions): Promise<SweepOutcome> {
  const outcome: SweepOutcome = {
    orphans: [],
    orphanBytes: 0,
    examined: 0,
    committed: 0,
    young: 0,
    changed: 0,
    unrecognised: [],
  };
  const cutoff = deps.now().getTime() - options.minAgeMs;
  let indexed = { day: '', blobs: new Set<string>() };
  for await (const blob of deps.ledger.segmentBlobs()) {
    outcome.examined += 1;
    const row = indexRowOf(blob.name);
    if (row === undefined) {
      outcome.unrecognised.push(blob.name);
      continue;
    }
    if (Date.parse(blob.lastModified) > cutoff) {
      outcome.young += 1;
      continue;
    }
    // Blobs are listed in name order, so day by day: one index query per day.
    if (indexed.day !== row.day) indexed = { day: row.day, blobs: await indexedOn(deps.ledger, row.day) };
    if (indexed.blobs.has(blob.name) || (await deps.ledger.indexedBlob(row.day, row.rowKey)) === blob.name) {
      outcome.committed += 1;
      continue;
    }
    if (!options.dryRun && !(await deps.ledger.deleteSegmentBlob(blob))) {
      outcome.changed += 1;
      continue;
    }
    outcome.orphans.push(swept(blob));
    outcome.orphanBytes += blob.bytes;
  }
  return outcome;
}

function swept(blob: SegmentBlob): SweptBlob {
  return { name: blob.name, bytes: blob.bytes, lastModified: blob.lastModified };
}

async function indexedOn(ledger: Ledger, day: string): Promise<Set<string>> {
  const segments = await ledger.segmentsFor(day);
  return new Set(segments.filter((s) => s.day === day).map((s) => s.blob));
}
