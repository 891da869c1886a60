import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/**
 * Largest line taken as an event. Event Hubs caps a message at 1 MB (Standard tier), so no real
 * event is longer; a longer line is rejected without being held in memory.
 * https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas
 */
export const MAX_LINE_CHARS = 1024 * 1024;

export interface Line {
  readonly file: string;
  readonly line: number;
  /** The line, invalid UTF-8 shown as U+FFFD; only its head when tooLong is set. */
  readonly text: string;
  /** The line's length in characters, when it is over the limit. */
  readonly tooLong?: number;
  /** The file offset of the line's first byte that is not UTF-8 (contracts.md §2: events are UTF-8). */
  readonly invalidUtf8?: number;
}

/**
 * Streams the lines of an NDJSON file with their 1-based numbers, a batch per read chunk (one
 * promise per megabyte, not per line): a UTF-8 byte-order mark is dropped, CRLF is read as LF,
 * blank lines are skipped (they hold no event), a line longer than MAX_LINE_CHARS is yielded
 * as `tooLong` with its first characters only, never held whole in memory, and a line with bytes
 * that are not UTF-8 carries `invalidUtf8` (a decoder would quietly turn them into U+FFFD, and
 * a tenant name with them into another tenant). Anything but a regular file is refused, so a
 * fifo cannot stall the run.
 */
export async function* readLineBatches(
  file: string,
  maxLineChars = MAX_LINE_CHARS,
  chunkBytes = 1 << 20,
): AsyncGenerator<Line[]> {
  let carry = '';
  let overflow = 0;
  let overflowEndsCR = false; // the last character counted into `overflow` was a CR
  let invalidAt: number | undefined; // file offset of the first invalid byte of the line being read
  let lineNumber = 0;
  let batch: Line[] = [];
  const push = (text: string, tooLong?: number): void => {
    const line: Line = { file, line: lineNumber, text };
    batch.push({
      ...line,
      ...(tooLong === undefined ? {} : { tooLong }),
      ...(invalidAt === undefined ? {} : { invalidUtf8: invalidAt }),
    });
  };
  const emit = (piece: string): void => {
    lineNumber += 1;
    if (overflow > 0) {
      // A CRLF ending is not part of the line's length.
      const cr = piece.length > 0 ? piece.endsWith('\r') : overflowEndsCR;
      push(carry, overflow + piece.length - (cr ? 1 : 0));
      overflow = 0;
    } else {
      let text = carry === '' ? piece : carry + piece;
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.length > maxLineChars) push(text.slice(0, 1024), text.length);
      else if (text.trim() !== '' || invalidAt !== undefined) push(text);
    }
    carry = '';
    invalidAt = undefined;
  };
  // The start of a line that goes on in the next chunk.
  const keep = (rest: string): void => {
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
  };
  // A valid chunk, decoded line by line: the same strings as decoding the chunk and cutting it at
  // its newlines (a newline byte is never part of a multi-byte character), about ten times faster,
  // since a line of ASCII decodes on V8's fast path even when another line of the chunk is not.
  const consumeValid = (bytes: Buffer): void => {
    let start = 0;
    for (let end = bytes.indexOf(10); end !== -1; end = bytes.indexOf(10, start)) {
      emit(bytes.toString('utf8', start, end));
      start = end + 1;
    }
    keep(bytes.toString('utf8', start));
  };
  // The rare chunk with invalid bytes: line by line on the bytes (a newline byte is never part of
  // a multi-byte character), to find the offending line and offset.
  const consumeInvalid = (bytes: Buffer, base: number): void => {
    let start = 0;
    for (;;) {
      const newline = bytes.indexOf(10, start);
      const segment = bytes.subarray(start, newline === -1 ? bytes.length : newline);
      if (invalidAt === undefined && !isUtf8(segment)) invalidAt = base + start + firstInvalidByte(segment);
      if (newline === -1) {
        keep(segment.toString('utf8'));
        return;
      }
      emit(segment.toString('utf8'));
      start = newline + 1;
    }
  };

  const handle = await openRegularFile(file);
  let pending: Buffer | undefined; // an incomplete character at the end of the last chunk
  let offset = 0; // file offset of the next byte to consume
  let first = true;
  for await (const chunk of handle.createReadStream({ highWaterMark: chunkBytes })) {
    let bytes = pending === undefined ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    const complete = completeLength(bytes);
    pending = complete < bytes.length ? bytes.subarray(complete) : undefined;
    bytes = bytes.subarray(0, complete);
    if (first && bytes.length > 0) {
      first = false;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        bytes = bytes.subarray(3);
        offset += 3;
      }
    }
    if (isUtf8(bytes)) consumeValid(bytes);
    else consumeInvalid(bytes, offset);
    offset += bytes.length;
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  if (pending !== undefined) consumeInvalid(pending, offset); // the file ends inside a character
  if (carry !== '' || overflow > 0 || invalidAt !== undefined) emit('');
  if (batch.length > 0) yield batch;
}

/** The UTF-8 text of a regular file; a fifo or a folder is refused, never waited on. */
export async function readRegularFile(file: string): Promise<string> {
  const handle = await openRegularFile(file);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

// O_NONBLOCK: opening a fifo for reading must not wait for a writer; on a regular file it does
// nothing. (Windows has no such flag, and no fifos to open this way.)
const NONBLOCK = (constants as Partial<typeof constants>).O_NONBLOCK ?? 0;

async function openRegularFile(file: string): Promise<import('node:fs/promises').FileHandle> {
  const handle = await open(file, constants.O_RDONLY | NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`${file} is not a regular file (${kindOf(info)})`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The length of `bytes` without an incomplete multi-byte character at its end. */
function completeLength(bytes: Buffer): number {
  const length = bytes.length;
  for (let back = 1; back <= Math.min(3, length); back++) {
    const byte = bytes[length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? length - back : length;
  }
  return length;
}

/** The index where the first byte sequence that is not UTF-8 (RFC 3629) starts, or -1. */
export function firstInvalidByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let needs: number;
    let low = 0x80; // the second byte's range: narrower after E0, ED, F0, F4 (overlong, surrogate, > U+10FFFF)
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) needs = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      needs = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needs = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= needs; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
    }
    i += needs + 1;
  }
  return -1;
}

/** The lines of an NDJSON file one by one (see readLineBatches). */
export async function* readLines(file: string, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(file, maxLineChars)) yield* batch;
}

const EVENT_FILE = /\.(ndjson|jsonl)$/i;

/**
 * The NDJSON files named by PATH: the file itself, or the `.ndjson` / `.jsonl` files under a
 * directory (recursively), in name order so that every run reads them alike. Symbolic links are
 * followed (a file reached by two paths is read once; a linked folder is walked once). An entry
 * named like an event file that is not a regular file (a fifo, a socket, a dangling link) is an
 * error, not a silent skip: its events would be missing from the bill. `exclude` names a folder
 * that must not be inside PATH (the report's own output, whose rejected lines are NDJSON too).
 */
export async function listEventFiles(path: string, exclude?: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  if (!info.isDirectory()) throw new Error(`${path} is neither a file nor a directory (${kindOf(info)})`);
  const found: string[] = [];
  const walked = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    const real = await realpath(dir);
    if (exclude !== undefined && isInside(real, exclude))
      throw new Error(`${dir} is the output folder or inside it`);
    if (walked.has(real)) return;
    walked.add(real);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const target = entry.isSymbolicLink() ? await stat(full).catch(() => undefined) : entry;
      if (target?.isDirectory()) await walk(full);
      else if (!EVENT_FILE.test(entry.name)) continue;
      else if (target?.isFile()) found.push(full);
      else
        throw new Error(
          `${full} is not a regular file (${target === undefined ? 'dangling link' : kindOf(target)})`,
        );
    }
  };
  await walk(path);
  found.sort();
  const seen = new Set<string>();
  const files: string[] = [];
  for (const file of found) {
    const real = await realpath(file);
    if (!seen.has(real)) {
      seen.add(real);
      files.push(file);
    }
  }
  return files;
}

/** Whether `path` is `folder` or inside it (both absolute). */
export function isInside(path: string, folder: string): boolean {
  const rest = relative(folder, path);
  return rest === '' || (rest !== '..' && !rest.startsWith(`..${sep}`) && !isAbsolute(rest));
}

function kindOf(info: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (info.isFIFO()) return 'fifo';
  if (info.isSocket()) return 'socket';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symbolic link';
  return 'device or other special file';
}
