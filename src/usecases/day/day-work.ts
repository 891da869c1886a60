/**
 * A day's run as a fan-out job (src/usecases/fan-out/fan-out.ts): one unit per Event Hubs partition,
 * run on any worker, and a fan-in that checks the units against each other, computes again as one
 * those that share a replica or an eventId (a pod's events in two partitions), merges and persists.
 *
 *   plan     the DayPlan (plain JSON) and the job id, stored once by startDay;
 *   unit     computeDay over the unit's partitions (a partition over DAY_UNIT_EVENTS cut by pod on
 *            local disk, as in one process); its chargeback, intake and eventId hashes written as
 *            blobs of the job's run storage, its requests' costs as runs beside them; the result
 *            names them, with the unit's replicas;
 *   fan-in   overlapping units -> a next round of the merged units, the others' results carried in
 *            the round's context; else the day merged and finishDay, its generation time the plan's
 *            ledgerAsOf, so that a fan-in run twice writes the same bytes.
 *
 * A calibrated day (WEIGHTING=calibrated) has two stages of rounds, since each deployment's fit needs
 * every pod of that deployment before any pod is allocated:
 *
 *   equations  each unit reads its partitions and writes its pods' fit equations (those of the
 *              deployments without constants stored with the day), nothing allocated; its fan-in
 *              checks the units as above, then fits every deployment from every unit's equations;
 *   allocate   a round of the same units, each allocated with the day's fitted constants carried in
 *              the round's context (no unit fits anything); its fan-in merges and persists, the
 *              calibration records stored with the day.
 *
 * Every write is under a name fixed by (job, round, unit), with bytes fixed by the plan: a unit run
 * twice, or a fan-in run twice, writes the same bytes again.
 */
import { mergeIntake, noCounts, type Intake } from '../../domain/accumulator.js';
import {
  DayCalibration,
  deploymentKey,
  type CalibrationRecord,
  type PodEquations,
} from '../../domain/calibration/calibrate.js';
import {
  decodeChargeback,
  decodeFitEquations,
  decodeIntake,
  encodeChargeback,
  encodeFitEquations,
  encodeIntake,
} from '../../domain/day-codec.js';
import { PermanentError } from '../../domain/errors.js';
import type { Weighting } from '../../domain/weighting.js';
import { mergeChargeback } from '../../domain/merge-chargeback.js';
import type { RunInfo, RunStorage } from '../../ports/byte-sink.js';
import type { FanInResult, Json, Round, Work } from '../../ports/fan-out.js';
import type { RunSpace } from '../../ports/unit-lines.js';
import { computeDay, dayEquations, overlappingUnits } from './compute-day.js';
import {
  finishDay,
  keptDay,
  planDay,
  settingsOf,
  unitsOf,
  type DailyDeps,
  type DayOutcome,
  type DayPlan,
} from '../daily/daily-run.js';

export type DayWorkDeps = DailyDeps & {
  /** The storage of one job's blobs (runs, units' results): a prefix of a container per job. */
  readonly runStorageFor: (job: string) => RunStorage;
  /** Local space where a unit's large partition is cut by pod. */
  readonly space: () => Promise<RunSpace>;
};

/** What startDay stores as the job's plan. */
interface DayJobPlan {
  readonly job: string;
  readonly day: DayPlan;
}

/** A unit's result: the names of its blobs in the job's storage, its replicas and runs. */
interface UnitResult {
  readonly partitions: readonly string[];
  readonly chargeback: string;
  readonly intake: string;
  readonly ids: string;
  readonly replicas: readonly string[];
  readonly runs: readonly RunInfo[];
}

/** A calibrated day's first-stage result: its pods' equations (a blob), replicas and eventIds. */
interface EquationsResult {
  readonly partitions: readonly string[];
  readonly equations: string;
  readonly ids: string;
  readonly replicas: readonly string[];
}

/**
 * A later round's context: each unit's partitions, and the results of the units not run again;
 * on a calibrated day, the stage, and in its allocation round the day's fit.
 */
interface RoundContext {
  readonly partitions: Readonly<Record<string, readonly string[]>>;
  readonly kept: Readonly<Record<string, UnitResult | EquationsResult>>;
  readonly stage?: 'equations' | 'allocate';
  /** The fitted constants every unit is allocated with, by deploymentKey. */
  readonly weightings?: readonly (readonly [string, Weighting])[];
  /** What the day stores of its calibration (contracts.md §5.2). */
  readonly calibration?: readonly CalibrationRecord[];
}

/** Starts the fan-out of a day unless it is unchanged: the kept outcome, or the job started. */
export async function startDay(
  day: string,
  deps: DailyDeps,
  start: (job: string, plan: Json, units: readonly string[]) => Promise<'started' | 'resent' | 'exists'>,
  log: (m: string) => void = () => undefined,
): Promise<{ kept: DayOutcome } | { job: string; started: 'started' | 'resent' | 'exists' }> {
  const plan = await planDay(day, deps, log);
  const kept = await keptDay(plan, deps);
  if (kept !== undefined) return { kept };
  const job = dayJobId(plan);
  const units = plan.partitions.map(([partition]) => partition);
  // A day with no segment still has a report (dead letters, retraining): one unit with no input.
  const jobPlan: DayJobPlan = { job, day: plan };
  return { job, started: await start(job, toJson(jobPlan), units.length === 0 ? [NO_INPUT] : units) };
}

/** `day-<day>-<fingerprint prefix>-<ledgerAsOf compact>`: a new job for each new plan of the day. */
export function dayJobId(plan: Pick<DayPlan, 'day' | 'fingerprint' | 'ledgerAsOf'>): string {
  return `day-${plan.day}-${plan.fingerprint.slice(0, 12)}-${plan.ledgerAsOf.replace(/[^0-9]/g, '')}`;
}

const NO_INPUT = '(none)';

/** The day's work for the fan-out engine. */
export function dayWork(deps: DayWorkDeps): Work {
  return {
    async runUnit(plan, round, unit) {
      const { job, day } = fromJson(plan);
      const partitions = partitionsOf(round, unit);
      const storage = prefixed(deps.runStorageFor(job), `r${round.index}/${unit}/`);
      const context = contextOf(round);
      const space = await deps.space();
      try {
        const selected = day.partitions.filter(([p]) => partitions.includes(p));
        const units = await unitsOf({ partitions: selected }, space, deps);
        const settings = settingsOf(day.day, deps);
        if (stageOf(day, context) === 'equations') {
          const settled = new Set(
            new DayCalibration(deps.weighting, day.storedCalibration ?? []).settledKeys(),
          );
          const read = await dayEquations(units, settings, (key) => settled.has(key));
          const names = { equations: 'equations.ndjson', ids: 'ids.bin' };
          await write(storage, names.equations, Buffer.from(encodeEquations(read.equations)));
          await write(
            storage,
            names.ids,
            new Uint8Array(read.ids.buffer, read.ids.byteOffset, read.ids.byteLength),
          );
          const result: EquationsResult = {
            partitions,
            equations: storage.full(names.equations),
            ids: storage.full(names.ids),
            replicas: read.replicas,
          };
          return toJson(result);
        }
        const weightings = new Map(context.weightings ?? []);
        const computed = await computeDay(units, {
          settings,
          storage,
          ...(context.stage === 'allocate' ? { weightingFor: (d) => weightings.get(deploymentKey(d)) } : {}),
        });
        const names = { chargeback: 'chargeback.json', intake: 'intake.json', ids: 'ids.bin' };
        await write(storage, names.chargeback, Buffer.from(encodeChargeback(computed.chargeback)));
        await write(storage, names.intake, Buffer.from(encodeIntake(computed.intake)));
        const ids = computed.ids();
        await write(storage, names.ids, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
        const result: UnitResult = {
          partitions,
          chargeback: storage.full(names.chargeback),
          intake: storage.full(names.intake),
          ids: storage.full(names.ids),
          replicas: computed.replicas,
          runs: computed.runs.map((r) => ({ ...r, name: storage.full(r.name) })),
        };
        return toJson(result);
      } finally {
        await space.release();
      }
    },

    async fanIn(plan, round, results): Promise<FanInResult> {
      const { job, day } = fromJson(plan);
      const storage = deps.runStorageFor(job);
      const context = contextOf(round);
      const stage = stageOf(day, context);
      const all = new Map<string, UnitResult | EquationsResult>(Object.entries(context.kept));
      for (const [unit, result] of results) all.set(unit, result as unknown as UnitResult);
      const ordered = [...all.entries()].sort((a, b) => compare(a[0], b[0]));
      // An allocation round's units were checked in the equations rounds before it.
      const checked =
        context.stage === 'allocate'
          ? []
          : await Promise.all(
              ordered.map(async ([, r]) => ({ replicas: r.replicas, ids: await readIds(storage, r.ids) })),
            );
      const groups = overlappingUnits(checked);
      if (groups.length > 0) {
        const redone = new Set(groups.flat());
        const units: string[] = [];
        const partitions: Record<string, readonly string[]> = {};
        for (const group of groups) {
          const merged = group.flatMap((i) => ordered[i]?.[1].partitions ?? []).sort(compare);
          const id = merged.join('+');
          units.push(id);
          partitions[id] = merged;
        }
        const kept = Object.fromEntries(ordered.filter((_, i) => !redone.has(i)));
        const next: RoundContext = { partitions, kept, ...(stage === 'equations' ? { stage } : {}) };
        return { next: { units, context: toJson(next) } };
      }
      if (stage === 'equations') {
        // Every pod of the day is in: fit, then allocate every unit with the fit.
        const calibration = new DayCalibration(deps.weighting, day.storedCalibration ?? []);
        for (const [, r] of ordered)
          calibration.addEquations(
            decodeEquations(await readText(storage, (r as EquationsResult).equations)),
          );
        calibration.fit();
        const next: RoundContext = {
          partitions: Object.fromEntries(ordered.map(([unit, r]) => [unit, r.partitions])),
          kept: {},
          stage: 'allocate',
          weightings: calibration.weightings(),
          calibration: calibration.records(),
        };
        return { next: { units: ordered.map(([unit]) => unit), context: toJson(next) } };
      }
      const parts = await Promise.all(
        ordered.map(async ([, r]) => ({
          chargeback: decodeChargeback(await readText(storage, (r as UnitResult).chargeback)),
          intake: decodeIntake(await readText(storage, (r as UnitResult).intake)),
        })),
      );
      let intake: Intake = { counts: noCounts(), rejections: new Map() };
      for (const part of parts) intake = mergeIntake(intake, part.intake);
      const outcome = await finishDay(
        day,
        {
          chargeback: mergeChargeback(parts.map((p) => p.chargeback)),
          intake,
          runs: ordered.flatMap(([, r]) => (r as UnitResult).runs),
          calibration: context.calibration,
        },
        storage,
        deps,
        new Date(day.ledgerAsOf),
      );
      return { done: toJson(outcome) };
    },
  };
}

/** The stage a round of the day is in: a calibrated day's rounds are equations until its fit. */
function stageOf(day: DayPlan, context: RoundContext): 'equations' | 'allocate' {
  if (day.storedCalibration === undefined) return 'allocate';
  return context.stage ?? 'equations';
}

/** Pods' equations as NDJSON, one pod a line (its equations in the day codec's exact text). */
function encodeEquations(pods: readonly PodEquations[]): string {
  return pods
    .map(
      (p) =>
        `${JSON.stringify({ pod: p.pod, deployment: p.deployment, equations: encodeFitEquations(p.equations) })}\n`,
    )
    .join('');
}

function decodeEquations(text: string): PodEquations[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const p = JSON.parse(line) as {
        pod: string;
        deployment: PodEquations['deployment'];
        equations: string;
      };
      return { pod: p.pod, deployment: p.deployment, equations: decodeFitEquations(p.equations) };
    });
}

function partitionsOf(round: Round, unit: string): string[] {
  if (round.index === 0) return unit === NO_INPUT ? [] : [unit];
  const list = contextOf(round).partitions[unit];
  if (list === undefined) throw new PermanentError(`day job ${round.job}: unit ${unit} has no partitions`);
  return [...list];
}

function contextOf(round: Round): RoundContext {
  if (round.index === 0 || round.context === undefined) return { partitions: {}, kept: {} };
  return round.context as unknown as RoundContext;
}

type PrefixedStorage = RunStorage & { full(name: string): string };

/** The job's storage seen under a prefix; `full` gives a name as the job's storage knows it. */
function prefixed(storage: RunStorage, prefix: string): PrefixedStorage {
  return {
    create: (name) => storage.create(prefix + name),
    read: (name) => storage.read(prefix + name),
    remove: (name) => storage.remove(prefix + name),
    full: (name) => prefix + name,
  };
}

async function write(storage: RunStorage, name: string, bytes: Uint8Array): Promise<void> {
  const sink = storage.create(name);
  try {
    await sink.write(bytes);
    await sink.close();
  } catch (error) {
    await sink.abort().catch(() => undefined);
    throw error;
  }
}

async function readBytes(storage: RunStorage, name: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of storage.read(name)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function readText(storage: RunStorage, name: string): Promise<string> {
  return (await readBytes(storage, name)).toString('utf8');
}

async function readIds(storage: RunStorage, name: string): Promise<BigUint64Array> {
  const bytes = await readBytes(storage, name);
  // A copy into an aligned buffer: a Buffer from concat may start at any offset of its pool.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  return new BigUint64Array(aligned.buffer, 0, bytes.length / 8);
}

function fromJson(plan: Json): DayJobPlan {
  const value = plan as { job?: unknown; day?: unknown } | null;
  if (typeof value !== 'object' || value === null || typeof value.job !== 'string')
    throw new PermanentError('day job: the plan is not a day plan');
  return value as unknown as DayJobPlan;
}

/** Plain data through JSON: `undefined` fields dropped, as the store keeps them. */
function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
