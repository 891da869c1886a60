import { EventAccumulator } from '../domain/accumulator.js';
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
