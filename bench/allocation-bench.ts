/**
 * Times allocatePod alone (the sweep over one pod's day) on synthetic pods: 100k requests (about
 * six active at a time) and a capacity window per minute, in both weightings. Prints the median
 * of repeated runs. `npx tsx bench/allocation-bench.ts [requests] [runs]`.
 */
import { readFileSync } from 'node:fs';
import { allocatePod, canonicalOrder, type PodTimeline } from '../src/domain/allocation.js';
import type { Interval } from '../src/domain/intervals.js';
import { loadPriceCard } from '../src/domain/prices.js';
import type { UsageRecord } from '../src/domain/records.js';
import { parseTimestamp } from '../src/domain/timestamp.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../src/domain/weighting.js';

const requests = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 15);
const root = new URL('..', import.meta.url).pathname;
const prices = loadPriceCard(JSON.parse(readFileSync(`${root}prices/azure-a100.json`, 'utf8')));
const dayStart = parseTimestamp('2026-11-22T00:00:00Z') ?? 0;
const dayEnd = dayStart + 86_400_000_000;
const SKU = 'Standard_NC24ads_A100_v4';

// A fixed linear congruential generator: every run times the same pod.
let seed = 7;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

function timeline(): PodTimeline {
  const windows: Interval[] = [];
  for (let minute = 0; minute < 1440; minute += 1) {
    windows.push({ start: dayStart + minute * 60_000_000, end: dayStart + (minute + 1) * 60_000_000 });
  }
  const records: UsageRecord[] = [];
  for (let i = 0; i < requests; i += 1) {
    const startedAt = dayStart + Math.floor(random() * 86_390_000_000);
    const prefill = Math.floor(random() * 500_000);
    const decode = Math.floor(random() * 10_000_000);
    records.push({
      type: 'usage',
      eventId: `e${i}`,
      requestId: `r${i}`,
      tenant: 't',
      feature: 'f',
      model: 'm',
      requestClass: 'interactive',
      pod: 'p',
      gpuSku: SKU,
      gpuCount: 1,
      startedAt,
      firstTokenAt: startedAt + prefill,
      finishedAt: startedAt + prefill + decode,
      promptTokens: 200 + Math.floor(random() * 2000),
      completionTokens: Math.floor(random() * 500),
      cachedPromptTokens: 0,
      queueMs: random() * 50,
      status: 'ok',
    });
  }
  records.sort(canonicalOrder);
  return { pod: 'p', model: 'm', gpuSku: SKU, gpuCount: 1, windows, requests: records };
}

const pod = timeline();
for (const weighting of [DEFAULT_WEIGHTING, { kind: 'time-share' } as Weighting]) {
  const times: number[] = [];
  let check = '';
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const allocation = allocatePod(pod, dayStart, dayEnd, prices, weighting);
    times.push(performance.now() - started);
    // Every share, so that a change of the sweep that alters any result shows in the output.
    let hash = 0;
    for (const share of allocation.shares) hash = (hash * 31 + share.nanos * 7 + share.gpuMicros) % 1e15;
    check = `${allocation.idleNanos}/${allocation.idleGpuMicros}/${hash}`;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
  const best = times[0] ?? Number.NaN;
  console.log(
    `${weighting.kind}: ${requests} requests, median ${median.toFixed(1)} ms, best ${best.toFixed(1)} ms (check ${check})`,
  );
}
