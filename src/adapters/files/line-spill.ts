/**
 * The command line's input cut into units by pod, on local disk: every line goes, unparsed, to the
 * bucket of the pod it names, so that each bucket holds whole pods and can be computed alone. The
 * pod is found by looking for `"pod":"` in the text, without parsing: a line whose pod is spelled
 * otherwise (escapes, spaces, a repeated key) may land in another bucket than its pod's other
 * events, which the day's check finds (a replica in two units) and mends by computing those buckets
 * as one; it costs time, never a wrong figure.
 *
 * A bucket file is a series of frames: file index (u32), line number (u32), length over the limit
 * (i32, -1 when none), offset of the first byte that is not UTF-8 (f64, -1 when none), text length
 * in bytes (u32), then the text as UTF-8.
 */
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodBucket, UnitLine } from '../../ports/unit-lines.js';

const HEADER = 24;
const FLUSH_BYTES = 1 << 20;
const EMPTY = Buffer.alloc(0);
/** Bytes read from a bucket file at a time. */
const READ_BYTES = 4 << 20;

interface Bucket {
  readonly path: string;
  file?: FileHandle;
  buffer: Buffer;
  used: number;
  lines: number;
  bytes: number;
}

export class LineSpill {
  private readonly buckets: Bucket[];
  private ready: Promise<void> | undefined;
  private readonly pods = new Map<string, number>();

  constructor(
    private readonly dir: string,
    count: number,
  ) {
    this.buckets = Array.from({ length: count }, (_, i) => ({
      path: join(dir, `bucket-${String(i).padStart(4, '0')}.spill`),
      buffer: Buffer.allocUnsafe(FLUSH_BYTES * 2),
      used: 0,
      lines: 0,
      bytes: 0,
    }));
  }

  /** Puts a line in its pod's bucket; call `flush` after each batch. */
  add(line: UnitLine): void {
    const bucket = this.buckets[this.bucketFor(line.text)] as Bucket;
    const room = bucket.used + HEADER + 3 * line.text.length;
    if (room > bucket.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, 2 * bucket.buffer.length));
      bucket.buffer.copy(bigger, 0, 0, bucket.used);
      bucket.buffer = bigger;
    }
    const b = bucket.buffer;
    const at = bucket.used;
    b.writeUInt32LE(line.where?.file ?? 0, at);
    b.writeUInt32LE(line.where?.line ?? 0, at + 4);
    b.writeInt32LE(line.tooLong ?? -1, at + 8);
    b.writeDoubleLE(line.invalidUtf8 ?? -1, at + 12);
    const length = b.write(line.text, at + HEADER, 'utf8');
    b.writeUInt32LE(length, at + 20);
    bucket.used = at + HEADER + length;
    bucket.lines += 1;
    bucket.bytes += HEADER + length;
  }

  /**
   * The bucket of the pod a line names: pods are dealt to the buckets in the order they first
   * appear, so no bucket holds two pods before every bucket holds one (hashing would put several
   * pods of a small fleet in one bucket). Lines that name none go to bucket 0.
   */
  private bucketFor(text: string): number {
    const pod = podOf(text);
    if (pod === undefined) return 0;
    let index = this.pods.get(pod);
    if (index === undefined) {
      index = this.pods.size % this.buckets.length;
      // A copy: the slice would keep the whole chunk of input it was cut from alive.
      this.pods.set(Buffer.from(pod, 'utf8').toString('utf8'), index);
    }
    return index;
  }

  /** Writes out the buckets whose buffers are full. */
  async flush(all = false): Promise<void> {
    await (this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined));
    for (const bucket of this.buckets) {
      if (bucket.used === 0 || (!all && bucket.used < FLUSH_BYTES)) continue;
      bucket.file ??= await open(bucket.path, 'w');
      await bucket.file.write(bucket.buffer, 0, bucket.used);
      bucket.used = 0;
    }
  }

  /** Closes the buckets and returns each one that holds lines, with how many; lets go of the buffers. */
  async finish(): Promise<PodBucket[]> {
    await this.flush(true);
    const out: PodBucket[] = [];
    for (const [index, bucket] of this.buckets.entries()) {
      await bucket.file?.close();
      bucket.buffer = EMPTY;
      const { path, lines, bytes } = bucket;
      if (lines > 0) out.push({ index, path, lines, bytes, read: () => readFrames(path) });
    }
    this.pods.clear();
    return out;
  }

  async remove(): Promise<void> {
    for (const bucket of this.buckets) await bucket.file?.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The pod a line names, as written between the quotes after `"pod":"`; undefined when none. */
function podOf(text: string): string | undefined {
  const key = '"pod":"';
  const start = text.indexOf(key);
  if (start < 0) return undefined;
  const from = start + key.length;
  const end = text.indexOf('"', from);
  return text.slice(from, end < 0 ? text.length : end);
}

/**
 * A bucket file's lines, batch by batch. The file is read into one buffer, reused (a frame that
 * does not fit makes it larger), so reading a unit makes no garbage beside its lines' text.
 */
export async function* readFrames(path: string): AsyncGenerator<UnitLine[]> {
  const file = await open(path, 'r');
  try {
    let data = Buffer.allocUnsafe(READ_BYTES);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await file.read(data, filled, data.length - filled, null);
      filled += bytesRead;
      const lines: UnitLine[] = [];
      let at = 0;
      while (at + HEADER <= filled) {
        const length = data.readUInt32LE(at + 20);
        if (at + HEADER + length > filled) break;
        const tooLong = data.readInt32LE(at + 8);
        const invalidUtf8 = data.readDoubleLE(at + 12);
        lines.push({
          text: data.toString('utf8', at + HEADER, at + HEADER + length),
          where: { file: data.readUInt32LE(at), line: data.readUInt32LE(at + 4) },
          ...(tooLong >= 0 ? { tooLong } : {}),
          ...(invalidUtf8 >= 0 ? { invalidUtf8 } : {}),
        });
        at += HEADER + length;
      }
      if (lines.length > 0) yield lines;
      if (bytesRead === 0) {
        if (filled > at) throw new Error(`${path}: the spill file ends inside a frame`);
        return;
      }
      // What is left of a frame goes to the front; a frame larger than the buffer, to a larger one.
      const need = at + HEADER <= filled ? HEADER + data.readUInt32LE(at + 20) : HEADER;
      const next = need > data.length ? Buffer.allocUnsafe(need) : data;
      data.copy(next, 0, at, filled);
      data = next;
      filled -= at;
    }
  } finally {
    await file.close();
  }
}
