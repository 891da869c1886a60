/**
 * The quality gate and retraining part of `npm start`: regression-harness results for two models
 * come in through the `evaluateQuality` handler (one passes, one regresses), the failed gate submits
 * a retraining job to a loopback Azure ML stand-in through the real SDK, the `qualityTimer` handler
 * follows it to completion, and its GPU-time is charged to the simulated day, so the day's report,
 * made afterwards, carries a `(retraining)` row. The nightly harness run that regressed goes
 * through a pod's sidecar, so the report carries its requests too. The run's clock is set inside
 * the simulated day.
 */
import { makeEvaluateQuality } from '../functions/evaluateQuality.js';
import { makeQualityTimer } from '../functions/qualityTimer.js';
import { followDeps, qualityDeps, type Services } from '../src/composition/composition.js';
import type { JobRecord } from '../src/domain/retrain/record.js';
import { usd } from '../src/domain/retrain/policy.js';
import type { PodIdentity } from '../src/sidecar/proxy-deps.js';
import type { AmlStandIn } from './aml-stand-in.js';
import { runEvaluation, startSuiteModel } from './evaluation-demo.js';
import { invoke } from './event-hub-delivery.js';
import { quietContext, TIMER } from './functions-runtime.js';
import { startMeteredPod } from './metered-pod.js';

export const PASSING_MODEL = 'qwen2.5-14b-instruct';
export const REGRESSED_MODEL = 'llama-3.1-8b-instruct';

/**
 * A clock the demo moves through the simulated day: set to an instant, it runs on from there at
 * the real pace, so what a sidecar measures between two steps (a request's duration) is real.
 */
export class DemoClock {
  private at: number;
  private setAt = Date.now();
  constructor(iso: string) {
    this.at = Date.parse(iso);
  }
  readonly ms = (): number => this.at + (Date.now() - this.setAt);
  readonly now = (): Date => new Date(this.ms());
  set(iso: string): void {
    this.at = Date.parse(iso);
    this.setAt = Date.now();
  }
}

function evaluation(
  eventId: string,
  model: string,
  modelVersion: string,
  dataset: string,
  metrics: Record<string, number>,
  evaluatedAt: string,
): Record<string, unknown> {
  return {
    type: 'evaluation',
    schemaVersion: 1,
    eventId,
    model,
    modelVersion,
    dataset,
    metrics,
    evaluatedAt,
    commit: 'a1b2c3d',
  };
}

/** Where the harness's requests go: a pod's sidecar, and the hub its events are published to. */
export interface HarnessRoute {
  /** The pod of the served model the harness's requests reach (one of the simulated fleet's). */
  readonly pod: PodIdentity;
  /** Publishes what the pod's sidecar sent to the usage hub, and delivers it to `ingestUsage`. */
  deliver(events: readonly Record<string, unknown>[]): Promise<void>;
}

/**
 * The harness's scheduled run: suites/support-qa through the sidecar of a pod serving llama
 * version 7 (a stand-in that answers wrongly, and once with a blocked word), so its requests are
 * metered and charged to the tenant and feature the suite names; the event is what `chargeback
 * evaluate --send` would send.
 */
async function scheduledEvaluation(
  date: string,
  clock: DemoClock,
  route: HarnessRoute,
  print: (line: string) => void,
): Promise<Record<string, unknown>> {
  clock.set(`${date}T05:50:00Z`);
  const served = await startSuiteModel('suites/support-qa', REGRESSED_MODEL, 'regressed', '7');
  const sidecar = await startMeteredPod({ upstream: served.url, identity: route.pod, now: clock.ms });
  try {
    const run = await runEvaluation({
      endpoint: sidecar.url,
      model: REGRESSED_MODEL,
      suiteDir: 'suites/support-qa',
      modelVersion: '7',
      commit: 'a1b2c3d',
      now: clock.now,
    });
    const metrics = run.event.metrics as Record<string, number>;
    print(
      `chargeback evaluate (scheduled): suites/support-qa on ${REGRESSED_MODEL} 7, ${metrics.cases} cases, ` +
        `completed ${metrics.completed}, exact_match ${metrics.exact_match?.toFixed(2)}, f1 ${metrics.f1?.toFixed(2)}, toxicity ${metrics.toxicity?.toFixed(2)}`,
    );
    return run.event;
  } finally {
    const events = await sidecar.stop();
    await served.stop();
    await route.deliver(events);
    const usage = events.filter((e) => e.type === 'usage');
    print(
      `  its ${usage.length} requests went through the sidecar of ${route.pod.pod}: ${usage.length} usage events ` +
        `(tenant ${String(usage[0]?.tenant)}, feature ${String(usage[0]?.feature)}) delivered to ingestUsage`,
    );
  }
}

/** Runs the demo on `date`; returns the retraining job it charged. */
export async function qualityDemo(
  s: Services,
  aml: AmlStandIn,
  date: string,
  clock: DemoClock,
  route: HarnessRoute,
  print: (line: string) => void,
): Promise<JobRecord | undefined> {
  const before = new Date(Date.parse(`${date}T06:00:00Z`) - 2 * 86_400_000).toISOString();
  const events = [
    evaluation(
      'eval-qwen-1',
      PASSING_MODEL,
      '4',
      'regression-suite@2',
      { exact_match: 0.74, f1: 0.83, toxicity: 0.003 },
      `${date}T05:40:00Z`,
    ),
    evaluation(
      'eval-llama-6',
      REGRESSED_MODEL,
      '6',
      'support-qa@3',
      { exact_match: 0.82, f1: 0.88, toxicity: 0.004 },
      before,
    ),
    // The nightly run of the harness (chargeback evaluate) on the served version 7, which regressed.
    await scheduledEvaluation(date, clock, route, print),
    '{"type":"evaluation","schemaVersion":1,"eventId":"truncated',
  ];
  const log = (m: string): void => {
    print(`    note: ${m}`);
  };
  clock.set(`${date}T06:00:00Z`);
  const evaluate = makeEvaluateQuality(() => Promise.resolve(qualityDeps(s, { now: clock.now, log })));
  await invoke(
    evaluate,
    '0',
    events.map((body, i) => ({ body, sequenceNumber: i, enqueuedTime: `${date}T06:00:00Z` })),
  );
  print(
    `evaluateQuality: ${events.length} evaluation messages (one truncated: dead-lettered with its reason)`,
  );
  for (const model of [PASSING_MODEL, REGRESSED_MODEL]) {
    const v = (await s.quality.lastVerdict(model))?.verdict;
    if (v === undefined) continue;
    print(
      `  gate ${v.verdict.toUpperCase()} ${model} ${v.modelVersion ?? ''}${v.reasons.length > 0 ? `: ${v.reasons.join('; ')}` : ''}`,
    );
  }
  const timer = makeQualityTimer(() => {
    const follow = followDeps(s, { now: clock.now, log });
    return Promise.resolve({
      quality: qualityDeps(s, { now: clock.now, log }),
      ...(follow === undefined ? {} : { follow }),
    });
  });
  const job = (await s.retrainingStore.jobs()).find((r) => r.model === REGRESSED_MODEL);
  if (job === undefined) {
    print('  no retraining job was submitted');
    return undefined;
  }
  print(
    `  retraining job ${job.name} submitted to the Azure ML stand-in: ${job.status}, estimated ${usd(job.estimatedMicroUsd)} (${job.instanceCount} × ${job.gpuSku})`,
  );
  for (const [at, status] of [
    [`${date}T06:15:00Z`, 'Running'],
    [`${date}T09:40:00Z`, 'Completed'],
  ] as const) {
    clock.set(at);
    aml.finish(job.name, status);
    clock.set(new Date(Date.parse(at) + 5 * 60_000).toISOString());
    await timer(TIMER, quietContext('qualityTimer'));
    const now = (await s.retrainingStore.job(job.name))?.value;
    print(`  qualityTimer ${clock.now().toISOString().slice(11, 16)}: ${job.name} is ${now?.status ?? '?'}`);
  }
  const ended = (await s.retrainingStore.job(job.name))?.value;
  if (ended?.gpuSeconds !== undefined && ended.costMicroUsd !== undefined)
    print(
      `  charged ${(ended.gpuSeconds / 3600).toFixed(2)} GPU-hours = ${usd(ended.costMicroUsd)} to ${date} as tenant (retraining), feature ${ended.model}`,
    );
  return ended;
}
