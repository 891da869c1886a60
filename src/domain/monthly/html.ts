import { formatScaled, roundedDivide } from '../exact.js';
import { formatUsd, money, percent } from './cells.js';
import type { PageModel } from './page-model.js';
import { escapeHtml, horizontalBars, IDLE_COLOUR, PALETTE, stackedColumns, type Series } from './svg.js';
import { reportState, retrainingSection, tenantFeatureSection, tenantSection } from './tenant-sections.js';

/**
 * The report page for a month or a day (contracts.md §12): one self-contained HTML file (inline CSS and SVG,
 * no script, font or image from anywhere), readable on a laptop and printable. Every chart has the
 * table of its figures beneath it; money cells carry their exact micro-dollars in `data-micros`.
 */
const CHART_FEATURES = 8;

export function renderPage(model: PageModel): string {
  const sections = [
    header(model),
    tenantSection(model),
    costPerFeature(model),
    tenantFeatureSection(model),
    retrainingSection(model),
    idleShare(model),
    costPer1kTokens(model),
    moversSection(model),
    valueSection(model),
    reconciliation(model),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(model.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${sections.join('\n')}
<footer>Generated ${escapeHtml(model.generatedAt)} from the daily chargeback reports. Money in ${escapeHtml(model.currency)}; exact figures in the CSV.</footer>
</body>
</html>
`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.summary{display:flex;gap:24px;flex-wrap:wrap;margin:12px 0}.summary div{background:#f4f6f8;padding:8px 12px;border-radius:6px}
.summary b{display:block;font-size:18px}.state{background:#f4f6f8;padding:8px 12px;margin:12px 0}.warn{background:#fff4e5;border-left:4px solid #e07b39;padding:8px 12px;margin:12px 0}
table{border-collapse:collapse;width:100%;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee}td.n,th.n{text-align:right}
.chart{width:100%;height:auto}.chart text{font-size:11px;fill:#444}.chart .grid{stroke:#e5e5e5}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;margin:4px 0 8px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.up{color:#c0392b}.down{color:#3a9a5b}footer{margin-top:32px;color:#777;font-size:12px}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}section{break-inside:avoid}}
`;

function header(model: PageModel): string {
  const fleet = model.allocatedMicros + model.idleMicros;
  const serving = model.allocatedMicros - model.retrainingMicros;
  const warnings: string[] = [];
  if (model.missing.length > 0)
    warnings.push(
      `<div class="warn" id="missing-days"><b>${model.missing.length} day(s) have no report</b> and are not in any figure (not counted as zero): ${model.missing.map(escapeHtml).join(', ')}</div>`,
    );
  if (model.withoutMetrics.length > 0)
    warnings.push(
      `<div class="warn">Days without a metrics file (their requests are not in the latency percentiles): ${model.withoutMetrics.map(escapeHtml).join(', ')}</div>`,
    );
  return `<header>
<h1>${escapeHtml(model.title)}</h1>
<div>${model.dates.length} day(s) reported${model.dates.length > 0 ? `, ${escapeHtml(model.dates[0] ?? '')} to ${escapeHtml(model.dates.at(-1) ?? '')}` : ''}</div>
<div class="summary">
<div>Fleet GPU cost<b id="fleet-cost" data-micros="${fleet.toString()}">${formatUsd(fleet)}</b></div>
<div>Allocated to features<b id="features-cost" data-micros="${serving.toString()}">${formatUsd(serving)}</b></div>
${model.retrainingMicros > 0n ? `<div>Retraining jobs<b id="retraining-cost" data-micros="${model.retrainingMicros.toString()}">${formatUsd(model.retrainingMicros)}</b></div>\n` : ''}<div>Idle<b data-micros="${model.idleMicros.toString()}">${formatUsd(model.idleMicros)} (${percent(model.idleMicros, fleet)})</b></div>
</div>
${reportState(model)}
${warnings.join('\n')}
</header>`;
}

function costPerFeature(model: PageModel): string {
  const shown = model.features.slice(0, CHART_FEATURES);
  const rest = model.features.slice(CHART_FEATURES);
  const series: Series[] = shown.map((f, i) => ({
    name: f.feature,
    colour: PALETTE[i % PALETTE.length] ?? '#333',
    values: f.byDay.map((v) => Number(v) / 1e6),
  }));
  if (rest.length > 0)
    series.push({
      name: `${rest.length} other feature(s)`,
      colour: '#7a7a7a',
      values: model.dates.map((_, i) => rest.reduce((sum, f) => sum + Number(f.byDay[i] ?? 0n), 0) / 1e6),
    });
  const chart =
    model.dates.length > 1
      ? stackedColumns(model.dates, series, '$')
      : horizontalBars(
          model.features.slice(0, 15).map((f) => ({
            label: f.feature,
            values: [Number(f.costMicros) / 1e6],
            texts: [formatUsd(f.costMicros)],
          })),
          PALETTE,
        );
  const rows = model.features
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.feature)}</td>${money(f.costMicros)}<td class="n">${f.requests.toString()}</td><td class="n">${f.tokens.toString()}</td></tr>`,
    )
    .join('');
  return `<section id="cost-per-feature"><h2>Cost per feature${model.dates.length > 1 ? ' per day' : ''}</h2>
<p>GPU cost allocated to each feature; idle time and retraining jobs are not in these bars (see the idle share, the retraining jobs and the reconciliation below).</p>${chart}
<table><thead><tr><th>feature</th><th class="n">cost</th><th class="n">requests</th><th class="n">tokens</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function idleShare(model: PageModel): string {
  const bars = model.models.map((m) => ({
    label: m.model,
    values: [m.fleetMicros === 0n ? 0 : Number(m.idleMicros) / Number(m.fleetMicros)],
    texts: [`${percent(m.idleMicros, m.fleetMicros)} of ${formatUsd(m.fleetMicros)}`],
  }));
  const rows = model.models
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.model)}</td>${money(m.idleMicros)}${money(m.fleetMicros)}<td class="n">${percent(m.idleMicros, m.fleetMicros)}</td></tr>`,
    )
    .join('');
  return `<section id="idle-share"><h2>Idle share per model</h2>${horizontalBars(bars, [IDLE_COLOUR])}
<table><thead><tr><th>model</th><th class="n">idle</th><th class="n">fleet</th><th class="n">idle share</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function costPer1kTokens(model: PageModel): string {
  const priced = model.features.filter((f) => f.per1kTokensMicros !== undefined);
  const bars = priced.slice(0, 20).map((f) => ({
    label: f.feature,
    values: [Number(f.per1kTokensMicros ?? 0n)],
    texts: [`$${formatScaled(f.per1kTokensMicros ?? 0n, 6)}`],
  }));
  const rows = priced
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.feature)}</td><td class="n" data-micros="${(f.per1kTokensMicros ?? 0n).toString()}">$${formatScaled(f.per1kTokensMicros ?? 0n, 6)}</td></tr>`,
    )
    .join('');
  return `<section id="cost-per-1k-tokens"><h2>Cost per 1k tokens per feature</h2>${horizontalBars(bars, [PALETTE[0] ?? ''])}
<table><thead><tr><th>feature</th><th class="n">cost per 1k tokens</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function moversSection(model: PageModel): string {
  const { basis, list } = model.movers;
  if (list.length === 0)
    return `<section id="movers"><h2>Largest movers</h2><p>No change to show (${escapeHtml(basis)}).</p></section>`;
  const rows = list
    .map((m) => {
      const up = m.afterMicros > m.beforeMicros;
      const size = percent(
        up ? m.afterMicros - m.beforeMicros : m.beforeMicros - m.afterMicros,
        m.beforeMicros,
      );
      const change =
        m.beforeMicros === 0n
          ? 'new'
          : m.afterMicros === 0n
            ? 'gone'
            : size === '0.0%'
              ? size
              : `${up ? '+' : '-'}${size}`;
      return `<tr><td>${escapeHtml(m.feature)}</td>${money(m.beforeMicros)}${money(m.afterMicros)}<td class="n ${up ? 'up' : 'down'}">${change}</td></tr>`;
    })
    .join('');
  return `<section id="movers"><h2>Largest movers</h2><p>${escapeHtml(basis)}.</p>
<table><thead><tr><th>feature</th><th class="n">before, a day</th><th class="n">after, a day</th><th class="n">change</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function valueSection(model: PageModel): string {
  if (model.values === undefined) return '';
  const bars = model.values.map((v) => ({
    label: v.feature,
    values: [Number(v.costMicros) / 1e6, Number(v.valueMicros) / 1e6],
    texts: [formatUsd(v.costMicros), formatUsd(v.valueMicros)],
  }));
  const rows = model.values
    .map((v, i) => {
      const ratio =
        v.costMicros === 0n ? '-' : formatScaled(roundedDivide(v.valueMicros * 100n, v.costMicros), 2);
      return `<tr><td class="n">${i + 1}</td><td>${escapeHtml(v.feature)}</td>${money(v.costMicros)}${money(v.valueMicros)}<td class="n">${ratio}</td></tr>`;
    })
    .join('');
  return `<section id="value"><h2>Cost against value per feature</h2>${horizontalBars(bars, [PALETTE[1] ?? '', PALETTE[2] ?? ''], ['GPU cost', 'value'])}
<p>Ranked by value per dollar of GPU cost. Features without a value are left out.</p>
<table><thead><tr><th class="n">rank</th><th>feature</th><th class="n">GPU cost</th><th class="n">value</th><th class="n">value per $</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function reconciliation(model: PageModel): string {
  const rows = model.reconciliation
    .map((d) => {
      const sum = d.allocated + d.idle;
      const stated = d.stated === undefined ? '<td class="n">-</td>' : money(d.stated);
      // contracts.md §4.4: each day closes within a cent of its fleet cost.
      const ok = d.stated === undefined || (sum > d.stated ? sum - d.stated : d.stated - sum) <= 10_000n;
      const revision = model.reports.find((r) => r.date === d.date)?.revision;
      return `<tr><td>${escapeHtml(d.date)}</td><td class="n">${revision === undefined ? '-' : revision}</td>${stated}${money(d.allocated)}${money(d.idle)}${money(sum)}<td>${ok ? 'closes' : 'DOES NOT CLOSE'}</td></tr>`;
    })
    .join('');
  const total = model.allocatedMicros + model.idleMicros;
  return `<section id="reconciliation"><h2>Reconciliation: fleet = allocated + idle</h2>
<table><thead><tr><th>day</th><th class="n">revision</th><th class="n">fleet (stated)</th><th class="n">allocated</th><th class="n">idle</th><th class="n">allocated + idle</th><th></th></tr></thead>
<tbody>${rows}</tbody><tfoot><tr><th>total</th><td></td><td></td>${money(model.allocatedMicros)}${money(model.idleMicros)}${money(total)}<td></td></tr></tfoot></table></section>`;
}
