import type { FixedCost } from '../infra/fixed-cost.js';
import { escapeControlCharacters } from '../text.js';
import { dollars, roundedDivide } from '../exact.js';
import { formatBasisPoints, type CostGateResult, type GateLine, type Side } from './gate.js';

/**
 * The gate's verdict for people (a pull-request comment in Markdown) and machines (JSON), from the
 * same result. Names come from events and may hold anything: in the Markdown they are escaped so
 * that no name can break the table or inject markup.
 */
export interface FixedChange {
  readonly baseline: FixedCost;
  readonly candidate: FixedCost;
}

export function markdownText(text: string): string {
  return escapeControlCharacters(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_{}[\]()#+\-.!|~])/g, '\\$1');
}

export function headline(result: CostGateResult): string {
  const change = `${dollars(result.changeNanos, 0, true)}${result.changeBasisPoints === undefined ? '' : ` (${formatBasisPoints(result.changeBasisPoints)})`}`;
  const evidence = result.reasons.some((r) => !r.startsWith('the projected monthly GPU cost rises'));
  if (evidence)
    return `**FAIL**: not enough evidence to judge this release (monthly GPU cost ${change} on what could be measured)`;
  if (result.verdict === 'fail')
    return `**FAIL**: monthly GPU cost ${change}, above the ${result.maxIncreasePct}% limit`;
  if (result.changeNanos < 0n) return `**PASS**: monthly GPU cost ${change}: the candidate costs less`;
  return `**PASS**: monthly GPU cost ${change}, within the ${result.maxIncreasePct}% limit`;
}

export function renderMarkdown(result: CostGateResult, fixed?: FixedChange): string {
  const out = [`### Release cost gate`, '', headline(result), ''];
  if (result.reasons.length > 0) {
    out.push('Reasons:', '', ...result.reasons.map((r) => `- ${markdownText(r)}`), '');
  }
  out.push(
    `Projected onto the real volume of ${result.days.length} day(s)${result.days.length > 0 ? ` (${result.days[0] ?? ''} to ${result.days.at(-1) ?? ''})` : ''}, a month being 730 hours: ` +
      `baseline ${dollars(result.baselineMonthlyNanos)}, candidate ${dollars(result.candidateMonthlyNanos)} a month.`,
    '',
    '| feature | model | class | baseline per 1k requests | candidate per 1k requests | baseline monthly | candidate monthly | change | requests measured (baseline / candidate) | real requests a day |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const line of result.lines) out.push(row(line, result.days.length));
  if (result.model !== undefined)
    out.push('', `Judged: the groups of model ${markdownText(result.model)} only.`);
  if (result.unprojected.length > 0)
    out.push(
      '',
      `${result.model === undefined ? 'Served by the runs but without real traffic' : 'Served by the runs but not judged (another model, or no real traffic)'}, so not projected: ${result.unprojected.map(markdownText).join(', ')}.`,
    );
  if (fixed !== undefined) out.push('', ...fixedSection(fixed));
  return `${out.join('\n')}\n`;
}

function row(line: GateLine, days: number): string {
  const per1k = (side: Side | undefined): string =>
    side === undefined ? 'missing' : dollars(side.per1kRequestsNanos, 4);
  const monthly = (side: Side | undefined): string =>
    side === undefined ? 'missing' : dollars(side.monthlyNanos);
  let change = 'n/a';
  if (line.changeNanos !== undefined && line.baseline !== undefined) {
    const bp =
      line.baseline.monthlyNanos === 0n
        ? undefined
        : roundedDivide(line.changeNanos * 10_000n, line.baseline.monthlyNanos);
    change = `${dollars(line.changeNanos, 2, true)}${bp === undefined ? '' : ` (${formatBasisPoints(bp)})`}`;
  }
  const skus = (side: Side | undefined): string => (side === undefined ? '' : side.skus.join(', '));
  const skuNote =
    line.baseline !== undefined &&
    line.candidate !== undefined &&
    skus(line.baseline) !== skus(line.candidate)
      ? ` (${markdownText(skus(line.baseline))} → ${markdownText(skus(line.candidate))})`
      : '';
  const cells = [
    markdownText(line.feature),
    `${markdownText(line.model)}${skuNote}`,
    markdownText(line.requestClass),
    per1k(line.baseline),
    per1k(line.candidate),
    monthly(line.baseline),
    monthly(line.candidate),
    change,
    `${line.baseline?.requests ?? 0} / ${line.candidate?.requests ?? 0}`,
    days === 0 ? '-' : (Math.round((line.realRequests / days) * 10) / 10).toString(),
  ];
  return `| ${cells.join(' | ')} |`;
}

function fixedSection(fixed: FixedChange): string[] {
  const line = (label: string, base: bigint, cand: bigint): string =>
    `| ${label} | ${dollars(base)} | ${dollars(cand)} | ${dollars(cand - base, 2, true)} |`;
  return [
    'Fixed infrastructure (GPU pools from the Bicep snapshots; beside the usage-based figure above, not added to it):',
    '',
    '| fixed monthly GPU cost | baseline | candidate | change |',
    '|---|---:|---:|---:|',
    line(
      "at the pools' minimum",
      BigInt(fixed.baseline.monthlyAtMinNanos),
      BigInt(fixed.candidate.monthlyAtMinNanos),
    ),
    line(
      "at the pools' maximum",
      BigInt(fixed.baseline.monthlyAtMaxNanos),
      BigInt(fixed.candidate.monthlyAtMaxNanos),
    ),
  ];
}

/** The JSON verdict: money as decimal strings of the currency with 6 decimals (exact). */
export function renderJson(result: CostGateResult, fixed?: FixedChange): string {
  const usd = (nanos: bigint | undefined): string | null =>
    nanos === undefined ? null : dollars(nanos, 6).replace(/[$,]/g, '');
  const side = (s: Side | undefined): unknown =>
    s === undefined
      ? null
      : {
          requests: s.requests,
          tokens: s.tokens,
          costUsd: usd(BigInt(s.nanos)),
          costPer1kRequestsUsd: usd(s.per1kRequestsNanos),
          costPer1kTokensUsd: usd(s.per1kTokensNanos),
          monthlyUsd: usd(s.monthlyNanos),
          gpuSkus: s.skus,
        };
  const json = {
    verdict: result.verdict,
    reasons: result.reasons,
    headline: headline(result).replace(/\*\*/g, ''),
    maxIncreasePct: result.maxIncreasePct,
    judgedModel: result.model ?? null,
    trafficDays: result.days,
    baselineMonthlyUsd: usd(result.baselineMonthlyNanos),
    candidateMonthlyUsd: usd(result.candidateMonthlyNanos),
    changeMonthlyUsd: usd(result.changeNanos),
    changePct: result.changeBasisPoints === undefined ? null : Number(result.changeBasisPoints) / 100,
    groups: result.lines.map((l) => ({
      feature: l.feature,
      model: l.model,
      requestClass: l.requestClass,
      realRequests: l.realRequests,
      baseline: side(l.baseline),
      candidate: side(l.candidate),
      changeMonthlyUsd: usd(l.changeNanos),
    })),
    unprojected: result.unprojected,
    ...(fixed === undefined
      ? {}
      : {
          fixed: {
            baselineMonthlyAtMinUsd: usd(BigInt(fixed.baseline.monthlyAtMinNanos)),
            candidateMonthlyAtMinUsd: usd(BigInt(fixed.candidate.monthlyAtMinNanos)),
            baselineMonthlyAtMaxUsd: usd(BigInt(fixed.baseline.monthlyAtMaxNanos)),
            candidateMonthlyAtMaxUsd: usd(BigInt(fixed.candidate.monthlyAtMaxNanos)),
          },
        }),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}
