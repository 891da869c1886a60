import { isUtf8 } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { listEventFiles, readLineBatches, readLines, type Line } from '../../../src/adapters/files/ndjson.js';

const dir = mkdtempSync(join(tmpdir(), 'ndjson-'));
let n = 0;
function file(content: string | Buffer): string {
  n += 1;
  const path = join(dir, `f${n}.ndjson`);
  writeFileSync(path, content);
  return path;
}
async function lines(path: string, max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const line of readLines(path, max)) out.push(line);
  return out;
}
async function linesInChunks(path: string, chunkBytes: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const batch of readLineBatches(path, undefined, chunkBytes)) out.push(...batch);
  return out;
}

describe('NDJSON reader', () => {
  it('numbers lines from 1 and skips blank ones', async () => {
    const got = await lines(file('{"a":1}\n\n  \n{"b":2}'));
    expect(got.map((l) => [l.line, l.text])).toEqual([
      [1, '{"a":1}'],
      [4, '{"b":2}'],
    ]);
  });

  it('drops a byte-order mark and reads CRLF as LF', async () => {
    const got = await lines(
      file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\r\n{"b":2}\r\n')])),
    );
    expect(got.map((l) => l.text)).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('yields nothing for an empty file', async () => {
    expect(await lines(file(''))).toEqual([]);
  });

  it('keeps multi-byte characters split across read chunks intact', async () => {
    const name = '🙂'.repeat(300_000);
    const got = await lines(file(`{"t":"${name}"}\n`));
    expect(got[0]?.text).toBe(`{"t":"${name}"}`);
  });

  it('reads valid UTF-8 as a whole-file decode cut at its newlines would, whatever the chunk size', async () => {
    const piece = fc.constantFrom(
      '{"a":1}',
      'é',
      '🙂',
      '中文',
      ' ',
      '\r',
      '\u2028',
      '\u00a0',
      'x'.repeat(40),
      '"pod":"p"',
    );
    const text = fc.array(
      fc.array(piece, { maxLength: 8 }).map((p) => p.join('')),
      { maxLength: 30 },
    );
    await fc.assert(
      fc.asyncProperty(text, fc.integer({ min: 1, max: 64 }), async (rows, chunk) => {
        const content = rows.join('\n');
        const want = content
          .split('\n')
          .map((t, i) => ({ line: i + 1, text: t.endsWith('\r') ? t.slice(0, -1) : t }))
          .filter((l) => l.text.trim() !== '');
        const got = await linesInChunks(file(content), chunk);
        expect(got.map((l) => ({ line: l.line, text: l.text }))).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

  it('reports a 10 MB line as too long, keeps only its head, and reads on', async () => {
    const got = await lines(file(`{"a":1}\n{"x":"${'y'.repeat(10 * 1024 * 1024)}"}\n{"b":2}\n`));
    expect(got.map((l) => [l.line, l.tooLong !== undefined])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(got[1]?.text.length).toBeLessThanOrEqual(1024);
    expect(got[1]?.tooLong).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('lists .ndjson and .jsonl files of a directory tree in name order', async () => {
    const root = mkdtempSync(join(tmpdir(), 'events-'));
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'b', '2.ndjson'), '');
    writeFileSync(join(root, 'a.jsonl'), '');
    writeFileSync(join(root, 'notes.txt'), '');
    expect((await listEventFiles(root)).map((p) => p.slice(root.length))).toEqual([
      '/a.jsonl',
      '/b/2.ndjson',
    ]);
  });

  it('marks a line with bytes that are not UTF-8 with the file offset of the first one', async () => {
    const content = Buffer.concat([
      Buffer.from('{"tenant":"ok"}\n{"tenant":"a'), // the bad byte is at offset 16 + 12 = 28
      Buffer.from([0xff]),
      Buffer.from('b"}\n{"tenant":"\ufffd literal"}\n{"t":"'), // a validly encoded U+FFFD is legal
      Buffer.from([0xc0, 0xaf]), // an overlong '/'
      Buffer.from('"}\n{"t":"'),
      Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate
      Buffer.from('"}\n{"t":"'),
      Buffer.from([0xe2, 0x82]), // the file ends inside a character
    ]);
    const path = file(content);
    for (const chunkBytes of [1, 2, 3, 7, 1 << 20]) {
      const got = await linesInChunks(path, chunkBytes);
      const offsets = got.map((l) => l.invalidUtf8);
      const at = (bytes: number[]): number => content.indexOf(Buffer.from(bytes));
      expect(offsets).toEqual([
        undefined,
        28,
        undefined,
        at([0xc0, 0xaf]),
        at([0xed, 0xa0]),
        at([0xe2, 0x82]),
      ]);
      expect(got[1]?.text).toBe('{"tenant":"a\ufffdb"}');
      expect(got[2]?.text).toBe('{"tenant":"\ufffd literal"}');
    }
  });

  it('flags a line exactly when its bytes are not UTF-8, whatever the chunk boundaries', async () => {
    const lineBytes = fc.oneof(
      fc.string({ unit: 'binary' }).map((text) => Buffer.from(text.replaceAll('\n', ' '))),
      fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes.map((b) => (b === 10 ? 32 : b)))),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineBytes, { maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        async (rows, chunk) => {
          const content = Buffer.concat(rows.flatMap((row) => [row, Buffer.from('\n')]));
          if (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf) return; // a byte-order mark
          const got = await linesInChunks(file(content), chunk);
          let start = 0;
          const expected: { line: number; text: string; bad: boolean; start: number; end: number }[] = [];
          rows.forEach((row, i) => {
            const text = row.toString('utf8').replace(/\r$/, '');
            if (text.trim() !== '' || !isUtf8(row))
              expected.push({ line: i + 1, text, bad: !isUtf8(row), start, end: start + row.length });
            start += row.length + 1;
          });
          expect(got.map((l) => [l.line, l.text, l.invalidUtf8 !== undefined])).toEqual(
            expected.map((e) => [e.line, e.text, e.bad]),
          );
          got.forEach((l, i) => {
            const e = expected[i];
            if (l.invalidUtf8 === undefined || e === undefined) return;
            expect(l.invalidUtf8).toBeGreaterThanOrEqual(e.start);
            expect(l.invalidUtf8).toBeLessThan(e.end);
            expect(isUtf8(content.subarray(e.start, l.invalidUtf8))).toBe(true); // the first bad byte
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses to read a fifo, without waiting for a writer', async () => {
    const fifo = join(dir, 'pipe.ndjson');
    execFileSync('mkfifo', [fifo]);
    await expect(lines(fifo)).rejects.toThrow(/not a regular file \(fifo\)/);
  });
});

describe('event files of a folder', () => {
  function folder(): string {
    return mkdtempSync(join(tmpdir(), 'events-'));
  }

  it('follows symbolic links to files and folders, and reads a file reached twice once', async () => {
    const root = folder();
    const elsewhere = folder();
    writeFileSync(join(elsewhere, 'day.ndjson'), '');
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a', 'own.ndjson'), '');
    symlinkSync(join(elsewhere, 'day.ndjson'), join(root, 'a', 'link.ndjson'));
    symlinkSync(elsewhere, join(root, 'b'));
    symlinkSync(root, join(root, 'a', 'loop'));
    expect((await listEventFiles(root)).map((p) => p.slice(root.length))).toEqual([
      '/a/link.ndjson',
      '/a/own.ndjson',
    ]);
  });

  it.each([
    ['a fifo', (path: string) => execFileSync('mkfifo', [path]), /x\.ndjson is not a regular file \(fifo\)/],
    [
      'a dangling link',
      (path: string) => {
        symlinkSync('/nonexistent', path);
      },
      /dangling link/,
    ],
  ])('refuses %s named like an event file instead of skipping it', async (_, make, message) => {
    const root = folder();
    writeFileSync(join(root, 'good.ndjson'), '');
    make(join(root, 'x.ndjson'));
    await expect(listEventFiles(root)).rejects.toThrow(message);
  });

  it('refuses to walk into the excluded folder, even through a link', async () => {
    const root = folder();
    const out = folder();
    symlinkSync(out, join(root, 'reports'));
    await expect(listEventFiles(root, out)).rejects.toThrow(/is the output folder/);
  });
});
