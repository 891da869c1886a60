import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonFieldScanner } from '../../src/sidecar/json-fields.js';

const wanted = new Set(['usage', 'metrics', 'status']);

function scan(text: string, cuts: number[] = [], max?: number): JsonFieldScanner {
  const bytes = Buffer.from(text);
  const scanner = new JsonFieldScanner(wanted, max);
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b)) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  scanner.push(bytes.subarray(from));
  return scanner;
}

describe('JsonFieldScanner', () => {
  it('reads the wanted top-level fields of any object, however it is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(fc.string(), fc.constantFrom('usage', 'metrics', 'status', 'u\\sage')),
          fc.jsonValue(),
        ),
        fc.boolean(),
        fc.array(fc.nat(2000), { maxLength: 8 }),
        (object, pretty, cuts) => {
          const text = JSON.stringify(object, null, pretty ? 2 : undefined);
          const scanner = scan(text, cuts, 1e9);
          expect(scanner.complete).toBe(true);
          for (const name of wanted) {
            const expected = Object.hasOwn(object, name)
              ? JSON.parse(JSON.stringify(object[name]))
              : undefined;
            expect(scanner.value(name)).toEqual(expected);
          }
        },
      ),
    );
  });

  it('ignores the same names when nested or inside strings', () => {
    const text =
      '{"choices":[{"usage":1,"text":"\\"usage\\":{\\"x\\":2}"}],"x":{"usage":3},"usage":{"prompt_tokens":4}}';
    expect(scan(text).value('usage')).toEqual({ prompt_tokens: 4 });
  });

  it('reads an escaped key as its name, and keeps the last of two', () => {
    expect(scan('{"\\u0075sage":{"a":1},"usage":{"a":2}}').value('usage')).toEqual({ a: 2 });
    expect(scan('{"\\u0075sage":{"a":1}}').value('usage')).toEqual({ a: 1 });
  });

  it('says when the answer is not one JSON object', () => {
    expect(scan('<html>502</html>').complete).toBe(false);
    expect(scan('{"usage":{"a":1}').complete).toBe(false);
    expect(scan('{"usage":{"a":1}} trailing').complete).toBe(false);
    expect(scan('{"usage":{"a":1}} trailing').value('usage')).toBeUndefined();
    expect(scan('[1,2]').complete).toBe(false);
  });

  it('keeps a wanted value only up to its bound', () => {
    const scanner = scan(`{"usage":{"pad":"${'x'.repeat(5000)}"},"status":"ok"}`, [100, 3000], 1000);
    expect(scanner.value('usage')).toBe('too large');
    expect(scanner.value('status')).toBe('ok');
  });

  it('reads a 20 MB answer with its usage at the end', () => {
    const text = `{"choices":[{"text":"${'y'.repeat(20 * 1024 * 1024)}"}],"usage":{"prompt_tokens":7}}`;
    const cuts = Array.from({ length: 320 }, (_, i) => (i + 1) * 65_536);
    expect(scan(text, cuts).value('usage')).toEqual({ prompt_tokens: 7 });
  });
});
