/**
 * The retrained model earns its way back, for `npm start` (docs/promotion.md). The quality timer
 * registered the completed job's output (version = the job's name); the canary overlay is
 * rendered, and its pod (a stand-in serving the candidate behind its own sidecar, holding an A100
 * of its own) is evaluated by the harness with the same suite. The same sample of the day's
 * workload of the model is then replayed through the pod in service and through the canary, and
 * `chargeback cost-gate --model` compares the two runs. `chargeback promote`'s code decides from
 * that evidence, writes the verdict and the overlay, and the verdict is stored and posted to Teams
 * once. Every request of it goes through a sidecar, and its events are delivered to `ingestUsage`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseCostGateArgs, runCostGate } from '../src/cli/cost-gate-command.js';
import type { Services } from '../src/composition/composition.js';
import { promotionStore } from '../src/composition/promotion.js';
import type { PodIdentity } from '../src/sidecar/proxy-deps.js';
import { publishPromotion } from '../src/usecases/quality/promotion.js';
import type { AmlStandIn } from './aml-stand-in.js';
import { runEvaluation, startSuiteModel } from './evaluation-demo.js';
import { startMeteredPod } from './metered-pod.js';
import { decidePromotion, prepareCandidate } from './promotion-demo.js';
import type { DemoClock, HarnessRoute } from './quality-demo.js';
import { REPLAY_TENANT, replayThrough } from './replay-demo.js';

export interface CanaryDemoInput {
  readonly s: Services;
  readonly aml: AmlStandIn;
  readonly date: string;
  readonly jobName: string;
  readonly model: string;
  /** The version in service, and its pod (one of the fleet's). */
  readonly currentVersion: string;
  readonly route: HarnessRoute;
  readonly clock: DemoClock;
  /** The day's usage events of every pod, from which the replayed workload is sampled. */
  readonly dayEvents: Iterable<unknown>;
  /** The daily reports folder (the day's metrics and the days before): the cost gate's real volume. */
  readonly reportsDir: string;
  readonly outDir: string;
}

const SUITE = 'suites/support-qa';

export async function canaryDemo(input: CanaryDemoInput, print: (line: string) => void): Promise<void> {
  const { s, aml, date, jobName, model, clock, route } = input;
  const job = await s.retraining?.jobs.get(jobName);
  if (job === undefined) {
    print(`no job ${jobName} in the Azure ML stand-in`);
    return;
  }
  clock.set(`${date}T10:00:00Z`);
  const candidate = await prepareCandidate({
    standIn: aml,
    subscriptionId: '00000000-0000-0000-0000-000000000000',
    resourceGroup: 'rg-llm-platform',
    workspace: 'mlw-llm-platform',
    job,
    model,
    candidateVersion: jobName,
    outDir: input.outDir,
  });
  const r = candidate.registration;
  print(
    r.registered === null
      ? `not registered: ${r.reason}`
      : `registered in the workspace as ${r.registered.model} version ${r.registered.version} (${r.registered.modelUri})${r.created ? '' : ', by the quality timer when the job completed'}`,
  );
  const evaluations: unknown[] = [];
  let costGate: unknown = null;
  if (candidate.canary !== undefined) {
    print(`canary overlay (no client traffic): ${candidate.canary.dir}`);
    const workload = join(input.outDir, 'workload.ndjson');
    await writeUsage(workload, input.dayEvents, model);
    const canaryPod: PodIdentity = { ...route.pod, pod: `${candidate.canary.name}-0` };
    const served = await startSuiteModel(SUITE, model, 'good', jobName);
    const sidecar = await startMeteredPod({ upstream: served.url, identity: canaryPod, now: clock.ms });
    // Set once the sidecar is stopped: after the replay, or in `finally` when a step failed.
    let canaryEvents: Record<string, unknown>[] | undefined;
    try {
      // No --model-version: the harness reads it from the canary's /v1/models, as in the cluster.
      const run = await runEvaluation({
        endpoint: sidecar.url,
        model,
        suiteDir: SUITE,
        commit: 'a1b2c3d',
        now: clock.now,
      });
      evaluations.push(run.event);
      const m = run.event.metrics as Record<string, number>;
      print(
        `chargeback evaluate on the canary (${candidate.canary.name}, version ${String(run.event.modelVersion)}): ` +
          `completed ${m.completed}, exact_match ${m.exact_match?.toFixed(2)}, f1 ${m.f1?.toFixed(2)}, toxicity ${m.toxicity?.toFixed(2)}`,
      );
      const runs = join(input.outDir, 'cost-gate-runs');
      await mkdir(runs, { recursive: true });
      const baseline = await replayServed(input, workload, join(runs, 'baseline.ndjson'), print);
      const replayedAt = clock.ms();
      await replayThrough(sidecar.url, workload, model, print, `canary ${candidate.canary.name}`);
      // The canary stays up until the verdict is read: half an hour of its A100, mostly idle.
      clock.set(`${date}T10:30:00Z`);
      canaryEvents = await sidecar.stop();
      await writeRun(join(runs, 'candidate.ndjson'), canaryEvents, replayedAt);
      const gate = parseCostGateArgs([
        '--baseline',
        baseline,
        '--candidate',
        join(runs, 'candidate.ndjson'),
        '--traffic',
        input.reportsDir,
        '--model',
        model,
        '--out',
        join(input.outDir, 'cost-gate'),
      ]);
      if (gate === 'help') throw new Error('unreachable');
      const outcome = await runCostGate(gate);
      costGate = JSON.parse(
        await readFile(join(input.outDir, 'cost-gate', 'cost-gate.json'), 'utf8'),
      ) as unknown;
      print(
        `chargeback cost-gate --model ${model} (the canary's replay against the version in service's): exit ${outcome.code}, ` +
          (outcome.markdown.split('\n')[2] ?? '').replace(/\*\*/g, ''),
      );
    } finally {
      canaryEvents ??= await sidecar.stop();
      await served.stop();
      await route.deliver(canaryEvents);
    }
    const usage = canaryEvents.filter((e) => e.type === 'usage').length;
    const windows = canaryEvents.length - usage;
    print(
      `the canary's sidecar sent ${usage} usage events and ${windows} capacity windows (${canaryPod.pod}, 10:00 to 10:30), delivered to ingestUsage`,
    );
  }
  const promotion = await decidePromotion(candidate, {
    model,
    candidateVersion: jobName,
    currentVersion: input.currentVersion,
    evaluations,
    costGate,
    rulesPath: 'rules/quality-gates.json',
    outDir: input.outDir,
    now: clock.now,
  });
  print(promotion.text);
  if (promotion.overlay !== undefined)
    print(`promotion overlay for a GitOps pull request (not applied): ${promotion.overlay}`);
  const store = promotionStore(s);
  await store.ensure(); // Bicep creates the table in Azure
  const posted = await publishPromotion(promotion.verdict, {
    store,
    notifier: s.notifier(),
    outbox: s.outbox,
    now: clock.now,
    log: print,
  });
  print(`verdict stored for GET /api/promotions/${model}${posted ? ', its card posted to Teams' : ''}`);
}

/** The replay through the version in service (its pod's sidecar, a stand-in of it upstream); returns the run's file. */
async function replayServed(
  input: CanaryDemoInput,
  workload: string,
  path: string,
  print: (line: string) => void,
): Promise<string> {
  const served = await startSuiteModel(SUITE, input.model, 'regressed', input.currentVersion);
  const sidecar = await startMeteredPod({
    upstream: served.url,
    identity: input.route.pod,
    now: input.clock.ms,
  });
  const from = input.clock.ms();
  let events: Record<string, unknown>[] = [];
  try {
    await replayThrough(
      sidecar.url,
      workload,
      input.model,
      print,
      `version ${input.currentVersion} in service (${input.route.pod.pod})`,
    );
  } finally {
    events = await sidecar.stop();
    await served.stop();
    await input.route.deliver(events);
  }
  await writeRun(path, events, from);
  return path;
}

/**
 * A run's file for the cost gate: the replay's usage events and the pod's capacity windows, and
 * nothing else the pod served (the canary's harness run is not the workload).
 */
async function writeRun(
  path: string,
  events: readonly Record<string, unknown>[],
  from: number,
): Promise<void> {
  const lines = events
    .filter(
      (e) => e.type === 'capacity' || (e.tenant === REPLAY_TENANT && Date.parse(String(e.startedAt)) >= from),
    )
    .map((e) => `${JSON.stringify(e)}\n`);
  await writeFile(path, lines.join(''));
}

/** The model's usage events of the day, as NDJSON: what `chargeback replay-workload --events` reads. */
async function writeUsage(path: string, events: Iterable<unknown>, model: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path);
  for (const e of events) {
    const event = e as Record<string, unknown>;
    if (event.type !== 'usage' || event.model !== model) continue;
    if (!stream.write(`${JSON.stringify(event)}\n`))
      await new Promise<void>((resolve) =>
        stream.once('drain', () => {
          resolve();
        }),
      );
  }
  stream.end();
  await finished(stream);
}
