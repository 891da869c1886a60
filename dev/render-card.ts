/**
 * Renders drift cards the way a Teams client would, for the docs: runs detectDrift over a generated
 * history with incidents (below), writes an offline HTML page of the cards it gives with the
 * `adaptivecards` renderer, and screenshots it with headless Chromium.
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
import { detectDrift } from '../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES } from '../src/domain/drift/rules.js';
import { MODEL_SPECS } from './drift-history/fleet.js';
import { generateHistory } from './drift-history/generate.js';
import type { IncidentSpec } from './drift-history/incidents.js';
import { runDetection } from './drift-history/score.js';

const LLAMA = MODEL_SPECS[0]?.name ?? '';
const QWEN = MODEL_SPECS[1]?.name ?? '';
const INCIDENT_DAY = 45;

/**
 * A bad day on the drift history (dev/drift-history): a small feature's prompts triple, longer
 * answers in a large one, a model scaled out and left idle. The cards are drawn from what
 * detectDrift raises on it, the open alerts carried from day to day as the daily run does.
 */
const INCIDENTS: readonly IncidentSpec[] = [
  {
    kind: 'prompt-shift',
    day: INCIDENT_DAY,
    duration: 1,
    size: 3,
    scope: { tenant: 'contoso', feature: 'kb-answers', model: QWEN, requestClass: 'batch' },
  },
  {
    kind: 'completion-growth',
    day: INCIDENT_DAY,
    duration: 1,
    size: 2,
    scope: { tenant: 'fabrikam', feature: 'chat', model: LLAMA, requestClass: 'interactive' },
  },
  { kind: 'idle', day: INCIDENT_DAY, duration: 1, size: 2, scope: { model: QWEN } },
];

export function sampleReport(): DriftReport {
  const history = generateHistory({
    seed: 11,
    days: INCIDENT_DAY + 1,
    start: '2026-10-12',
    incidents: INCIDENTS,
  });
  const outcome = runDetection(history.days, detectDrift, DEFAULT_DRIFT_RULES).at(-1);
  if (outcome === undefined) throw new Error('no day detected');
  return outcome.report;
}

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
  const report = sampleReport();
  const [year, month, day] = report.date.split('-');
  const reportUrl = `https://stchargeback.blob.core.windows.net/reports/chargeback/${year}/${month}/${day}/chargeback-${report.date}.csv`;
  const context = { reportUrl, environment: 'prod' };
  // The small feature's alert alone, then the digest the day really posts.
  const first = report.alerts.find((a) => a.rule === 'promptTokensPerRequest') ?? report.alerts[0];
  if (first === undefined) throw new Error('the sample day raised no alert');
  console.log(report.alerts.map((a) => `${a.severity} ${a.id}`).join('\n'));
  const messages = [alertMessage(first, report, context), digestMessage(report, context)];
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
        '--window-size=728,840',
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
