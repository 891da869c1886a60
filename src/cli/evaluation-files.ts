/**
 * Reading evaluation events from files for `chargeback gate`: validated message by message, so a
 * bad line is named and left out while the others are judged.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEvent } from '../domain/events.js';
import { evaluationOf, type Evaluation } from '../domain/gate/verdict.js';
import { readLines, readRegularFile, type Line } from '../adapters/files/ndjson.js';

/** Counts every rejection but keeps only the first few: a folder of usage events is all rejections. */
export class Rejected {
  count = 0;
  readonly lines: string[] = [];

  constructor(private readonly keep: number) {}

  push(line: string): void {
    this.count += 1;
    if (this.lines.length < this.keep) this.lines.push(line);
  }
}

export interface ReadEvaluations {
  readonly evaluations: Evaluation[];
  readonly rejected: Rejected;
  /** Why the path, or one of its files, could not be read. */
  readonly error?: string;
}

const EVALUATION_FILE = /\.(ndjson|jsonl|json)$/i;

/**
 * The evaluation events under PATH: the file itself, or the *.ndjson, *.jsonl and *.json files
 * directly in the folder (not in its sub-folders), in name order. Each line is validated as a contracts.md §2
 * event; one that is not a valid evaluation is counted and named (the first `keep`) with its reason,
 * never taken. A *.json file that parses whole is one event or an array of them. A path or file
 * that cannot be read ends the reading with `error`, keeping what was read.
 */
export async function readEvaluations(path: string, keep: number): Promise<ReadEvaluations> {
  const evaluations: Evaluation[] = [];
  const rejected = new Rejected(keep);
  const take = (where: string, value: unknown): void => {
    const parsed = parseEvent(value);
    if (!parsed.ok) rejected.push(`${where}: ${parsed.reason}`);
    else if (parsed.event.type !== 'evaluation')
      rejected.push(`${where}: a ${parsed.event.type} event, not an evaluation`);
    else evaluations.push(evaluationOf(parsed.event));
  };
  try {
    for (const file of await filesOf(path)) {
      if (/\.json$/i.test(file) && (await takeWholeJson(file, take))) continue;
      for await (const line of readLines(file)) {
        const problem = lineProblem(line);
        if (problem !== undefined) rejected.push(`${file}:${line.line}: ${problem}`);
        else {
          let value: unknown;
          try {
            value = JSON.parse(line.text);
          } catch (error) {
            rejected.push(`${file}:${line.line}: not valid JSON: ${(error as Error).message}`);
            continue;
          }
          take(`${file}:${line.line}`, value);
        }
      }
    }
  } catch (error) {
    return { evaluations, rejected, error: (error as Error).message };
  }
  return { evaluations, rejected };
}

/** The file itself, or the evaluation files directly in the folder, in name order. */
async function filesOf(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => EVALUATION_FILE.test(n)).sort();
  const files: string[] = [];
  for (const name of names) {
    const full = join(path, name);
    // A sub-folder named like a file is not read; anything else that is not a file is refused by the reader.
    if (!(await stat(full)).isDirectory()) files.push(full);
  }
  return files;
}

/** A `.json` file that parses whole: one event, or an array of them. False when it does not. */
async function takeWholeJson(file: string, take: (where: string, value: unknown) => void): Promise<boolean> {
  const text = await readRegularFile(file);
  // U+FFFD may stand for bytes that are not UTF-8: the line reader finds and names them.
  if (text.includes('\uFFFD')) return false;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false; // NDJSON, or broken: read line by line, each bad line named
  }
  if (!Array.isArray(value)) take(file, value);
  else for (const [i, item] of value.entries()) take(`${file}[${i}]`, item);
  return true;
}

function lineProblem(line: Line): string | undefined {
  if (line.invalidUtf8 !== undefined) return `not UTF-8 (byte offset ${line.invalidUtf8})`;
  if (line.tooLong !== undefined) return `line of ${line.tooLong} characters is too long`;
  return undefined;
}
