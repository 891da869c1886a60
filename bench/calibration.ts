/**
 * Does the allocation find the fleet's own step costs? For engines whose constants differ from the
 * defaults, the fitted constants against the engine's, and the allocation's distance from the truth
 * (total variation over tenant x feature x model shares of busy GPU-time) with the default
 * constants, time-share, and each deployment's fitted constants.
 * A second table compares the event fit with the fit of vLLM's Prometheus metrics
 * (`chargeback calibrate`), scraped every 60 s of simulated time from one interactive pod per model.
 * Scenarios named `vllm-like:` run the vLLM-like engine (src/simulator/vllm-like.ts) instead.
 * Run: `npm run build && node dist/bench/calibration.js [scale] [name filter]`, or from source
 * `node --import tsx bench/calibration.ts [scale] [name filter]`.
 */
import { readFileSync } from 'node:fs';
import { EventAccumulator } from '../src/domain/accumulator.js';
import { calibrate, deploymentKey } from '../src/domain/calibration/calibrate.js';
import { fitScrapes, parseExposition, type Scrape } from '../src/domain/calibration/prometheus.js';
import { allocatedByKey } from './allocated.js';
import { dayOfMs } from '../src/domain/days.js';
import { parseRecord } from '../src/domain/fast-parse.js';
import { loadPriceCard } from '../src/domain/prices.js';
import { DEFAULT_WEIGHTING, type Weighting } from '../src/domain/weighting.js';
import { STEP_MS, type StepCosts } from '../src/simulator/engine.js';
import type { VllmLikeCosts } from '../src/simulator/vllm-like.js';
import { simulateDay, type Variant } from '../src/simulator/simulate.js';
import { MODELS } from '../src/simulator/workload.js';

const DATE = '2026-11-22';
const NEXT = '2026-11-23';
const scale = Number(process.argv[2] ?? 1);
/** Only the scenarios whose name contains this (all when not given). */
const only = process.argv[3];
const prices = loadPriceCard(
  // dist/bench/ after a build, bench/ when run from source with tsx
  JSON.parse(
    readFileSync(
      new URL(
        import.meta.url.includes('/dist/') ? '../../prices/azure-a100.json' : '../prices/azure-a100.json',
        import.meta.url,
      ),
      'utf8',
    ),
  ),
);

const costs = (change: Partial<StepCosts>): StepCosts => ({ ...STEP_MS, ...change });
const both = (stepCosts: StepCosts): Variant => ({
  models: { 'llama-3.1-8b-instruct': { stepCosts }, 'qwen2.5-14b-instruct': { stepCosts } },
});
/**
 * The vLLM-like engine (src/simulator/vllm-like.ts) with constants the allocation is not told: a
 * fixed step 1.2x the default, linear prefill 0.8x, decode 1.5x, context reads 0.7x, and attention
 * that makes up about 18% of a 6,000-token prompt's prefill.
 */
const VLLM: VllmLikeCosts = {
  base: STEP_MS.base * 1.2,
  prefillPerToken: STEP_MS.prefillPerToken * 0.8,
  attentionPerTokenPair: (((STEP_MS.prefillPerToken * 0.8 * 0.18) / 0.82) * 2) / 6000,
  decodePerToken: STEP_MS.decodePerToken * 1.5,
  perContextToken: STEP_MS.perContextToken * 0.7,
  kvCacheTokens: 400_000,
};
const vllm = (change: Partial<VllmLikeCosts> = {}, promptScale?: Record<string, number>): Variant => ({
  models: {
    'llama-3.1-8b-instruct': { vllmLike: { ...VLLM, ...change } },
    'qwen2.5-14b-instruct': { vllmLike: { ...VLLM, ...change } },
  },
  ...(promptScale === undefined ? {} : { promptScale }),
});
/** Search answers as RAG prompts of about 6,000 tokens. */
const RAG = { 'search-answer': 6000 / 2600 };
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
  {
    name: 'two engines: qwen bigger, tensor parallel',
    pods: 6,
    requests: 60_000,
    variant: {
      models: {
        // A bigger model over 4 GPUs: its own constants, not the 8B's scaled by one factor.
        'qwen2.5-14b-instruct': {
          gpuSku: 'Standard_NC96ads_A100_v4',
          gpuCount: 4,
          stepFactor: 1,
          stepCosts: costs({
            base: STEP_MS.base * 2.5,
            prefillPerToken: STEP_MS.prefillPerToken * 1.6,
            decodePerToken: STEP_MS.decodePerToken * 1.5,
            perContextToken: STEP_MS.perContextToken * 2,
          }),
        },
      },
    },
  },
  { name: 'vllm-like: quiet pods', pods: 8, requests: 8_000, variant: vllm() },
  { name: 'vllm-like: 6 pods', pods: 6, requests: 60_000, variant: vllm() },
  {
    name: 'vllm-like: saturated, chat + 6,000-token RAG + classifications',
    pods: 3,
    requests: 150_000,
    variant: vllm({}, RAG),
  },
  {
    name: 'vllm-like: saturated harder (250,000 requests on 3 pods)',
    pods: 3,
    requests: 250_000,
    variant: vllm({}, RAG),
  },
  {
    name: 'vllm-like: batch pods preempting (KV cache of 150,000 tokens)',
    pods: 6,
    requests: 60_000,
    variant: vllm({ kvCacheTokens: 150_000 }),
  },
  {
    name: 'vllm-like: batch pods preempting (KV cache of 60,000 tokens)',
    pods: 6,
    requests: 60_000,
    variant: vllm({ kvCacheTokens: 60_000 }),
  },
];

/** The constants a model's engine really runs with in a scenario: its step costs times its step factor. */
function engineOf(variant: Variant | undefined, model: string): StepCosts {
  const profile = MODELS.find((m) => m.name === model);
  const change = variant?.models?.[model];
  const c = change?.vllmLike ?? change?.stepCosts ?? profile?.stepCosts ?? STEP_MS;
  const f = change?.stepFactor ?? profile?.stepFactor ?? 1;
  return {
    base: c.base * f,
    prefillPerToken: c.prefillPerToken * f,
    decodePerToken: c.decodePerToken * f,
    perContextToken: c.perContextToken * f,
  };
}

/** The pods scraped: the first interactive pod of each model (pod i serves MODELS[i % 2]). */
const SCRAPED_PODS = [0, 1];
const SCRAPE_INTERVAL_MS = 60_000;
const comparison = [
  '| scenario | model | engine F / prefill / decode at mean context | event fit | Prometheus fit | intervals | mean context |',
  '|---|---|---|---|---|---|---|',
];
const triple = (f: number, p: number, d: number): string =>
  `${f.toFixed(2)} / ${p.toFixed(4)} / ${d.toFixed(4)}`;

const lines = [
  '| scenario | deployment | fitted F / prefill / decode / context (engine) | requests | TV default | TV time-share | TV calibrated |',
  '|---|---|---|---|---|---|---|',
];
for (const scenario of SCENARIOS.filter((s) => only === undefined || s.name.includes(only))) {
  const accumulator = new EventAccumulator(prices);
  const truth = new Map<string, number>();
  const scrapes = new Map<string, { model: string; list: Scrape[] }>();
  // Per scraped pod: the context read by its decode tokens, summed, and the number of those tokens.
  const contexts = new Map<string, { sum: number; tokens: number }>();
  for (const event of simulateDay({
    date: DATE,
    pods: scenario.pods,
    seed: 21,
    requests: Math.round(scenario.requests * scale),
    ...(scenario.variant === undefined ? {} : { variant: scenario.variant }),
    scrapes: {
      intervalMs: SCRAPE_INTERVAL_MS,
      pods: SCRAPED_PODS,
      onScrape: (s) => {
        const entry = scrapes.get(s.pod) ?? { model: s.model, list: [] };
        entry.list.push(parseExposition(s.text, `${s.pod} scrape ${s.index}`));
        scrapes.set(s.pod, entry);
      },
    },
  })) {
    accumulator.add(parseRecord(event.json, accumulator.intern));
    const t = event.truth;
    if (t !== undefined) {
      const json = event.json as {
        model: string;
        pod: string;
        promptTokens: number;
        completionTokens: number;
      };
      const key = `${t.tenant}|${t.feature}|${json.model}`;
      truth.set(key, (truth.get(key) ?? 0) + t.gpuMicros);
      // Tokens 2..n read contexts of prompt + 1 .. prompt + n - 1.
      const m = json.completionTokens - 1;
      if (m > 0) {
        const c = contexts.get(json.pod) ?? { sum: 0, tokens: 0 };
        c.sum += m * json.promptTokens + (m * (m + 1)) / 2;
        c.tokens += m;
        contexts.set(json.pod, c);
      }
    }
  }
  const started = Date.now();
  const calibration = calibrate(accumulator.usage(), DEFAULT_WEIGHTING);
  const fitMs = Date.now() - started;
  const allocate = (weighting: Weighting, calibrated = false): Map<string, number> =>
    allocatedByKey(
      {
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
      },
      [DATE, NEXT],
      (row) => [`${row.tenant}|${row.feature}|${row.model}`],
    );
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
  let first = true;
  for (const cal of calibration.values()) {
    const f = cal.fit?.constants;
    const engine = engineOf(scenario.variant, cal.model);
    const fitted =
      f === undefined
        ? 'no fit'
        : `${f.fixedMs.toFixed(2)} / ${f.prefillMsPerToken.toFixed(4)} / ${f.decodeMsPerToken.toFixed(4)} / ${f.decodeMsPerContextToken.toExponential(2)} (${engine.base.toFixed(2)} / ${engine.prefillPerToken.toFixed(4)} / ${engine.decodePerToken.toFixed(4)} / ${engine.perContextToken.toExponential(2)})`;
    lines.push(
      `| ${first ? scenario.name : ''} | ${cal.model}${cal.source === 'fitted' ? '' : ` (configured: ${cal.reason ?? ''})`} | ${fitted} | ${cal.requests} | ${first ? d : ''} | ${first ? ts : ''} | ${first ? `${c} (fit ${fitMs} ms)` : ''} |`,
    );
    first = false;
  }
  first = true;
  for (const [pod, { model, list }] of [...scrapes].sort((a, b) => a[1].model.localeCompare(b[1].model))) {
    const engine = engineOf(scenario.variant, model);
    const c = contexts.get(pod);
    const context = c === undefined || c.tokens === 0 ? 0 : c.sum / c.tokens;
    const events = [...calibration.values()].find((d) => d.model === model)?.fit?.constants;
    const prom = fitScrapes(list).find((p) => p.model === model);
    comparison.push(
      `| ${first ? scenario.name : ''} | ${model} | ${triple(engine.base, engine.prefillPerToken, engine.decodePerToken + engine.perContextToken * context)} | ${
        events === undefined
          ? 'no fit'
          : triple(
              events.fixedMs,
              events.prefillMsPerToken,
              events.decodeMsPerToken + events.decodeMsPerContextToken * context,
            )
      } | ${
        prom?.fixedMs === undefined
          ? `no fit: ${prom?.reason ?? 'no scrapes'}`
          : triple(prom.fixedMs, prom.prefillMsPerToken ?? 0, prom.decodeMsPerToken ?? 0)
      } | ${prom?.intervals ?? 0} | ${context.toFixed(0)} |`,
    );
    first = false;
  }
}
process.stdout.write(
  `allocation calibration, ${dayOfMs(Date.now())}\n\n${lines.join('\n')}\n\n` +
    `event fit and Prometheus fit (one interactive pod per model, scraped every ${SCRAPE_INTERVAL_MS / 1000} s; decode at the mean context of its decode tokens), ${dayOfMs(Date.now())}\n\n${comparison.join('\n')}\n`,
);
