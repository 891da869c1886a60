import { EventAccumulator } from '../domain/accumulator.js';
import { admissionProblem } from '../domain/admission.js';
import { lineRecord } from '../domain/fast-parse.js';
import type { PriceCard } from '../domain/prices.js';
import type { CapacityRecord, UsageRecord } from '../domain/records.js';
import { listEventFiles, readLineBatches, type Line } from '../adapters/files/ndjson.js';
import { UsageError } from './usage-error.js';

export interface EventSet {
  readonly usage: UsageRecord[];
  readonly capacity: CapacityRecord[];
  readonly lines: number;
  /** Each refused line with its file, line number and reason (also conflicting copies of an eventId). */
  readonly rejected: readonly string[];
}

/**
 * The lines of an NDJSON file or folder in batches, each with its file, in order: the one way the
 * command line reads event files, a missing or unreadable path a UsageError naming `option`.
 */
async function* eventLines(path: string, option: string): AsyncGenerator<{ file: string; lines: Line[] }> {
  let files: string[];
  try {
    files = await listEventFiles(path);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
  if (files.length === 0) throw new UsageError(`${option} ${path} holds no *.ndjson or *.jsonl file`);
  for (const file of files) {
    const batches = readLineBatches(file);
    for (;;) {
      let next: IteratorResult<Line[]>;
      try {
        next = await batches.next();
      } catch (error) {
        throw new UsageError(`cannot read ${option} ${path}: ${(error as Error).message}`);
      }
      if (next.done === true) break;
      yield { file, lines: next.value };
    }
  }
}

/** The events of an NDJSON file or folder, validated as the report validates them. */
export async function readEventSet(path: string, prices: PriceCard, option: string): Promise<EventSet> {
  const accumulator = new EventAccumulator<string>(prices);
  const rejected: string[] = [];
  let lines = 0;
  for await (const batch of eventLines(path, option))
    for (const line of batch.lines) {
      lines += 1;
      const where = `${batch.file}:${line.line}`;
      const reason = accumulator.add(lineRecord(line, accumulator.intern), where);
      if (reason !== undefined) rejected.push(`${where}: ${reason}`);
    }
  for (const conflict of accumulator.conflicts())
    rejected.push(`${conflict.where ?? path}: ${conflict.reason}`);
  return { usage: accumulator.usage(), capacity: accumulator.capacity(), lines, rejected };
}

export interface UsageScan {
  readonly lines: number;
  /** Lines refused, with the first few (file, line, reason). */
  readonly rejected: number;
  readonly firstRejected: readonly string[];
  /** The models the usage events named. */
  readonly models: ReadonlySet<string>;
}

/**
 * Each valid usage event of an NDJSON file or folder, one at a time, validated as the report
 * validates them, holding none: for a day of tens of millions of events whose reader keeps only
 * what it samples. Copies of an eventId are all given (the reader tells them apart).
 */
export async function eachUsageEvent(
  path: string,
  prices: PriceCard,
  option: string,
  visit: (usage: UsageRecord) => void,
): Promise<UsageScan> {
  const models = new Set<string>();
  const firstRejected: string[] = [];
  let lines = 0;
  let rejected = 0;
  for await (const batch of eventLines(path, option))
    for (const line of batch.lines) {
      lines += 1;
      const result = lineRecord(line);
      const reason = !result.ok
        ? result.reason
        : result.record === null
          ? undefined
          : admissionProblem(prices, result.record);
      if (reason !== undefined) {
        rejected += 1;
        if (firstRejected.length < 3) firstRejected.push(`${batch.file}:${line.line}: ${reason}`);
        continue;
      }
      if (!result.ok || result.record?.type !== 'usage') continue;
      models.add(result.record.model);
      visit(result.record);
    }
  return { lines, rejected, firstRejected, models };
}
