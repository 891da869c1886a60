/**
 * Renders sample drift cards the way a Teams client would, for the docs: writes an offline HTML
 * page with the `adaptivecards` renderer and screenshots it with headless Chromium.
 *
 *   node --import tsx dev/render-card.ts [--out docs/img/drift-card.png] [--chromium /usr/bin/chromium]
 *
 * Needs Debian's chromium (`apt-get install -y chromium`); not part of the test suite.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DriftReport } from '../src/domain/drift/alert.js';
import { alertMessage, digestMessage, type TeamsMessage } from '../src/domain/drift/card.js';

export const SAMPLE_REPORT: DriftReport = {
  date: '2026-11-22',
  baselineDays: 28,
  resolved: [],
  alerts: [
    {
      id: 'tokens-per-request:contoso/summarise/llama-3-70b/batch',
      rule: 'tokens-per-request',
      severity: 'critical',
      scope: { tenant: 'contoso', feature: 'summarise', model: 'llama-3-70b', requestClass: 'batch' },
      metric: 'completion tokens per request',
      value: 1874,
      baseline: 612,
      threshold: 918,
      message:
        'Answers of contoso/summarise are 3.1 times longer than on the same weekdays of the last 4 weeks; ' +
        'its cost rose from $41.20 to $127.85 for the day. Check for a prompt or max_tokens change.',
      contributors: [
        { name: 'pod vllm-a100-2', value: 1921 },
        { name: 'pod vllm-a100-0', value: 1866 },
        { name: 'pod vllm-a100-1', value: 1835 },
      ],
    },
    ...[
      'ttft p95 interactive',
      'idle share',
      'error rate',
      'cost per 1k tokens',
      'daily cost',
      'rejected events',
    ].map((metric, i) => ({
      id: `sample-${i}`,
      rule: metric.replace(/ /g, '-'),
      severity: i < 2 ? ('critical' as const) : ('warning' as const),
      scope:
        i === 1
          ? { model: 'mistral-7b' }
          : { tenant: ['fabrikam', 'contoso', 'adatum', 'litware', 'wingtip'][i % 5] },
      metric,
      value: [1450, 0.61, 0.042, 0.52, 3120, 0.012][i] ?? 1,
      baseline: [610, 0.22, 0.006, 0.31, 2050, 0.0004][i] ?? 1,
      threshold: [1000, 0.4, 0.02, 0.45, 2800, 0.005][i] ?? 1,
      message: `${metric} drift`,
    })),
  ],
};

const REPORT_URL =
  'https://stchargeback.blob.core.windows.net/reports/chargeback/2026/11/22/chargeback-2026-11-22.csv';

/** Teams' light theme, in the host config subset that shapes these cards. */
const HOST_CONFIG = {
  fontFamily: 'Segoe UI, system-ui, sans-serif',
  spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
  fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
  fontWeights: { lighter: 200, default: 400, bolder: 600 },
  containerStyles: {
    default: {
      backgroundColor: '#ffffff',
      foregroundColors: {
        default: { default: '#242424', subtle: '#616161' },
        attention: { default: '#c4314b', subtle: '#c4314b' },
        warning: { default: '#835c00', subtle: '#835c00' },
        good: { default: '#237b4b', subtle: '#237b4b' },
        accent: { default: '#5b5fc7', subtle: '#5b5fc7' },
      },
    },
  },
  factSet: { title: { weight: 'Bolder', wrap: true, maxWidth: 160 }, value: { wrap: true }, spacing: 8 },
  actions: { actionsOrientation: 'horizontal', buttonSpacing: 8, maxActions: 6 },
};

function page(messages: readonly TeamsMessage[]): string {
  const cards = JSON.stringify(messages.map((m) => m.attachments[0].content));
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>drift card</title>
<style>
  body { margin: 0; padding: 24px; background: #f5f5f5; font-family: 'Segoe UI', system-ui, sans-serif; width: 680px; }
  .card { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); margin-bottom: 24px; overflow: hidden; }
  .ac-pushButton { border: 1px solid #d1d1d1; background: #fff; border-radius: 4px; padding: 6px 12px; font: 600 14px 'Segoe UI', system-ui; color: #242424; }
</style>
<script src="adaptivecards.js"></script></head>
<body><script>
  // Teams renders TextBlock markdown; this page handles the part these cards use (bold, escapes).
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    const html = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    result.outputHtml = html.replace(/\\*\\*(.+?)\\*\\*/g, '<strong>$1</strong>').replace(/\\\\(.)/g, '$1');
    result.didProcess = true;
  };
  for (const json of ${cards}) {
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = new AdaptiveCards.HostConfig(${JSON.stringify(HOST_CONFIG)});
    card.parse(json);
    const frame = document.createElement('div');
    frame.className = 'card';
    frame.appendChild(card.render());
    document.body.appendChild(frame);
  }
</script></body></html>`;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'docs/img/drift-card.png' },
      chromium: { type: 'string', default: 'chromium' },
    },
  });
  const context = { reportUrl: REPORT_URL, environment: 'prod' };
  const first = SAMPLE_REPORT.alerts[0];
  if (first === undefined) throw new Error('the sample has no alert');
  const messages = [alertMessage(first, SAMPLE_REPORT, context), digestMessage(SAMPLE_REPORT, context)];
  const folder = mkdtempSync(join(tmpdir(), 'drift-card-'));
  try {
    copyFileSync(
      createRequire(import.meta.url).resolve('adaptivecards/dist/adaptivecards.min.js'),
      join(folder, 'adaptivecards.js'),
    );
    writeFileSync(join(folder, 'index.html'), page(messages));
    const out = resolve(values.out);
    // --no-sandbox: Chromium refuses to run as root with its sandbox, as it is in containers and CI.
    execFileSync(
      values.chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--force-device-scale-factor=1',
        '--window-size=728,800',
        `--screenshot=${out}`,
        `file://${join(folder, 'index.html')}`,
      ],
      { stdio: 'inherit' },
    );
    console.log(`wrote ${out}`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

main();
