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

/** The events of an NDJSON file or folder, validated as the report validates them. */
export async function readEventSet(path: string, prices: PriceCard, option: string): Promise<EventSet> {
  let files: string[];
  try {
    files = await listEventFiles(path);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
  if (files.length === 0) throw new UsageError(`${option} ${path} holds no *.ndjson or *.jsonl file`);
  const accumulator = new EventAccumulator<string>(prices);
  const rejected: string[] = [];
  let lines = 0;
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
      for (const line of next.value) {
        lines += 1;
        const where = `${file}:${line.line}`;
        const reason = accumulator.add(lineRecord(line, accumulator.intern), where);
        if (reason !== undefined) rejected.push(`${where}: ${reason}`);
      }
    }
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
  let files: string[];
  try {
    files = await listEventFiles(path);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
  if (files.length === 0) throw new UsageError(`${option} ${path} holds no *.ndjson or *.jsonl file`);
  const models = new Set<string>();
  const firstRejected: string[] = [];
  let lines = 0;
  let rejected = 0;
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
      for (const line of next.value) {
        lines += 1;
        const result = lineRecord(line);
        const reason = !result.ok
          ? result.reason
          : result.record === null
            ? undefined
            : admissionProblem(prices, result.record);
        if (reason !== undefined) {
          rejected += 1;
          if (firstRejected.length < 3) firstRejected.push(`${file}:${line.line}: ${reason}`);
          continue;
        }
        if (!result.ok || result.record?.type !== 'usage') continue;
        models.add(result.record.model);
        visit(result.record);
      }
    }
  }
  return { lines, rejected, firstRejected, models };
}
