import { formatScaled, roundedDivide } from '../exact.js';
import { counted, formatUsd, money, percent } from './cells.js';
import type { PageModel } from './page-model.js';
import { escapeHtml, horizontalBars, IDLE_COLOUR, PALETTE } from './svg.js';

/**
 * The report page's sections on who paid (tenants, and each tenant's features), on the retraining
 * jobs (the cost of quality, not a feature), and the state of the reports behind the page: a
 * restated day, rejected lines and unmetered requests must not read as a clean first report.
 */
const CHART_TENANTS = 15;

export function tenantSection(model: PageModel): string {
  const fleet = model.allocatedMicros + model.idleMicros;
  const bars = model.tenants.slice(0, CHART_TENANTS).map((t) => ({
    label: t.tenant,
    values: [Number(t.costMicros) / 1e6],
    texts: [formatUsd(t.costMicros)],
  }));
  const rows = model.tenants
    .map(
      (t) =>
        `<tr><td>${escapeHtml(t.tenant)}</td>${money(t.costMicros)}<td class="n">${percent(t.costMicros, fleet)}</td><td class="n">${t.requests.toString()}</td><td class="n">${t.tokens.toString()}</td></tr>`,
    )
    .join('');
  const retraining =
    model.retrainingMicros > 0n
      ? `<tr id="tenant-retraining"><th>retraining jobs (tenant (retraining))</th>${money(model.retrainingMicros)}<td class="n">${percent(model.retrainingMicros, fleet)}</td><td></td><td></td></tr>`
      : '';
  return `<section id="cost-per-tenant"><h2>Cost per tenant</h2>
<p>GPU cost allocated to each tenant, all its features and models together. Retraining jobs and idle GPU-time are no tenant's; they are below the tenants, so the table adds up to the fleet.</p>${bars.length > 0 ? horizontalBars(bars, [PALETTE[0] ?? '']) : ''}
<table><thead><tr><th>tenant</th><th class="n">cost</th><th class="n">share of fleet</th><th class="n">requests</th><th class="n">tokens</th></tr></thead><tbody>${rows}</tbody>
<tfoot>${retraining}<tr id="tenant-idle"><th>idle GPU-time</th>${money(model.idleMicros)}<td class="n">${percent(model.idleMicros, fleet)}</td><td></td><td></td></tr><tr><th>fleet</th>${money(fleet)}<td></td><td></td><td></td></tr></tfoot></table></section>`;
}

export function tenantFeatureSection(model: PageModel): string {
  const rows = model.tenants
    .flatMap((t) =>
      t.features.map(
        (f) =>
          `<tr><td>${escapeHtml(t.tenant)}</td><td>${escapeHtml(f.feature)}</td>${money(f.costMicros)}<td class="n">${percent(f.costMicros, t.costMicros)}</td><td class="n">${f.requests.toString()}</td><td class="n">${f.tokens.toString()}</td></tr>`,
      ),
    )
    .join('');
  return `<section id="tenant-feature"><h2>Cost per tenant and feature</h2>
<p>Each tenant's features, largest first (a feature is a tenant's own: two tenants' features of one name are two rows).</p>
<table><thead><tr><th>tenant</th><th>feature</th><th class="n">cost</th><th class="n">share of tenant</th><th class="n">requests</th><th class="n">tokens</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

export function retrainingSection(model: PageModel): string {
  if (model.retraining.length === 0) return '';
  const bars = model.retraining.map((r) => ({
    label: r.model,
    values: [Number(r.costMicros) / 1e6],
    texts: [`${formatUsd(r.costMicros)}, ${counted(r.jobs, 'job')}`],
  }));
  const rows = model.retraining
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.model)}</td><td class="n">${r.jobs.toString()}</td><td class="n">${formatScaled(roundedDivide(r.gpuMillis * 100n, 3_600_000n), 2)}</td>${money(r.costMicros)}</tr>`,
    )
    .join('');
  return `<section id="retraining"><h2>Retraining jobs</h2>
<p>Azure ML retraining jobs started by failed quality gates, charged as tenant (retraining): the GPU-time each model's retraining held. They are not a feature, and not in the feature figures above.</p>${horizontalBars(bars, [IDLE_COLOUR])}
<table><thead><tr><th>model retrained</th><th class="n">jobs</th><th class="n">GPU-hours</th><th class="n">cost</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/**
 * The reports behind the page. A day page states its revision, when the report was generated, and
 * its rejected lines and unmetered requests (contracts.md §4.5, §4.8); a month page sums those and names its
 * restated days. Anything but a clean first revision is shown as a warning.
 */
export function reportState(model: PageModel): string {
  if (model.dates.length === 1) {
    const report = model.reports[0];
    if (report === undefined)
      return `<div class="warn" id="report-state">No metrics file for this day: its revision, rejected lines and unmetered requests are unknown.</div>`;
    const notes: string[] = [];
    if (report.revision > 1)
      notes.push(
        `revision ${report.revision} restates an earlier report of this day (late events or a restatement)`,
      );
    if (report.rejected > 0) notes.push(`${counted(report.rejected, 'rejected line')}: not in any figure`);
    if (report.unmeteredRequests > 0)
      notes.push(
        `${counted(report.unmeteredRequests, 'unmetered request')}: no capacity window covered them, charged 0`,
      );
    const clean = notes.length === 0;
    const said = notes.join('; ');
    return `<div class="${clean ? 'state' : 'warn'}" id="report-state" data-revision="${report.revision}" data-generated-at="${escapeHtml(report.generatedAt)}" data-rejected="${report.rejected}" data-unmetered="${report.unmeteredRequests}">Revision <b>${report.revision}</b>, report generated <b>${escapeHtml(report.generatedAt)}</b>; <b>${counted(report.rejected, 'rejected line')}</b>, <b>${counted(report.unmeteredRequests, 'unmetered request')}</b>.${clean ? '' : ` ${escapeHtml(said.charAt(0).toUpperCase() + said.slice(1))}.`}</div>`;
  }
  if (model.reports.length === 0) return '';
  const rejected = model.reports.reduce((sum, r) => sum + r.rejected, 0);
  const unmetered = model.reports.reduce((sum, r) => sum + r.unmeteredRequests, 0);
  const restated = model.reports.filter((r) => r.revision > 1);
  const clean = rejected === 0 && unmetered === 0 && restated.length === 0;
  const restatedText =
    restated.length === 0
      ? 'no day restated'
      : `restated: ${restated.map((r) => `${escapeHtml(r.date)} (revision ${r.revision})`).join(', ')}`;
  return `<div class="${clean ? 'state' : 'warn'}" id="report-state" data-rejected="${rejected}" data-unmetered="${unmetered}">Over the ${counted(model.reports.length, 'day')} with a metrics file: <b>${counted(rejected, 'rejected line')}</b>, <b>${counted(unmetered, 'unmetered request')}</b>; ${restatedText}.</div>`;
}
