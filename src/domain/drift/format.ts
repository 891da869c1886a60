/** Numbers as an alert message shows them: enough digits to see the change, no more. */

const grouped = (value: number, digits: number): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** Three significant digits, grouped: 0.0205, 1.45, 1,234. */
export function formatNumber(value: number): string {
  if (value === 0) return '0';
  // Grouping allows at most 100 fraction digits; a figure this small is shown in scientific form.
  if (Math.abs(value) < 1e-6) return value.toExponential(2);
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  return grouped(value, Math.max(0, 2 - magnitude));
}

export function formatUsd(value: number): string {
  return `$${Math.abs(value) >= 100 ? grouped(value, 0) : formatNumber(value)}`;
}

/** A share as a percentage: 0.032 -> 3.2%. */
export function formatShare(value: number): string {
  return `${formatNumber(value * 100)}%`;
}

export function formatMs(value: number): string {
  return `${grouped(value, 0)} ms`;
}

/** A relative change as a percentage, or as "from zero" when there is no base to divide by. */
export function formatChange(value: number, baseline: number): string {
  if (baseline === 0) return 'from zero';
  return `${formatNumber(Math.abs((value - baseline) / baseline) * 100)}%`;
}
