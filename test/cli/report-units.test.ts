import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMain } from '../helpers/cli.js';
import { at, capacity, DAY, usage } from '../helpers/events.js';

const PRICES = 'prices/azure-a100.json';
const SKU = 'Standard_NC24ads_A100_v4';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cli-units-'));
}

/** A day on many pods with the hard cases: duplicates, conflicting versions, refused lines. */
function day(): string[] {
  const lines: string[] = [];
  for (let p = 0; p < 12; p++) {
    const pod = `vllm-${p}`;
    lines.push(JSON.stringify(capacity({ gpuSku: SKU, pod, windowStart: at(0), windowEnd: at(7200) })));
    for (let r = 0; r < 30; r++) {
      const event = usage({
        gpuSku: SKU,
        pod,
        tenant: ['contoso', 'fabrikam', '__proto__', 'a"b'][r % 4],
        feature: r % 3 === 0 ? 'search' : 'chat',
        requestId: `req-${p}-${r}`,
        startedAt: at(10 + r * 50 + p),
        finishedAt: at(40 + r * 50 + p * 2),
      });
      lines.push(JSON.stringify(event));
      if (r % 7 === 0) lines.push(JSON.stringify(event)); // a duplicate
    }
  }
  // Two versions of one eventId on two pods: one is kept, the other refused, whichever unit holds it.
  const first = usage({
    gpuSku: SKU,
    pod: 'vllm-1',
    eventId: 'evt-twice',
    startedAt: at(5),
    finishedAt: at(9),
  });
  const second = { ...first, pod: 'vllm-7', completionTokens: 99 };
  lines.push(JSON.stringify(first), '{not json', JSON.stringify({ type: 'usage' }), JSON.stringify(second));
  // A pod spelled with an escape: the spill cannot see it is vllm-3's, the day's check must.
  lines.push(
    JSON.stringify(usage({ gpuSku: SKU, pod: 'vllm-3', startedAt: at(3000), finishedAt: at(3100) })).replace(
      '"pod":"vllm-3"',
      '"pod":"vllm\\u002d3"',
    ),
  );
  return lines;
}

async function report(events: string, out: string, extra: string[]): Promise<number> {
  const result = await runMain([
    'report',
    '--events',
    events,
    '--prices',
    PRICES,
    '--date',
    DAY,
    '--out',
    out,
    ...extra,
  ]);
  return result.code;
}

/** Every file's bytes, generation times blanked (the two runs are made at different instants). */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const bytes = readFileSync(join(dir, name));
    out[name] = name.endsWith('.gz')
      ? bytes.toString('base64')
      : bytes.toString('utf8').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'T');
  }
  return out;
}

describe('chargeback report in units', () => {
  it('writes the same bytes whether the day is one unit or cut by pod into many', async () => {
    const root = tempDir();
    const dir = join(root, 'events');
    mkdirSync(dir);
    const lines = day();
    // Two files, so that the rejected lines' file order is tested too.
    writeFileSync(join(dir, 'a.ndjson'), `${lines.slice(0, 200).join('\n')}\n`);
    writeFileSync(join(dir, 'b.ndjson'), `${lines.slice(200).join('\n')}\n`);
    const whole = join(root, 'whole');
    const cut = join(root, 'cut');
    expect(await report(dir, whole, [])).toBe(0);
    // 4 KB units: about a pod each.
    expect(await report(dir, cut, ['--unit-mb', '0.004'])).toBe(0);
    expect(files(cut)).toEqual(files(whole));
    const rejected = readFileSync(join(whole, `rejected-${DAY}.ndjson`), 'utf8')
      .trim()
      .split('\n');
    expect(rejected.map((l) => (JSON.parse(l) as { reason: string }).reason)).toEqual([
      expect.stringContaining('not valid JSON'),
      expect.any(String),
      expect.stringContaining('eventId "evt-twice" has another version'),
    ]);
  });
});
