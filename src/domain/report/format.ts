import type { Nanos } from '../prices.js';

/** Nano-dollars as a decimal with 6 places, rounded half up once, here at the edge. */
export function formatMoney(nanos: Nanos): string {
  return formatScaled(Math.round(nanos / 1000), 6);
}

/** GPU-microseconds as GPU-seconds with 3 decimals. */
export function formatGpuSeconds(gpuMicros: number): string {
  return formatScaled(Math.round(gpuMicros / 1000), 3);
}

/** Money as a JSON number with 6 decimals (the summary). */
export function moneyNumber(nanos: Nanos): number {
  return Number(formatMoney(nanos));
}

function formatScaled(units: number, places: number): string {
  const negative = units < 0;
  const digits = String(Math.abs(units)).padStart(places + 1, '0');
  const whole = digits.slice(0, digits.length - places);
  return `${negative ? '-' : ''}${whole}.${digits.slice(digits.length - places)}`;
}
