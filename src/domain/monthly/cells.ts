import { dollars, formatScaled, roundedDivide } from '../exact.js';

/** The report page's table cells: money with its exact micro-dollars in `data-micros`, shares, counts. */
export function formatUsd(micros: bigint): string {
  return dollars(micros * 1000n);
}

export function money(micros: bigint): string {
  return `<td class="n" data-micros="${micros.toString()}">${formatUsd(micros)}</td>`;
}

export function percent(part: bigint, whole: bigint): string {
  if (whole === 0n) return '-';
  return `${formatScaled(roundedDivide(part * 1000n, whole), 1)}%`;
}

/** A count with its noun, singular for exactly one: "1 request", "2 requests", "0 requests". */
export function counted(n: bigint | number, singular: string, plural = `${singular}s`): string {
  return `${n.toString()} ${n === 1 || n === 1n ? singular : plural}`;
}
