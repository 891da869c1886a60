/**
 * The texts a drift card shows. Tenant, feature, model and pod names come from request headers, so
 * they are untrusted: every one goes through `text`, which keeps it on one line, bounded in length,
 * and inert as Adaptive Card markdown.
 */
import type { AlertScope } from './alert.js';

const encoder = new TextEncoder();

export function bytes(value: string): number {
  return encoder.encode(value).length;
}

// Characters that TextBlock markdown gives a meaning to inside a line (emphasis, links, code,
// strike-through, HTML-like tags): escaped with a backslash so a name shows as written; so is a
// list or heading marker at the start, where a fact's value begins.
const MARKDOWN = /[\\*_[\]~`<>]/g;
const LINE_START = /^([#+-]|\d+\.)/;
// Control characters and line breaks, the Unicode line and paragraph separators, and the
// bidirectional overrides and isolates, which would make the text after a name read backwards.
// eslint-disable-next-line no-control-regex
const BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

/**
 * One line of at most `max` characters (code points), markdown escaped, and no `{{`, which Adaptive
 * Cards read as the start of a DATE() or TIME() function.
 */
export function text(value: string, max: number): string {
  const line = value.replace(BREAKS, ' ').trim();
  const chars = Array.from(line);
  const cut = chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : line;
  return cut
    .replace(MARKDOWN, (c) => `\\${c}`)
    .replace(LINE_START, '\\$1')
    .replace(/\{\{/g, '{\u200b{');
}

const FORMAT = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

/** Four significant digits: enough to compare with the baseline, short enough to read. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return FORMAT.format(value);
}

/** "+133% (×2.33)", "−40% (×0.60)", or "new: baseline 0". */
export function changeText(value: number, baseline: number): string {
  if (baseline === 0) return value === 0 ? 'no change' : 'new: baseline 0';
  const ratio = value / baseline;
  const percent = (ratio - 1) * 100;
  const sign = percent >= 0 ? '+' : '−';
  return `${sign}${formatNumber(Math.abs(percent))}% (×${ratio.toFixed(2)})`;
}

/** "tenant acme / feature chat / model llama-70b / interactive", or "whole fleet". */
export function scopeText(scope: AlertScope): string {
  const parts: string[] = [];
  if (scope.tenant !== undefined) parts.push(`tenant ${text(scope.tenant, 48)}`);
  if (scope.feature !== undefined) parts.push(`feature ${text(scope.feature, 48)}`);
  if (scope.model !== undefined) parts.push(`model ${text(scope.model, 48)}`);
  if (scope.requestClass !== undefined) parts.push(text(scope.requestClass, 32));
  if (scope.pod !== undefined) parts.push(`pod ${text(scope.pod, 48)}`);
  return parts.length > 0 ? parts.join(' / ') : 'whole fleet';
}
