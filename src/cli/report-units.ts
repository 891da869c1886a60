/**
 * The units of `chargeback report` on worker threads: a pool of `report-worker.js` threads that
 * computes the spilled units while the main thread waits, as computeDay's executor. Built code
 * only: run from the TypeScript sources (the tests), the units are computed on the main thread.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RunInfo } from '../ports/byte-sink.js';
import type { PodEquations } from '../domain/calibration/calibrate.js';
import { decodeChargeback, decodeFitEquations, decodeIntake } from '../domain/day-codec.js';
import type { CalibratedPass, UnitExecutor, UnitOutcome, UnitSpec } from '../usecases/day/compute-day.js';
import type { DaySettings, RejectedLine } from '../usecases/day/unit.js';

export type WorkerRequest =
  | {
      readonly kind: 'init';
      readonly pricesPath: string;
      readonly settings: Omit<DaySettings, 'prices'>;
      readonly files: readonly string[];
      readonly runsDir: string;
    }
  | {
      readonly kind: 'unit';
      readonly id: string;
      readonly spills: readonly string[];
      readonly run: string;
      readonly rejectedRun: string;
      /** On a calibrated day: which pass (computeDay's CalibratedPass). */
      readonly calibrated?: CalibratedPass;
    };

/** A pod's equations as they cross to the main thread (the day codec's text of them). */
export interface EquationsText {
  readonly pod: string;
  readonly deployment: PodEquations['deployment'];
  readonly equations: string;
}

export type WorkerReply =
  | {
      readonly kind: 'done';
      readonly id: string;
      readonly intake: string;
      readonly replicas: readonly string[];
      readonly ids: ArrayBuffer;
      readonly conflicts: readonly RejectedLine[];
      /** Absent when the unit waits for the day's fit (it gave `equations`). */
      readonly allocated?: { readonly chargeback: string; readonly requests: RunInfo };
      readonly equations?: readonly EquationsText[];
    }
  | { readonly kind: 'error'; readonly id: string; readonly message: string }
  /** Not from the thread: it ran out of heap. */
  | { readonly kind: 'lost'; readonly id: string };

/** A run of refused lines: each entry behind its place in the input, so that runs merge back in order. */
export function rejectedRunLines(files: readonly string[], lines: readonly RejectedLine[]): Buffer {
  return Buffer.from(
    lines
      .map(
        (l) => `${l.where?.file ?? 0}\t${l.where?.line ?? 0}\t${JSON.stringify(rejectedEntry(files, l))}\n`,
      )
      .join(''),
  );
}

export function rejectedEntry(
  files: readonly string[],
  line: RejectedLine,
): { file: string; line: number; reason: string; text: string } {
  return {
    file: line.where === undefined ? '' : (files[line.where.file] ?? ''),
    line: line.where?.line ?? 0,
    reason: line.reason,
    text: line.text,
  };
}

/** Worker threads by default: one per core the process may use. */
export function defaultWorkers(): number {
  return fileURLToPath(import.meta.url).endsWith('.ts') ? 0 : availableParallelism();
}

/** A pool of worker threads as computeDay's executor; `close` ends them. */
export function workerExecutor(
  workers: number,
  init: Extract<WorkerRequest, { kind: 'init' }>,
  rejectedRun: (unit: string) => string,
  heapMb: number,
  log: (message: string) => void = () => undefined,
): { executor: UnitExecutor; close: () => Promise<void> } {
  const threads: Worker[] = [];
  const idle: Worker[] = [];
  const waiting: ((worker: Worker) => void)[] = [];
  const take = (): Promise<Worker> => {
    const free = idle.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (threads.length < workers) {
      const worker = new Worker(new URL('./report-worker.js', import.meta.url), {
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
      });
      worker.unref();
      worker.postMessage(init);
      threads.push(worker);
      return Promise.resolve(worker);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const give = (worker: Worker): void => {
    const next = waiting.shift();
    if (next !== undefined) next(worker);
    else idle.push(worker);
  };
  const executor: UnitExecutor = {
    concurrency: workers,
    async run(spec: UnitSpec, run: string, calibrated?: CalibratedPass): Promise<UnitOutcome | undefined> {
      if (spec.spills === undefined) return undefined;
      const worker = await take();
      let dead = false;
      try {
        const reply = await new Promise<WorkerReply>((resolve, reject) => {
          const onMessage = (message: WorkerReply): void => {
            if (message.id !== spec.id) return;
            worker.off('message', onMessage);
            worker.off('error', onError);
            resolve(message);
          };
          const onError = (error: Error & { code?: string }): void => {
            worker.off('message', onMessage);
            if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') resolve({ kind: 'lost', id: spec.id });
            else reject(error);
          };
          worker.on('message', onMessage);
          worker.once('error', onError);
          const request: WorkerRequest = {
            kind: 'unit',
            id: spec.id,
            spills: spec.spills ?? [],
            run,
            rejectedRun: rejectedRun(spec.id),
            ...(calibrated === undefined ? {} : { calibrated }),
          };
          worker.postMessage(request);
        });
        if (reply.kind === 'error') throw new Error(`unit ${spec.id}: ${reply.message}`);
        if (reply.kind === 'lost') {
          // Over the thread's heap (one pod larger than a unit): computed on the main thread instead.
          dead = true;
          log(`unit ${spec.id} is over a worker thread's ${heapMb} MB heap: computing it on the main thread`);
          return undefined;
        }
        return {
          read: {
            intake: decodeIntake(reply.intake),
            replicas: reply.replicas,
            ids: new BigUint64Array(reply.ids),
            conflicts: reply.conflicts,
          },
          ...(reply.allocated === undefined
            ? {}
            : {
                allocated: {
                  chargeback: decodeChargeback(reply.allocated.chargeback),
                  requests: reply.allocated.requests,
                },
              }),
          ...(reply.equations === undefined
            ? {}
            : {
                equations: reply.equations.map((e) => ({
                  pod: e.pod,
                  deployment: e.deployment,
                  equations: decodeFitEquations(e.equations),
                })),
              }),
        };
      } finally {
        if (dead) {
          threads.splice(threads.indexOf(worker), 1);
          void worker.terminate();
          const next = waiting.shift();
          if (next !== undefined) void take().then(next);
        } else give(worker);
      }
    },
  };
  return {
    executor,
    close: async () => {
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}
