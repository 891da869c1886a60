/**
 * Detection quality of the drift rules: a 90-day metrics history with ordinary noise and injected
 * incidents of every kind, run through detectDrift day by day as the daily run would (the open
 * alerts carried from one day to the next), scored against the ground truth. The goal: every
 * incident of at least 1.5x in a group above the minimum volume caught on its first day, and at
 * most one false alert a week. See dev/drift-history/score.ts for what counts as caught.
 * Run: `node --import tsx bench/drift-detection.ts [seed]` (or `node dist/bench/drift-detection.js`).
 */
import { detectDrift } from '../src/domain/drift/detect.js';
import { DEFAULT_DRIFT_RULES } from '../src/domain/drift/rules.js';
import { TENANTS } from '../src/simulator/workload.js';
import { generateHistory, podName } from '../dev/drift-history/generate.js';
import { MODEL_SPECS } from '../dev/drift-history/fleet.js';
import type { IncidentSpec } from '../dev/drift-history/incidents.js';
import { runDetection, scoreDetection, type IncidentOutcome } from '../dev/drift-history/score.js';

const [seed = 11] = process.argv.slice(2).map(Number);
const LLAMA = MODEL_SPECS[0]?.name ?? '';
const QWEN = MODEL_SPECS[1]?.name ?? '';
const group = (tenant: string, feature: string, model: string, requestClass: 'interactive' | 'batch') => ({
  tenant,
  feature,
  model,
  requestClass,
});
const CONTOSO_CHAT = group(TENANTS.contoso, 'chat', LLAMA, 'interactive');

/** Sizes from 1.5x up, every kind, on weekdays and weekends; the last five deserve no alert. */
const INCIDENTS: readonly IncidentSpec[] = [
  { kind: 'completion-growth', day: 33, duration: 4, size: 3, scope: CONTOSO_CHAT },
  {
    kind: 'cost-per-token',
    day: 37,
    duration: 3,
    size: 2,
    scope: group(TENANTS.northwind, 'summarize-docs', QWEN, 'batch'),
  },
  { kind: 'latency', day: 41, duration: 2, size: 2.5, scope: { model: LLAMA, pod: podName(LLAMA, 2) } },
  { kind: 'idle', day: 44, duration: 5, size: 2, scope: { model: QWEN } },
  {
    kind: 'error-rate',
    day: 50,
    duration: 2,
    size: 6,
    scope: group(TENANTS.fabrikam, 'search-answer', LLAMA, 'interactive'),
  },
  {
    kind: 'prompt-shift',
    day: 53,
    duration: 4,
    size: 2,
    scope: group(TENANTS.northwind, 'code-assist', LLAMA, 'interactive'),
  },
  { kind: 'data-quality', day: 58, duration: 1, size: 15, scope: {} },
  // About $30 on its first weekday: a launch with real spend.
  {
    kind: 'new-feature',
    day: 30,
    duration: 1,
    size: 150_000,
    scope: group(TENANTS.fabrikam, 'contract-review', LLAMA, 'interactive'),
  },
  {
    kind: 'completion-growth',
    day: 65,
    duration: 3,
    size: 1.5,
    scope: group(TENANTS.woodgrove, 'summarize-docs', QWEN, 'batch'),
  },
  {
    kind: 'cost-per-token',
    day: 69,
    duration: 3,
    size: 1.5,
    scope: group(TENANTS.fabrikam, 'chat', LLAMA, 'interactive'),
  },
  { kind: 'latency', day: 73, duration: 2, size: 1.8, scope: { model: QWEN, pod: podName(QWEN, 0) } },
  {
    kind: 'feature-gone',
    day: 77,
    duration: 1,
    size: 1,
    scope: group(TENANTS.tailwind, 'translate', QWEN, 'batch'),
  },
  {
    kind: 'error-rate',
    day: 81,
    duration: 2,
    size: 3,
    scope: group(TENANTS.contoso, 'code-assist', LLAMA, 'interactive'),
  },
  // About $4.50 a day on 3,000 requests: under the money gates, but prompts tripling over thousands
  // of requests is a shift the statistical rules must see on its first day.
  {
    kind: 'prompt-shift',
    day: 64,
    duration: 2,
    size: 3,
    scope: group(TENANTS.contoso, 'kb-answers', QWEN, 'batch'),
  },
  // Too small to matter, or in a group too small to matter: these should stay quiet.
  {
    kind: 'completion-growth',
    day: 46,
    duration: 3,
    size: 1.1,
    scope: group(TENANTS.fabrikam, 'chat', LLAMA, 'interactive'),
    expectAlert: false,
  },
  {
    kind: 'cost-per-token',
    day: 56,
    duration: 3,
    size: 3,
    scope: group(TENANTS.adatum, 'pilot-eval', LLAMA, 'interactive'),
    expectAlert: false,
  },
  // 30,000 weekday requests of a chat-like feature spend about $6 a day (under $3 on its first
  // day, a Saturday): below the $20 a group needs to be judged at all.
  {
    kind: 'new-feature',
    day: 61,
    duration: 1,
    size: 30_000,
    scope: group(TENANTS.contoso, 'meeting-notes', LLAMA, 'interactive'),
    expectAlert: false,
  },
  { kind: 'latency', day: 85, duration: 2, size: 1.15, scope: { model: LLAMA }, expectAlert: false },
  {
    kind: 'prompt-shift',
    day: 87,
    duration: 2,
    size: 1.08,
    scope: group(TENANTS.woodgrove, 'chat', LLAMA, 'interactive'),
    expectAlert: false,
  },
];

const started = performance.now();
const history = generateHistory({ seed, days: 90, start: '2026-06-01', incidents: INCIDENTS });
const generated = performance.now();
const outcomes = runDetection(history.days, detectDrift, DEFAULT_DRIFT_RULES);
const detected = performance.now();
const fromDay = DEFAULT_DRIFT_RULES.baselineDays;
const score = scoreDetection(history.incidents, outcomes, fromDay);

const label = (scope: object): string => Object.values(scope).join(' / ') || 'fleet';
const verdict = (r: IncidentOutcome): string =>
  r.status === 'late' ? `late by ${r.delay ?? 0} day(s)` : r.status.replace('-', ' ');

console.log(`drift detection, ${new Date().toISOString().slice(0, 10)}, seed ${seed}`);
console.log(
  `history: ${history.days.length} days (${history.days[0]?.date} .. ${history.days.at(-1)?.date}), ` +
    `${history.days[0]?.groups.length} groups, generated in ${(generated - started).toFixed(0)} ms; ` +
    `detectDrift over every day in ${(detected - generated).toFixed(0)} ms; scored from day ${fromDay}`,
);
console.log('\nincident                 date        size  scope');
for (const r of score.incidents) {
  const { kind, date, size, scope } = r.incident;
  console.log(`${kind.padEnd(24)} ${date}  ${String(size).padStart(5)}  ${label(scope)}: ${verdict(r)}`);
}
const expected = score.incidents.filter((r) => r.incident.expectAlert);
const count = (status: IncidentOutcome['status']): number =>
  score.incidents.filter((r) => r.status === status).length;
const delays = expected.flatMap((r) => (r.status === 'late' ? [r.delay ?? 0] : []));
console.log(
  `\n${expected.length} incidents that deserve an alert: ${count('first-day')} caught on their first day, ` +
    `${count('late')} late${delays.length > 0 ? ` (by ${delays.join(', ')} days)` : ''}, ${count('missed')} missed`,
);
console.log(
  `${score.incidents.length - expected.length} below threshold: ${count('quiet')} quiet, ${count('alerted')} alerted`,
);
console.log(
  `false alerts: ${score.falseAlerts.length} over ${score.scoredDays} days = ${score.falsePerWeek.toFixed(2)} a week; ` +
    `${score.collateral} more alerts raised by other rules on an incident's own scope`,
);
for (const { day, alert } of score.falseAlerts.slice(0, 10)) {
  console.log(
    `  ${history.days[day]?.date} ${alert.rule} on ${label(alert.scope)}: ${alert.value.toPrecision(3)} against ${alert.baseline.toPrecision(3)}`,
  );
}
console.log('\nkind                     incidents  first day  late  missed');
for (const [kind, f] of Object.entries(score.byKind)) {
  if (f.incidents === 0) continue;
  console.log(
    `${kind.padEnd(24)} ${[f.incidents, f.firstDay, f.late, f.missed].map((n) => String(n).padStart(9)).join('  ')}`,
  );
}
