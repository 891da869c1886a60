/**
 * The memory and time replay-workload takes to sample a day of real traffic: one model's sample of
 * 500 (and 20 a group) from an NDJSON file, read one event at a time (what the command does) and,
 * for comparison, with every event held (readEventSet, as the command read it first). Run:
 * `node --import tsx bench/replay-sample.ts FILE MODEL stream|held` (one mode a process, so each
 * peak RSS is its own); `chargeback simulate --requests 1000000 --pods 24` makes such a file.
 */
import { eachUsageEvent, readEventSet } from '../src/cli/event-input.js';
import { readPricesOption } from '../src/cli/prices-option.js';
import { WorkloadSampler } from '../src/domain/replay/sampler.js';
import { sampleWorkload } from '../src/domain/replay/workload.js';

const [file, model, mode] = process.argv.slice(2);
if (file === undefined || model === undefined || (mode !== 'stream' && mode !== 'held')) {
  console.error('usage: replay-sample.ts FILE MODEL stream|held');
  process.exit(2);
}
const prices = await readPricesOption('prices/azure-a100.json');
const started = performance.now();
let chosen: number;
let eligible: number;
if (mode === 'stream') {
  const sampler = new WorkloadSampler(model, 500, undefined, 20);
  await eachUsageEvent(file, prices, '--events', (u) => {
    sampler.add(u);
  });
  const r = sampler.result();
  chosen = r.chosen.length;
  eligible = r.eligible;
} else {
  const events = await readEventSet(file, prices, '--events');
  const r = sampleWorkload(events.usage, model, 500, undefined, 20);
  chosen = r.chosen.length;
  eligible = r.eligible;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${mode}: ${chosen} chosen of ${eligible} in ${seconds.toFixed(1)} s, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
);
