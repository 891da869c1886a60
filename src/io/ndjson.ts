import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/**
 * Largest line taken as an event. Event Hubs caps a message at 1 MB (Standard tier), so no real
 * event is longer; a longer line is rejected without being held in memory.
 * https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas
 */
export const MAX_LINE_CHARS = 1024 * 1024;

export type Line =
  | { readonly file: string; readonly line: number; readonly text: string; readonly tooLong?: undefined }
  | { readonly file: string; readonly line: number; readonly text: string; readonly tooLong: number };

/**
 * Streams the lines of an NDJSON file with their 1-based numbers, a batch per read chunk (one
 * promise per megabyte, not per line): a UTF-8 byte-order mark is dropped, CRLF is read as LF,
 * blank lines are skipped (they hold no event), and a line longer than MAX_LINE_CHARS is yielded
 * as `tooLong` with its first characters only, never held whole in memory.
 */
export async function* readLineBatches(file: string, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<Line[]> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let overflow = 0;
  let overflowEndsCR = false; // the last character counted into `overflow` was a CR
  let lineNumber = 0;
  let first = true;
  let batch: Line[] = [];
  const emit = (piece: string): void => {
    lineNumber += 1;
    if (overflow > 0) {
      // A CRLF ending is not part of the line's length.
      const cr = piece.length > 0 ? piece.endsWith('\r') : overflowEndsCR;
      batch.push({ file, line: lineNumber, text: carry, tooLong: overflow + piece.length - (cr ? 1 : 0) });
      overflow = 0;
      carry = '';
      return;
    }
    let text = carry === '' ? piece : carry + piece;
    carry = '';
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.length > maxLineChars) {
      batch.push({ file, line: lineNumber, text: text.slice(0, 1024), tooLong: text.length });
    } else if (text.trim() !== '') {
      batch.push({ file, line: lineNumber, text });
    }
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    let text = decoder.write(chunk as Buffer);
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      emit(text.slice(start, end));
      start = end + 1;
    }
    const rest = text.slice(start);
    if (overflow > 0) {
      overflow += rest.length;
      if (rest.length > 0) overflowEndsCR = rest.endsWith('\r');
    } else if (carry.length + rest.length > maxLineChars) {
      // Keep only the head of an oversized line for the rejected file.
      overflow = carry.length + rest.length;
      overflowEndsCR = (carry + rest).endsWith('\r');
      carry = (carry + rest).slice(0, 1024);
    } else {
      carry += rest;
    }
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  const rest = decoder.end();
  if (overflow > 0) overflow += rest.length;
  else carry += rest;
  if (carry !== '' || overflow > 0) emit('');
  if (batch.length > 0) yield batch;
}

/** The lines of an NDJSON file one by one (see readLineBatches). */
export async function* readLines(file: string, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(file, maxLineChars)) yield* batch;
}

/**
 * The NDJSON files named by PATH: the file itself, or the `.ndjson` / `.jsonl` files under a
 * directory (recursively), in name order so that every run reads them alike.
 */
export async function listEventFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  if (!info.isDirectory()) throw new Error(`${path} is neither a file nor a directory`);
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ndjson|jsonl)$/i.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
