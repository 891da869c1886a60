import type { Random } from './random.js';
import { FEATURES, type FeatureProfile, type ModelProfile } from './workload.js';
import { STEP_MS } from './engine.js';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

export interface Arrival {
  /** Milliseconds since the start of the simulated UTC day. */
  readonly at: number;
  readonly feature: FeatureProfile;
}

/** A fleet-wide surge (a launch, an incident, a newsletter): every interactive pod sees it. */
export interface Burst {
  readonly startMinute: number;
  readonly endMinute: number;
  readonly factor: number;
}

export function drawBursts(random: Random): Burst[] {
  const bursts: Burst[] = [];
  for (let i = 0; i < 6; i += 1) {
    const startMinute = Math.floor(random.uniform(7 * 60, 21 * 60));
    bursts.push({
      startMinute,
      endMinute: startMinute + Math.floor(random.uniform(4, 16)),
      factor: random.uniform(3, 6),
    });
  }
  return bursts;
}

/** Relative interactive load by minute of the UTC day: a quiet night, a morning rise, an afternoon peak. */
function diurnal(minute: number): number {
  const hour = minute / 60;
  return 0.06 + Math.exp(-(((hour - 14.5) / 3.8) ** 2)) + 0.35 * Math.exp(-(((hour - 9) / 1.5) ** 2));
}

/**
 * Arrivals of an interactive pod: a Poisson process whose rate follows the day and the bursts,
 * about `count` in all, plus a small nightly batch job (report-digest) that shares the pod.
 */
export function interactiveArrivals(random: Random, count: number, bursts: readonly Burst[]): Arrival[] {
  const digest = Math.round(count * 0.04);
  const weights = new Float64Array(DAY_MINUTES);
  let total = 0;
  for (let m = 0; m < DAY_MINUTES; m += 1) {
    let w = diurnal(m);
    for (const b of bursts) if (m >= b.startMinute && m < b.endMinute) w *= b.factor;
    weights[m] = w;
    total += w;
  }
  const arrivals: Arrival[] = [];
  const online: readonly (readonly [FeatureProfile, number])[] = [
    [FEATURES.chat, 55],
    [FEATURES.codeAssist, 25],
    [FEATURES.searchAnswer, 20],
  ];
  for (let m = 0; m < DAY_MINUTES; m += 1) {
    const perMinute = ((count - digest) * (weights[m] ?? 0)) / total;
    if (perMinute <= 0) continue;
    const end = (m + 1) * MINUTE_MS;
    for (let t = m * MINUTE_MS + random.exponential(MINUTE_MS / perMinute); t < end;) {
      arrivals.push({ at: t, feature: random.pick(online) });
      t += random.exponential(MINUTE_MS / perMinute);
    }
  }
  // The digest job runs 02:00-05:00 on the interactive pods, when they are otherwise quiet.
  pushJob(arrivals, random, FEATURES.reportDigest, digest, 2 * 60 * MINUTE_MS, 3 * 60 * MINUTE_MS);
  return arrivals.sort((a, b) => a.at - b.at);
}

interface Job {
  readonly startMinute: number;
  readonly feature: FeatureProfile;
  readonly share: number;
}

const BATCH_JOBS: readonly Job[] = [
  { startMinute: 60, feature: FEATURES.summarizeDocs, share: 0.35 },
  { startMinute: 6 * 60 + 30, feature: FEATURES.classifyTickets, share: 0.25 },
  { startMinute: 13 * 60, feature: FEATURES.translate, share: 0.15 },
  // Late enough that a large day spills past midnight, as real backfills do.
  { startMinute: 21 * 60 + 30, feature: FEATURES.summarizeDocs, share: 0.25 },
];

/**
 * Arrivals of a batch pod: four jobs a day, each submitted at about 90% of what the pod can serve
 * (so queues form and drain), never after the end of the day.
 */
export function batchArrivals(random: Random, count: number, model: ModelProfile): Arrival[] {
  const arrivals: Arrival[] = [];
  let left = count;
  BATCH_JOBS.forEach((job, index) => {
    const n = index === BATCH_JOBS.length - 1 ? left : Math.round(count * job.share);
    left -= n;
    const start = job.startMinute * MINUTE_MS;
    const duration = Math.min((n * serviceMs(job.feature, model)) / 0.9, 24 * 60 * MINUTE_MS - start - 1);
    pushJob(arrivals, random, job.feature, n, start, Math.max(duration, MINUTE_MS));
  });
  return arrivals.sort((a, b) => a.at - b.at);
}

function pushJob(
  arrivals: Arrival[],
  random: Random,
  feature: FeatureProfile,
  n: number,
  start: number,
  duration: number,
): void {
  for (let i = 0; i < n; i += 1) arrivals.push({ at: start + random.next() * duration, feature });
}

/** Mean GPU milliseconds a request of this feature needs on a busy pod (about 48 sequences per step). */
function serviceMs(feature: FeatureProfile, model: ModelProfile): number {
  const mean = (d: { median: number; sigma: number }): number => d.median * Math.exp((d.sigma * d.sigma) / 2);
  const prompt = mean(feature.prompt);
  const completion = mean(feature.completion);
  const uncached = prompt - feature.cachedPrefix.tokens * feature.cachedPrefix.probability;
  return (
    model.stepFactor *
    (STEP_MS.prefillPerToken * uncached +
      completion * (STEP_MS.decodePerToken + STEP_MS.perContextToken * (prompt + completion / 2)) +
      (completion * STEP_MS.base) / 48)
  );
}
