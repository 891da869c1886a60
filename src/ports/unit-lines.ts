/**
 * A unit of a day's work as lines of input (src/usecases/day/unit.ts), and the space its runs and
 * spilled lines live in while the day is computed.
 */
import type { RunStorage } from './byte-sink.js';

/** Where a line was read: the index of its file in the input, and its 1-based line number. */
export interface LinePosition {
  readonly file: number;
  readonly line: number;
}

/** One line of input as read: its text, and what the reader already found wrong with it. */
export interface UnitLine {
  readonly text: string;
  readonly where?: LinePosition;
  /** The line's length in characters, when it was over the limit (`text` is its head). */
  readonly tooLong?: number;
  /** The file offset of its first byte that is not UTF-8. */
  readonly invalidUtf8?: number;
}

/** A unit's lines, in batches; readable again (a calibrated day's first report reads them twice). */
export type UnitLines = () => AsyncIterable<readonly UnitLine[]>;

/** One bucket of lines cut by pod: its number, how many lines it holds, and how to read them. */
export interface PodBucket {
  readonly index: number;
  /** The bucket's file on local disk. */
  readonly path: string;
  readonly lines: number;
  /** Its size on disk. */
  readonly bytes: number;
  readonly read: UnitLines;
}

/** Where a day's runs live while it is computed, and where a large unit is cut by pod. */
export interface RunSpace {
  readonly storage: RunStorage;
  /** Cuts lines into `count` buckets of whole pods (named under `name`); absent: units are not cut. */
  cutByPod?(name: string, lines: UnitLines, count: number): Promise<PodBucket[]>;
  /** Lets everything go. */
  release(): Promise<void>;
}
