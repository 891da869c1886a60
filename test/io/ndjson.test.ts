import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listEventFiles, readLines, type Line } from '../../src/io/ndjson.js';

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
});
