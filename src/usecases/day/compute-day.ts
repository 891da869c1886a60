/**
 * A day computed unit by unit in one process: the stages every caller shares (the command line, the
 * daily Function when one instance does the whole day, the fan-out's fan-in for the checks):
 *
 *   read   each unit's lines into its events (unit.ts), one unit in memory at a time;
 *   check  that no replica and no eventId is in two units; units that share one are put together
 *          and read again as one (a pod's events in two partitions, the day the hub's partition
 *          count changed), which is always right and holds more at once;
 *   fit    with a calibrated weighting, each deployment's step costs from every unit's equations;
 *   allocate each unit (read again when it had to wait for the fit), its requests' costs written
 *          out as a sorted run;
 *   merge  the units' chargebacks and intakes into the day's (exact: see mergeChargeback).
 *
 * Memory is one unit's events, the small results of every unit, and one 8-byte hash per accepted
 * event for the check.
 */
import { mergeIntake, noCounts, type Intake } from '../../domain/accumulator.js';
import type { ChargebackResult } from '../../domain/chargeback.js';
import {
  podEquations,
  type DayCalibration,
  type Deployment,
  type PodEquations,
} from '../../domain/calibration/calibrate.js';
import { mergeChargeback } from '../../domain/merge-chargeback.js';
import type { Weighting } from '../../domain/weighting.js';
import type { RunInfo, RunStorage } from '../../ports/byte-sink.js';
import {
  allocateUnit,
  readUnit,
  type DaySettings,
  type ReadHooks,
  type ReadUnit,
  type RejectedLine,
  type UnitLines,
} from './unit.js';

export interface UnitSpec {
  /** Names the unit's runs; units are merged in the order of their ids. */
  readonly id: string;
  readonly lines: UnitLines;
  /** The spill files that hold the unit's lines, when they are on local disk (for an executor). */
  readonly spills?: readonly string[];
  /** Their size in bytes, and how many lines they hold, when known. */
  readonly bytes?: number;
  readonly lineCount?: number;
}

/**
 * The outcome of a unit computed elsewhere: what the check and the merge take. On a calibrated
 * day's first pass, a unit with deployments to fit hands on its pods' equations instead of an
 * allocation, and is allocated on the second pass.
 */
export interface UnitOutcome {
  readonly read: Pick<ReadUnit, 'intake' | 'replicas' | 'ids' | 'conflicts'>;
  readonly allocated?: { readonly chargeback: ChargebackResult; readonly requests: RunInfo };
  readonly equations?: readonly PodEquations[];
}

/** What a unit computed elsewhere on a calibrated day is asked for. */
export type CalibratedPass =
  /** Read: the equations of its deployments not in `settled`, or, with none, the allocation. */
  | {
      readonly pass: 'equations';
      readonly settled: readonly string[];
      readonly weightings: readonly (readonly [string, Weighting])[];
    }
  /** Read again and allocate with the day's weightings (by deploymentKey; absent: the configured). */
  | { readonly pass: 'allocate'; readonly weightings: readonly (readonly [string, Weighting])[] };

/** Runs units elsewhere (worker threads); undefined for a unit it cannot run, which runs here. */
export interface UnitExecutor {
  readonly concurrency: number;
  run(spec: UnitSpec, run: string, calibrated?: CalibratedPass): Promise<UnitOutcome | undefined>;
}

export interface ComputeDayOptions {
  readonly settings: DaySettings;
  /** Where the units' runs of requests' costs are written. */
  readonly storage: RunStorage;
  /** With a calibrated weighting: the day's calibration, stored constants already given to it. */
  readonly calibration?: DayCalibration;
  /** Hooks for a unit's reading (the command line keeps each unit's refused lines). */
  readonly hooks?: (unitId: string) => ReadHooks;
  /** A unit's hooks' output is no longer wanted: the unit was put together with another. */
  readonly discard?: (unitId: string) => Promise<void>;
  /**
   * Without a calibration: each deployment's weighting fixed beforehand (the day's fit made
   * elsewhere, by deploymentKey; undefined for the configured one). Nothing is fitted here.
   */
  readonly weightingFor?: (d: Deployment) => Weighting | undefined;
  /** Where units are computed; here, one at a time, when absent. */
  readonly executor?: UnitExecutor;
  readonly log?: (message: string) => void;
}

/** The day's stages' results, by name. */
export interface ComputedDay {
  readonly chargeback: ChargebackResult;
  readonly intake: Intake;
  /** The units as finally computed (after any were put together), in merge order. */
  readonly units: readonly string[];
  /** Each unit's run of requests' costs, in merge order. */
  readonly runs: readonly RunInfo[];
  /** Copies refused because another version of their eventId was kept, by eventId. */
  readonly conflicts: readonly RejectedLine[];
  /** Every unit's replicas, sorted: for a check against units computed elsewhere (the fan-out). */
  readonly replicas: readonly string[];
  /**
   * Every unit's eventId hashes, sorted, likewise: made when asked (8 bytes an event, 80 MB for a
   * 10-million-event day, which the command line never asks for).
   */
  readonly ids: () => BigUint64Array;
}

interface UnitState {
  readonly spec: UnitSpec;
  readonly read: Pick<ReadUnit, 'intake' | 'replicas' | 'ids' | 'conflicts'>;
  allocated?: UnitOutcome['allocated'];
}

async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export async function computeDay(
  units: readonly UnitSpec[],
  options: ComputeDayOptions,
): Promise<ComputedDay> {
  const { settings, calibration } = options;
  const states = new Map<string, UnitState>();
  let pending = [...units];
  for (;;) {
    const inProcess = async (spec: UnitSpec): Promise<UnitState> => {
      const read = await readUnit(spec.lines, settings, options.hooks?.(spec.id) ?? {});
      const state: UnitState = {
        spec,
        read: { intake: read.intake, replicas: read.replicas, ids: read.ids, conflicts: read.conflicts },
      };
      if (calibration !== undefined && read.usage.some((u) => !calibration.settled(u))) {
        // Its allocation waits for the fit, which needs every unit's equations.
        calibration.add(read.usage);
      } else {
        state.allocated = await allocateUnit(read, settings, {
          storage: options.storage,
          run: runName(spec.id),
          ...weightingOf(options),
        });
      }
      return state;
    };
    const executor = options.executor;
    if (executor === undefined) {
      for (const spec of pending) states.set(spec.id, await inProcess(spec));
    } else {
      // Units elsewhere (worker threads), a few at once; their results are put in id order below.
      await forEachConcurrently(pending, executor.concurrency, async (spec) => {
        const pass: CalibratedPass | undefined =
          calibration === undefined
            ? undefined
            : { pass: 'equations', settled: calibration.settledKeys(), weightings: calibration.weightings() };
        const done = await executor.run(spec, runName(spec.id), pass);
        if (done === undefined) {
          states.set(spec.id, await inProcess(spec));
          return;
        }
        if (done.equations !== undefined) calibration?.addEquations(done.equations);
        states.set(spec.id, {
          spec,
          read: done.read,
          ...(done.allocated === undefined ? {} : { allocated: done.allocated }),
        });
      });
    }
    const computed = [...states.values()];
    const groups = overlappingUnits(computed.map((state) => state.read)).map((group) =>
      group.map((i) => computed[i] as UnitState),
    );
    if (groups.length === 0) break;
    pending = [];
    for (const group of groups) {
      const ids = group.map((s) => s.spec.id).sort();
      options.log?.(
        `units ${ids.join(', ')} share replicas or eventIds (a pod's events span Event Hubs partitions, or its lines name it in two spellings): computing them as one`,
      );
      for (const s of group) {
        states.delete(s.spec.id);
        if (s.allocated !== undefined) await options.storage.remove(runName(s.spec.id));
        await options.discard?.(s.spec.id);
      }
      pending.push(unitOfGroup(group.map((s) => s.spec)));
    }
  }
  calibration?.fit();
  const ordered = [...states.values()].sort((a, b) => compare(a.spec.id, b.spec.id));
  const waiting = ordered.filter((state) => state.allocated === undefined);
  const allocateHere = async (state: UnitState): Promise<void> => {
    const read = await readUnit(state.spec.lines, settings);
    state.allocated = await allocateUnit(read, settings, {
      storage: options.storage,
      run: runName(state.spec.id),
      ...weightingOf(options),
    });
  };
  const executor = options.executor;
  if (executor === undefined || calibration === undefined) {
    for (const state of waiting) await allocateHere(state);
  } else {
    const pass: CalibratedPass = { pass: 'allocate', weightings: calibration.weightings() };
    await forEachConcurrently(waiting, executor.concurrency, async (state) => {
      const done = await executor.run(state.spec, runName(state.spec.id), pass);
      if (done?.allocated === undefined) await allocateHere(state);
      else state.allocated = done.allocated;
    });
  }
  let intake: Intake = { counts: noCounts(), rejections: new Map() };
  for (const state of ordered) intake = mergeIntake(intake, state.read.intake);
  return {
    chargeback: mergeChargeback(
      ordered.map((s) => (s.allocated as NonNullable<UnitState['allocated']>).chargeback),
    ),
    intake,
    units: ordered.map((s) => s.spec.id),
    runs: ordered.map((s) => (s.allocated as NonNullable<UnitState['allocated']>).requests),
    conflicts: mergeConflicts(ordered.map((s) => s.read.conflicts)),
    replicas: [...new Set(ordered.flatMap((s) => s.read.replicas))].sort(),
    ids: () => sortedUnion(ordered.map((s) => s.read.ids)),
  };
}

/** The weighting an allocation here uses: the calibration's, or the one fixed beforehand. */
function weightingOf(options: Pick<ComputeDayOptions, 'calibration' | 'weightingFor'>): {
  weightingFor?: (d: Deployment) => Weighting | undefined;
} {
  const weightingFor = options.calibration?.weightingFor ?? options.weightingFor;
  return weightingFor === undefined ? {} : { weightingFor };
}

/** Units that share a replica or an eventId, as one unit (their ids joined in order). */
function unitOfGroup(specs: readonly UnitSpec[]): UnitSpec {
  const ids = specs.map((spec) => spec.id).sort();
  const spills = specs.every((spec) => spec.spills !== undefined)
    ? specs.flatMap((spec) => spec.spills ?? [])
    : undefined;
  return {
    id: ids.join('+'),
    lines: concatLines(specs.map((spec) => spec.lines)),
    ...(spills === undefined ? {} : { spills }),
  };
}

/** A calibrated day's first stage where units are computed apart (the fan-out): what each hands on. */
export interface DayEquations {
  /** The pods' equations of the deployments not settled, in pod order. */
  readonly equations: readonly PodEquations[];
  readonly replicas: readonly string[];
  /** The units' eventId hashes, sorted. */
  readonly ids: BigUint64Array;
}

/**
 * Reads units and hands on their pods' fit equations, nothing allocated: the first stage of a
 * calibrated day computed apart, whose fit needs every unit of the day before any is allocated.
 * Units that share a replica or an eventId are read again as one, as computeDay does, so that every
 * pod's equations are whole.
 */
export async function dayEquations(
  units: readonly UnitSpec[],
  settings: DaySettings,
  settled: (deploymentKey: string) => boolean,
): Promise<DayEquations> {
  const states = new Map<string, { spec: UnitSpec; read: DayEquations }>();
  let pending = [...units];
  while (pending.length > 0) {
    for (const spec of pending) {
      const read = await readUnit(spec.lines, settings);
      states.set(spec.id, {
        spec,
        read: { equations: podEquations(read.usage, settled), replicas: read.replicas, ids: read.ids },
      });
    }
    const computed = [...states.values()];
    const groups = overlappingUnits(computed.map((state) => state.read));
    pending = groups.map((group) => {
      const specs = group.map((i) => (computed[i] as { spec: UnitSpec }).spec);
      for (const spec of specs) states.delete(spec.id);
      return unitOfGroup(specs);
    });
  }
  const all = [...states.values()].map((state) => state.read);
  return {
    equations: all.flatMap((read) => read.equations).sort((a, b) => compare(a.pod, b.pod)),
    replicas: [...new Set(all.flatMap((read) => read.replicas))].sort(),
    ids: sortedUnion(all.map((read) => read.ids)),
  };
}

function sortedUnion(lists: readonly BigUint64Array[]): BigUint64Array {
  const all = new BigUint64Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const list of lists) {
    all.set(list, at);
    at += list.length;
  }
  return all.sort();
}

export function runName(unitId: string): string {
  return `requests-${unitId}`;
}

function concatLines(parts: readonly UnitLines[]): UnitLines {
  return async function* () {
    for (const part of parts) yield* part();
  };
}

/**
 * The groups (two or more, by index) of units that share a replica or an eventId, transitively:
 * each group must be computed as one unit. Empty when the units are disjoint, as they are when
 * every pod's events are in one partition. computeDay checks its own units so; the fan-out's
 * fan-in checks units computed apart.
 */
export function overlappingUnits(
  units: readonly { readonly replicas: readonly string[]; readonly ids: BigUint64Array }[],
): number[][] {
  const parent = units.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i] ?? i] ?? i;
    return i;
  };
  const join = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const owner = new Map<string, number>();
  units.forEach((unit, i) => {
    for (const replica of unit.replicas) {
      const seen = owner.get(replica);
      if (seen === undefined) owner.set(replica, i);
      else join(seen, i);
    }
  });
  for (const [a, b] of sharedIds(units.map((u) => u.ids))) join(a, b);
  const groups = new Map<number, number[]>();
  units.forEach((_, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), i]);
  });
  return [...groups.values()].filter((g) => g.length > 1);
}

/**
 * Pairs of units whose hash lists share a value: the sorted lists merged k ways (a binary heap of
 * the lists by their current value), so the check holds nothing beside the lists themselves.
 * Values are compared as two 32-bit halves, which is faster than comparing bigints.
 */
function sharedIds(lists: readonly BigUint64Array[]): [number, number][] {
  const halves = lists.map((l) => new Uint32Array(l.buffer, l.byteOffset, 2 * l.length));
  const at = lists.map(() => 0);
  const high = (k: number): number => halves[k]?.[2 * (at[k] ?? 0) + 1] ?? 0;
  const low = (k: number): number => halves[k]?.[2 * (at[k] ?? 0)] ?? 0;
  const before = (a: number, b: number): boolean =>
    high(a) < high(b) || (high(a) === high(b) && low(a) < low(b));
  const heap = lists.flatMap((l, k) => (l.length > 0 ? [k] : []));
  const down = (i: number): void => {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left] ?? 0, heap[least] ?? 0)) least = left;
      if (right < heap.length && before(heap[right] ?? 0, heap[least] ?? 0)) least = right;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least] ?? 0, heap[i] ?? 0];
      i = least;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  const pairs = new Set<string>();
  let holders: number[] = [];
  let lastHigh = -1;
  let lastLow = -1;
  while (heap.length > 0) {
    const k = heap[0] ?? 0;
    const h = high(k);
    const l = low(k);
    if (h !== lastHigh || l !== lastLow) {
      holders = [];
      lastHigh = h;
      lastLow = l;
    }
    for (const holder of holders)
      if (holder !== k) pairs.add(`${Math.min(holder, k)},${Math.max(holder, k)}`);
    holders.push(k);
    at[k] = (at[k] ?? 0) + 1;
    if ((at[k] ?? 0) >= (lists[k]?.length ?? 0)) {
      heap[0] = heap[heap.length - 1] ?? 0;
      heap.pop();
    }
    down(0);
  }
  return [...pairs].map((p) => p.split(',').map(Number) as [number, number]);
}

/**
 * Each unit's conflicts are in eventId order, and the units hold disjoint eventIds: a stable sort
 * by eventId gives the order one pass over the whole day gives.
 */
function mergeConflicts(lists: readonly (readonly RejectedLine[])[]): RejectedLine[] {
  return lists.flat().sort((a, b) => compare(a.eventId ?? '', b.eventId ?? ''));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
