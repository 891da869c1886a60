import type { Micros } from './timestamp.js';

/** A half-open interval [start, end) of instants. */
export interface Interval {
  readonly start: Micros;
  readonly end: Micros;
}

/** The union of intervals as sorted, disjoint, non-touching intervals (contracts.md §4.1: a pod's time). */
export function union(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: Interval[] = [];
  for (const next of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && next.start <= last.end) {
      if (next.end > last.end) merged[merged.length - 1] = { start: last.start, end: next.end };
    } else {
      merged.push(next);
    }
  }
  return merged;
}

/** Sorted disjoint intervals clipped to [from, to). */
export function clip(intervals: readonly Interval[], from: Micros, to: Micros): Interval[] {
  const clipped: Interval[] = [];
  for (const interval of intervals) {
    const start = Math.max(interval.start, from);
    const end = Math.min(interval.end, to);
    if (end > start) clipped.push({ start, end });
  }
  return clipped;
}

/**
 * Whether [start, end] meets any of the sorted disjoint intervals: with positive overlap, or,
 * for a zero-length span, by lying inside one (its start included).
 */
export function meets(intervals: readonly Interval[], start: Micros, end: Micros): boolean {
  let low = 0;
  let high = intervals.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const interval = intervals[mid];
    if (interval !== undefined && interval.end <= start) low = mid + 1;
    else high = mid;
  }
  const candidate = intervals[low];
  if (candidate === undefined) return false;
  return end > start ? candidate.start < end : candidate.start <= start;
}
