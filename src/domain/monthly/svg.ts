/**
 * Two small chart kinds as inline SVG, so the report page needs no script, font or image from
 * anywhere: stacked columns (cost per feature per day) and horizontal bars (shares, rates, cost
 * against value). Every text is escaped; numbers arrive as plain JavaScript numbers for drawing only
 * (the exact figures are in the page's tables).
 */

export const PALETTE = [
  '#2f6db5',
  '#e07b39',
  '#3a9a5b',
  '#c0392b',
  '#8e5fb8',
  '#8c6d3f',
  '#d16ba5',
  '#5f7c8a',
  '#b5a22f',
  '#2fa5a5',
];
export const IDLE_COLOUR = '#b9b9b9';

/**
 * Controls, line separators and the bidirectional and invisible characters that text.ts refuses in
 * names: on a page a right-to-left override (U+202E) would make the cells after a name read
 * backwards, so each is shown as `\uXXXX` (as terminal messages show controls), never obeyed.
 */
const UNSHOWABLE =
  // eslint-disable-next-line no-control-regex -- finding control characters is the rule itself
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export function escapeHtml(text: string): string {
  return text
    .replace(UNSHOWABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface Series {
  readonly name: string;
  readonly colour: string;
  readonly values: readonly number[];
}

/** Stacked columns, one per label (day), with a y axis in the currency and a legend. */
export function stackedColumns(labels: readonly string[], series: readonly Series[], unit: string): string {
  const width = 920;
  const height = 300;
  const left = 70;
  const bottom = 40;
  const top = 10;
  const plotHeight = height - top - bottom;
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const step = (width - left - 10) / Math.max(1, labels.length);
  const barWidth = Math.max(2, step * 0.7);
  const parts: string[] = [];
  for (let t = 0; t <= 4; t += 1) {
    const value = (max * t) / 4;
    const y = top + plotHeight - (plotHeight * t) / 4;
    parts.push(
      `<line x1="${left}" y1="${y.toFixed(1)}" x2="${width - 10}" y2="${y.toFixed(1)}" class="grid"/>`,
      `<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${escapeHtml(formatAxis(value, unit))}</text>`,
    );
  }
  labels.forEach((label, i) => {
    const x = left + i * step + (step - barWidth) / 2;
    let y = top + plotHeight;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (value <= 0 || max === 0) continue;
      const h = (plotHeight * value) / max;
      y -= h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.colour}"><title>${escapeHtml(`${label} ${s.name}: ${formatAxis(value, unit)}`)}</title></rect>`,
      );
    }
    const every = Math.ceil(labels.length / 16);
    if (i % every === 0)
      parts.push(
        `<text x="${(x + barWidth / 2).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${escapeHtml(label.slice(5))}</text>`,
      );
  });
  const legend = series
    .map((s) => `<span class="key"><i style="background:${s.colour}"></i>${escapeHtml(s.name)}</span>`)
    .join('');
  return `<svg viewBox="0 0 ${width} ${height}" role="img" class="chart">${parts.join('')}</svg><div class="legend">${legend}</div>`;
}

export interface Bar {
  readonly label: string;
  readonly values: readonly number[];
  readonly texts: readonly string[];
}

/** Horizontal bars, one row per item; several values per row are drawn as thinner bars beneath each other. */
export function horizontalBars(
  bars: readonly Bar[],
  colours: readonly string[],
  legend?: readonly string[],
): string {
  const width = 920;
  const labelWidth = 260;
  const textWidth = 150;
  const perValue = 14;
  const rowHeight = Math.max(1, ...bars.map((b) => b.values.length)) * perValue + 10;
  const height = Math.max(rowHeight, bars.length * rowHeight) + 4;
  const max = Math.max(0, ...bars.flatMap((b) => b.values));
  const span = width - labelWidth - textWidth;
  const parts: string[] = [];
  bars.forEach((bar, row) => {
    const y0 = row * rowHeight + 4;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y0 + (bar.values.length * perValue) / 2 + 4}" text-anchor="end">${escapeHtml(truncate(bar.label, 40))}</text>`,
    );
    bar.values.forEach((value, i) => {
      const w = max === 0 ? 0 : (span * Math.max(0, value)) / max;
      const y = y0 + i * perValue;
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${perValue - 3}" fill="${colours[i % colours.length] ?? PALETTE[0]}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + perValue - 4}">${escapeHtml(bar.texts[i] ?? '')}</text>`,
      );
    });
  });
  const keys =
    legend === undefined
      ? ''
      : `<div class="legend">${legend.map((name, i) => `<span class="key"><i style="background:${colours[i % colours.length] ?? ''}"></i>${escapeHtml(name)}</span>`).join('')}</div>`;
  return `<svg viewBox="0 0 ${width} ${height}" role="img" class="chart">${parts.join('')}</svg>${keys}`;
}

function niceMax(value: number): number {
  if (value <= 0) return 0;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * magnitude >= value) return factor * magnitude;
  return 10 * magnitude;
}

function formatAxis(value: number, unit: string): string {
  if (unit === '$')
    return `$${value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 0 : 2)}`;
  return `${value}${unit}`;
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
