import { EventAccumulator } from '../domain/accumulator.js';
import { parseRecordText, type Intern, type RecordResult } from '../domain/fast-parse.js';
import type { PriceCard } from '../domain/prices.js';
import type { CapacityRecord, UsageRecord } from '../domain/records.js';
import { listEventFiles, readLineBatches, type Line } from '../adapters/files/ndjson.js';
import { UsageError } from './usage-error.js';

export function lineResult(line: Line, intern: Intern): RecordResult {
  if (line.tooLong !== undefined)
    return { ok: false, reason: `line is ${line.tooLong} characters, over the 1 MiB limit` };
  // SPEC 2: events are UTF-8. A decoder would turn the bad bytes into U+FFFD and bill a tenant
  // name nobody sent; a U+FFFD that was validly encoded is an ordinary character.
  if (line.invalidUtf8 !== undefined)
    return { ok: false, reason: `invalid UTF-8 at byte offset ${line.invalidUtf8} of the file` };
  return parseRecordText(line.text, intern);
}

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
        const reason = accumulator.add(lineResult(line, accumulator.intern), where);
        if (reason !== undefined) rejected.push(`${where}: ${reason}`);
      }
    }
  }
  for (const conflict of accumulator.conflicts())
    rejected.push(`${conflict.where ?? path}: ${conflict.reason}`);
  return { usage: accumulator.usage(), capacity: accumulator.capacity(), lines, rejected };
}
