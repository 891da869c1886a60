/**
 * Does the allocation find the fleet's own step costs? For engines whose constants differ from the
 * defaults, the fitted constants against the engine's, and the allocation's distance from the truth
 * (total variation over tenant x feature x model shares of busy GPU-time) with the default
 * constants, time-share, and each deployment's fitted constants.
 * Run: `npm run build && node dist/bench/calibration.js [requests]`.
 */
import { readFileSync } from 'node:fs';
import { EventAccumulator } from '../src/domain/accumulator.js';
import { calibrate, deploymentKey } from '../src/domain/calibration/calibrate.js';
import { computeChargeback } from '../src/domain/chargeback.js';
import { dayOfMs, parseDay } from '../src/domain/days.js';
import { parseRecord } from '../src/domain/fast-parse.js';
import { loadPriceCard } from '../src/domain/prices.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../src/domain/weighting.js';
import { STEP_MS, type StepCosts } from '../src/simulator/engine.js';
import { simulateDay, type Variant } from '../src/simulator/simulate.js';

const DATE = '2026-11-22';
const NEXT = '2026-11-23';
const [scale = 1] = process.argv.slice(2).map(Number);
const prices = loadPriceCard(
  JSON.parse(readFileSync(new URL('../../prices/azure-a100.json', import.meta.url), 'utf8')),
);

const costs = (change: Partial<StepCosts>): StepCosts => ({ ...STEP_MS, ...change });
const both = (stepCosts: StepCosts): Variant => ({
  models: { 'llama-3.1-8b-instruct': { stepCosts }, 'qwen2.5-14b-instruct': { stepCosts } },
});
const SCENARIOS: { name: string; pods: number; requests: number; variant?: Variant }[] = [
  { name: 'default constants, 6 pods', pods: 6, requests: 60_000 },
  {
    name: 'prefill x0.5',
    pods: 6,
    requests: 60_000,
    variant: both(costs({ prefillPerToken: STEP_MS.prefillPerToken / 2 })),
  },
  {
    name: 'prefill x2',
    pods: 6,
    requests: 60_000,
    variant: both(costs({ prefillPerToken: STEP_MS.prefillPerToken * 2 })),
  },
  {
    name: 'fixed step x2 (a bigger model)',
    pods: 6,
    requests: 60_000,
    variant: both(costs({ base: STEP_MS.base * 2 })),
  },
  {
    name: 'saturated, all constants 2x away',
    pods: 3,
    requests: 150_000,
    variant: both(
      costs({
        base: STEP_MS.base * 2,
        prefillPerToken: STEP_MS.prefillPerToken * 2,
        decodePerToken: STEP_MS.decodePerToken / 2,
        perContextToken: STEP_MS.perContextToken * 2,
      }),
    ),
  },
  { name: 'quiet pods', pods: 8, requests: 8_000 },
];

const lines = [
  '| scenario | deployment | fitted F / prefill / decode / context (engine) | requests | TV default | TV time-share | TV calibrated |',
  '|---|---|---|---|---|---|---|',
];
for (const scenario of SCENARIOS) {
  const accumulator = new EventAccumulator(prices);
  const truth = new Map<string, number>();
  for (const event of simulateDay({
    date: DATE,
    pods: scenario.pods,
    seed: 21,
    requests: Math.round(scenario.requests * scale),
    ...(scenario.variant === undefined ? {} : { variant: scenario.variant }),
  })) {
    accumulator.add(parseRecord(event.json, accumulator.intern));
    const t = event.truth;
    if (t !== undefined) {
      const json = event.json as { model: string };
      const key = `${t.tenant}|${t.feature}|${json.model}`;
      truth.set(key, (truth.get(key) ?? 0) + t.gpuMicros);
    }
  }
  const started = Date.now();
  const calibration = calibrate(accumulator.usage(), DEFAULT_WEIGHTING);
  const fitMs = Date.now() - started;
  const allocate = (weighting: Weighting, calibrated = false): Map<string, number> => {
    const byKey = new Map<string, number>();
    for (const date of [DATE, NEXT]) {
      const day = parseDay(date);
      if (day === undefined) throw new Error(date);
      const result = computeChargeback({
        date,
        dayStart: day.start,
        dayEnd: day.end,
        usage: accumulator.usage(),
        capacity: accumulator.capacity(),
        prices,
        weighting,
        ...(calibrated
          ? {
              weightingFor: (d: { model: string; gpuSku: string; gpuCount: number }) =>
                calibration.get(deploymentKey(d))?.weighting,
            }
          : {}),
        idle: 'separate',
      });
      for (const row of result.rows) {
        if (row.idle) continue;
        const key = `${row.tenant}|${row.feature}|${row.model}`;
        byKey.set(key, (byKey.get(key) ?? 0) + row.gpuMicros);
      }
    }
    return byKey;
  };
  const tv = (allocated: Map<string, number>): string => {
    const a = [...allocated.values()].reduce((x, y) => x + y, 0);
    const t = [...truth.values()].reduce((x, y) => x + y, 0);
    let sum = 0;
    for (const key of new Set([...allocated.keys(), ...truth.keys()]))
      sum += Math.abs((allocated.get(key) ?? 0) / a - (truth.get(key) ?? 0) / t);
    return `${((sum / 2) * 100).toFixed(2)}%`;
  };
  const [d, ts, c] = [
    tv(allocate(DEFAULT_WEIGHTING)),
    tv(allocate({ kind: 'time-share' })),
    tv(allocate(DEFAULT_WEIGHTING, true)),
  ];
  const engine = scenario.variant?.models?.['llama-3.1-8b-instruct']?.stepCosts ?? STEP_MS;
  let first = true;
  for (const cal of calibration.values()) {
    const f = cal.fit?.constants;
    const factor = cal.model.startsWith('qwen') ? 1.1 : 1;
    const fitted =
      f === undefined
        ? 'no fit'
        : `${f.fixedMs.toFixed(2)} / ${f.prefillMsPerToken.toFixed(4)} / ${f.decodeMsPerToken.toFixed(4)} / ${f.decodeMsPerContextToken.toExponential(2)} (${(engine.base * factor).toFixed(2)} / ${(engine.prefillPerToken * factor).toFixed(4)} / ${(engine.decodePerToken * factor).toFixed(4)} / ${(engine.perContextToken * factor).toExponential(2)})`;
    lines.push(
      `| ${first ? scenario.name : ''} | ${cal.model}${cal.source === 'fitted' ? '' : ` (configured: ${cal.reason ?? ''})`} | ${fitted} | ${cal.fit?.requests ?? 0} | ${first ? d : ''} | ${first ? ts : ''} | ${first ? `${c} (fit ${fitMs} ms)` : ''} |`,
    );
    first = false;
  }
}
process.stdout.write(`allocation calibration, ${dayOfMs(Date.now())}\n\n${lines.join('\n')}\n`);
