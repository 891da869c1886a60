/**
 * The size of `metrics-DATE.json` (contracts.md §8: kilobytes, not a copy of the events) for the simulated
 * day that `npm start` reports: 8 pods, 100k requests, 1% sent twice. Prints the sizes of the CSV,
 * the summary and the metrics file, raw and gzipped, and the number of groups.
 * Run: node --import tsx bench/metrics-size.ts
 */
import { gzipSync } from 'node:zlib';
import { fleetTraffic } from '../dev/fleet-traffic.js';
import { readPriceCard } from '../src/composition/files.js';
import { EventAccumulator } from '../src/domain/accumulator.js';
import { parseDay } from '../src/domain/days.js';
import { parseRecord } from '../src/domain/fast-parse.js';
import { buildReport } from '../src/domain/report/build.js';
import { DEFAULT_WEIGHTING } from '../src/domain/weighting.js';

const date = '2026-11-22';
const prices = readPriceCard('prices/azure-a100.json');
const traffic = fleetTraffic({
  date,
  pods: 8,
  seed: 1,
  requests: 100_000,
  duplicateRate: 0.01,
  partitions: 4,
});
const accumulator = new EventAccumulator(prices);
for (const partition of traffic.hub.partitions) {
  for (const message of partition) accumulator.add(parseRecord(message.body, accumulator.intern));
}
const day = parseDay(date);
if (day === undefined) throw new Error(date);
const report = buildReport({
  date,
  dayStart: day.start,
  dayEnd: day.end,
  usage: accumulator.usage(),
  capacity: accumulator.capacity(),
  counts: accumulator.counts,
  prices,
  weighting: DEFAULT_WEIGHTING,
  idle: 'separate',
  revision: 1,
  generatedAt: new Date().toISOString(),
});
const kb = (text: string): string =>
  `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB (gzip ${(gzipSync(text).length / 1024).toFixed(1)} KiB)`;
console.log(
  `${accumulator.counts.usageEvents} requests, ${report.dailyMetrics.groups.length} groups, ${report.dailyMetrics.pods.length} pods`,
);
console.log(`chargeback-${date}.csv   ${kb(report.csv)}`);
console.log(`summary-${date}.json     ${kb(report.summary)}`);
console.log(`metrics-${date}.json     ${kb(report.metrics)}`);
