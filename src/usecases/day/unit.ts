/**
 * One unit of a day's work: the events of a set of pods that no other unit holds (an Event Hubs
 * partition's, or a bucket of the command line's input), read, validated and de-duplicated, then
 * allocated. A unit holds its own events only; what it hands on is small (the groups' totals, the
 * replicas and the hashes of its eventIds) or written out as it is made (every request's cost, as a
 * sorted run). The day is the merge of its units (see fan-in.ts), exact because a pod's allocation
 * depends on that pod alone and each eventId lives in one unit.
 */
import { EventAccumulator, type ConflictRejection, type Intake } from '../../domain/accumulator.js';
import { computeChargeback, type ChargebackResult, type IdlePolicy } from '../../domain/chargeback.js';
import { lineRecord } from '../../domain/fast-parse.js';
import type { PriceCard } from '../../domain/prices.js';
import type { CapacityRecord, UsageRecord } from '../../domain/records.js';
import type { Micros } from '../../domain/timestamp.js';
import type { Weighting } from '../../domain/weighting.js';
import type { RunInfo, RunStorage } from '../../ports/byte-sink.js';
import type { LinePosition, UnitLine, UnitLines } from '../../ports/unit-lines.js';
import { RequestRunWriter } from '../requests/request-runs.js';

export type { LinePosition, UnitLine, UnitLines } from '../../ports/unit-lines.js';

/** What every unit of a day is computed with. */
export interface DaySettings {
  readonly date: string;
  readonly dayStart: Micros;
  readonly dayEnd: Micros;
  readonly prices: PriceCard;
  readonly weighting: Weighting;
  readonly idle: IdlePolicy;
}

/** A line refused on its own, with where it was read (when the input says) and why. */
export interface RejectedLine {
  readonly where?: LinePosition;
  readonly reason: string;
  readonly text: string;
  /** For a conflicting copy: its eventId (conflicts are listed by eventId). */
  readonly eventId?: string;
}

/** How much of a refused line is kept for inspection. */
export const REJECTED_TEXT_CHARS = 65_536;

/** A unit's events, read: what the allocation and the fit take, and what the fan-in checks. */
export interface ReadUnit {
  readonly usage: readonly UsageRecord[];
  readonly capacity: readonly CapacityRecord[];
  readonly intake: Intake;
  /** Its replicas (pod, VM size, GPU count), sorted: no other unit may hold one of them. */
  readonly replicas: readonly string[];
  /** Hashes of its accepted eventIds, sorted: no other unit may hold one of them either. */
  readonly ids: BigUint64Array;
  /** Copies refused because another version of their eventId was kept, by eventId. */
  readonly conflicts: readonly RejectedLine[];
}

export interface ReadHooks {
  /** Lines refused on their own, batch by batch in the order read. */
  readonly onRejected?: (lines: readonly RejectedLine[]) => Promise<void>;
}

/**
 * Reads a unit: every line parsed and validated, every eventId kept once (contracts.md §4.6). Conflicting
 * copies are known only at the end; their text is read again from the lines (only theirs).
 */
export async function readUnit(
  lines: UnitLines,
  settings: DaySettings,
  hooks: ReadHooks = {},
): Promise<ReadUnit> {
  const accumulator = new EventAccumulator<LinePosition>(settings.prices);
  for await (const batch of lines()) {
    const rejected: RejectedLine[] = [];
    for (const line of batch) {
      const reason = accumulator.add(lineRecord(line, accumulator.intern), line.where);
      if (reason !== undefined && hooks.onRejected !== undefined)
        rejected.push({ ...whereOf(line), reason, text: line.text.slice(0, REJECTED_TEXT_CHARS) });
    }
    if (rejected.length > 0) await hooks.onRejected?.(rejected);
  }
  const usage = accumulator.usage();
  const capacity = accumulator.capacity();
  return {
    usage,
    capacity,
    intake: accumulator.intake(),
    replicas: replicasOf(usage, capacity),
    ids: idHashes(usage, capacity),
    conflicts: await conflictLines(lines, accumulator.conflicts()),
  };
}

function whereOf(line: UnitLine): { where?: LinePosition } {
  return line.where === undefined ? {} : { where: line.where };
}

/** The conflicting copies with their text, read again: only those lines are kept. */
async function conflictLines(
  lines: UnitLines,
  conflicts: readonly ConflictRejection<LinePosition>[],
): Promise<RejectedLine[]> {
  if (conflicts.length === 0) return [];
  const wanted = new Map<string, string>();
  const key = (w: LinePosition): string => `${w.file}:${w.line}`;
  for (const { where } of conflicts) if (where !== undefined) wanted.set(key(where), '');
  if (wanted.size > 0) {
    for await (const batch of lines()) {
      for (const line of batch) {
        if (line.where === undefined) continue;
        const k = key(line.where);
        if (wanted.has(k)) wanted.set(k, line.text.slice(0, REJECTED_TEXT_CHARS));
      }
    }
  }
  return conflicts.map(({ eventId, where, reason }) => ({
    eventId,
    ...(where === undefined ? {} : { where }),
    reason,
    text: where === undefined ? '' : (wanted.get(key(where)) ?? ''),
  }));
}

const SEPARATOR = '\u0000';

/** A replica's key, as the allocation tells replicas apart: pod, VM size, GPU count. */
export function replicaKey(r: { pod: string; gpuSku: string; gpuCount: number }): string {
  return `${r.pod}${SEPARATOR}${r.gpuSku}${SEPARATOR}${r.gpuCount}`;
}

function replicasOf(usage: readonly UsageRecord[], capacity: readonly CapacityRecord[]): string[] {
  const keys = new Set<string>();
  for (const r of usage) keys.add(replicaKey(r));
  for (const r of capacity) keys.add(replicaKey(r));
  return [...keys].sort();
}

/** 64-bit hashes of the eventIds (two 32-bit FNV-1a variants), sorted. */
function idHashes(usage: readonly UsageRecord[], capacity: readonly CapacityRecord[]): BigUint64Array {
  const ids = new BigUint64Array(usage.length + capacity.length);
  let i = 0;
  for (const r of usage) ids[i++] = idHash(r.eventId);
  for (const r of capacity) ids[i++] = idHash(r.eventId);
  return ids.sort();
}

/** A 64-bit hash of an eventId: FNV-1a over the UTF-16 code units with two offset bases. */
export function idHash(text: string): bigint {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (BigInt(a >>> 0) << 32n) | BigInt(b >>> 0);
}

/** A unit allocated: its chargeback (without per-request costs) and where its requests' costs went. */
export interface AllocatedUnit {
  readonly chargeback: ChargebackResult;
  readonly requests: RunInfo;
}

export interface AllocateOptions {
  /** A deployment's fitted weighting, when the day is calibrated and it has one. */
  readonly weightingFor?: (d: { model: string; gpuSku: string; gpuCount: number }) => Weighting | undefined;
  /** Where the unit's requests' costs are written, as one sorted run named `run`. */
  readonly storage: RunStorage;
  readonly run: string;
}

/** Allocates a read unit; every request's cost goes to the run as its pod is allocated. */
export async function allocateUnit(
  read: Pick<ReadUnit, 'usage' | 'capacity'>,
  settings: DaySettings,
  options: AllocateOptions,
): Promise<AllocatedUnit> {
  const writer = new RequestRunWriter();
  const chargeback = computeChargeback({
    ...settings,
    ...(options.weightingFor === undefined ? {} : { weightingFor: options.weightingFor }),
    usage: read.usage,
    capacity: read.capacity,
    onRequestCost: (cost) => {
      writer.add(cost);
    },
  });
  return { chargeback, requests: await writer.finish(options.storage, options.run) };
}
