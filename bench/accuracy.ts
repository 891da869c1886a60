/**
 * How close does the allocation come to the GPU-time each tenant and feature really caused?
 * The simulator knows the GPU-time of every engine step and who was in it; this compares that
 * truth with the `step-cost` and `time-share` weightings and with a flat price per token.
 * Run: `npm run build && node dist/bench/accuracy.js [requests] [pods] [seed]`.
 */
import { readFileSync } from 'node:fs';
import { EventAccumulator } from '../src/domain/accumulator.js';
import { parseRecord } from '../src/domain/fast-parse.js';
import { loadPriceCard } from '../src/domain/prices.js';
import { dayOfMs } from '../src/domain/days.js';
import { allocatedByKey } from './allocated.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../src/domain/weighting.js';
import { simulateDay } from '../src/simulator/simulate.js';

const DATE = '2026-11-22';
const NEXT = '2026-11-23';
const [requests = 200_000, pods = 8, seed = 11] = process.argv.slice(2).map(Number);
const prices = loadPriceCard(
  JSON.parse(readFileSync(new URL('../../prices/azure-a100.json', import.meta.url), 'utf8')),
);

const accumulator = new EventAccumulator(prices);
const truth = new Map<string, number>(); // by tenant and by feature, GPU-microseconds
const tokens = new Map<string, number>();
let allTokens = 0;
let busyTruth = 0;
const add = (map: Map<string, number>, key: string, value: number): void => {
  map.set(key, (map.get(key) ?? 0) + value);
};
for (const event of simulateDay({ date: DATE, pods, seed, requests })) {
  accumulator.add(parseRecord(event.json, accumulator.intern));
  if (event.truth !== undefined) {
    const json = event.json as { promptTokens: number; completionTokens: number };
    const used = json.promptTokens + json.completionTokens;
    for (const key of [`tenant ${event.truth.tenant}`, `feature ${event.truth.feature}`]) {
      add(truth, key, event.truth.gpuMicros);
      add(tokens, key, used);
    }
    allTokens += used;
    busyTruth += event.truth.gpuMicros;
  }
}

function allocated(weighting: Weighting): Map<string, number> {
  return allocatedByKey(
    { usage: accumulator.usage(), capacity: accumulator.capacity(), prices, weighting },
    [DATE, NEXT],
    (row) => [`tenant ${row.tenant}`, `feature ${row.feature}`],
  );
}

const stepCost = allocated(DEFAULT_WEIGHTING);
const timeShare = allocated({ kind: 'time-share' });
// The simulator steps with the A100 constants the default uses; the allocation never sees which
// requests shared a step, only event timestamps. This column shows how much a wrong calibration
// (the H100 figures, unconverted: prefill 3x too cheap) would cost.
const miscalibrated = allocated({
  kind: 'step-cost',
  prefillMsPerToken: 0.0277,
  decodeMsPerToken: 0.0092,
  decodeMsPerContextToken: 0.0000426,
});
const pct = (value: number, reference: number): string =>
  `${(((value - reference) / reference) * 100).toFixed(1)}%`;
const lines = [
  '| who | true GPU-s | step-cost (default) | step-cost, H100 constants | time-share | flat per token |',
  '|---|---|---|---|---|---|',
];
const errors = { step: 0, h100: 0, time: 0, flat: 0, weight: 0 };
for (const [key, micros] of [...truth.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
  const flat = (busyTruth * (tokens.get(key) ?? 0)) / allTokens;
  const s = stepCost.get(key) ?? 0;
  const t = timeShare.get(key) ?? 0;
  const h = miscalibrated.get(key) ?? 0;
  lines.push(
    `| ${key} | ${(micros / 1e6).toFixed(0)} | ${pct(s, micros)} | ${pct(h, micros)} | ${pct(t, micros)} | ${pct(flat, micros)} |`,
  );
  if (key.startsWith('tenant ')) {
    errors.step += Math.abs(s - micros);
    errors.h100 += Math.abs(h - micros);
    errors.time += Math.abs(t - micros);
    errors.flat += Math.abs(flat - micros);
    errors.weight += micros;
  }
}
const mean = (e: number): string => `${((e / errors.weight) * 100).toFixed(1)}%`;
lines.push(
  `| tenants, weighted mean absolute error | | ${mean(errors.step)} | ${mean(errors.h100)} | ${mean(errors.time)} | ${mean(errors.flat)} |`,
);
process.stdout.write(
  `allocation accuracy, ${dayOfMs(Date.now())}: ${requests} requests, ${pods} pods, seed ${seed}\n\n${lines.join('\n')}\n`,
);
