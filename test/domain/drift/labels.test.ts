import { describe, expect, it } from 'vitest';
import { alertMessage, resolvedMessage } from '../../../src/domain/drift/card.js';
import { detectDrift } from '../../../src/domain/drift/detect.js';
import { METRIC_LABELS, RULE_LABELS, formatIn, type DriftMetric } from '../../../src/domain/drift/labels.js';
import { DEFAULT_DRIFT_RULES } from '../../../src/domain/drift/rules.js';
import { generateHistory, podName } from '../../../dev/drift-history/generate.js';
import { MODEL_SPECS } from '../../../dev/drift-history/fleet.js';
import { runDetection } from '../../../dev/drift-history/score.js';
import type { IncidentSpec } from '../../../dev/drift-history/incidents.js';

const LLAMA = MODEL_SPECS[0]?.name ?? '';
const QWEN = MODEL_SPECS[1]?.name ?? '';
const CHAT = { tenant: 'contoso', feature: 'chat', model: LLAMA, requestClass: 'interactive' };
const DOCS = { tenant: 'northwind', feature: 'summarize-docs', model: QWEN, requestClass: 'batch' };

/** A word a program would write: lower case running into upper case (costUsd, p95TtftMs). */
const RAW_NAME = /\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b/;

/** One incident of every kind a group can have, a few days apart. */
const INCIDENTS: readonly IncidentSpec[] = [
  { kind: 'completion-growth', day: 29, duration: 1, size: 3, scope: CHAT },
  { kind: 'cost-per-token', day: 30, duration: 1, size: 3, scope: DOCS },
  { kind: 'latency', day: 31, duration: 1, size: 8, scope: { model: LLAMA, pod: podName(LLAMA, 1) } },
  { kind: 'idle', day: 32, duration: 1, size: 3, scope: { model: QWEN } },
  { kind: 'error-rate', day: 33, duration: 1, size: 10, scope: CHAT },
  { kind: 'prompt-shift', day: 34, duration: 1, size: 3, scope: DOCS },
  { kind: 'data-quality', day: 35, duration: 1, size: 30, scope: {} },
  { kind: 'new-feature', day: 36, duration: 1, size: 200_000, scope: { ...CHAT, feature: 'launch' } },
  { kind: 'feature-gone', day: 38, duration: 1, size: 1, scope: DOCS },
];

describe('plain words for every metric and rule', () => {
  it('gives every rule of the rules file a label', () => {
    expect(Object.keys(RULE_LABELS).sort()).toEqual(Object.keys(DEFAULT_DRIFT_RULES.rules).sort());
  });

  it.each(Object.entries(RULE_LABELS))('names the rule %s in words', (_, { name }) => {
    expect(name).not.toMatch(RAW_NAME);
  });

  it.each(Object.entries(METRIC_LABELS))('labels %s in words, with a unit', (_, { label, unit }) => {
    expect(label).not.toMatch(RAW_NAME);
    expect(label).toMatch(/^[a-z0-9]/);
    expect(formatIn(unit, 1234.5)).toMatch(/\$|ms|tokens|%|PSI|requests/);
  });

  describe('on the alerts detection really raises', () => {
    const history = generateHistory({ seed: 3, days: 40, start: '2026-06-01', incidents: INCIDENTS });
    const outcomes = runDetection(history.days, detectDrift, DEFAULT_DRIFT_RULES);
    const raised = outcomes.flatMap((o) => o.report.alerts.map((alert) => ({ alert, report: o.report })));

    it('raises alerts of most rules', () => {
      expect(new Set(raised.map((r) => r.alert.rule)).size).toBeGreaterThanOrEqual(10);
    });

    it('has a label for every metric and rule they carry', () => {
      for (const { alert } of raised) {
        expect(Object.keys(METRIC_LABELS)).toContain(alert.metric as DriftMetric);
        expect(Object.keys(RULE_LABELS)).toContain(alert.rule);
      }
    });

    it('shows no raw metric or rule name on their cards but in the alert id', () => {
      for (const { alert, report } of raised) {
        const body = alertMessage(alert, report).attachments[0].content.body;
        const shown = body
          .filter((e) => !(typeof e.text === 'string' && e.text.startsWith('Alert id:')))
          .map((e) =>
            JSON.stringify(e).replace(
              /"(type|title|value|text|facts|size|weight|color|wrap|isSubtle|spacing)"/g,
              '',
            ),
          )
          .join(' ');
        expect(shown, `${alert.rule} / ${alert.metric}`).not.toMatch(RAW_NAME);
      }
    });

    it('names the resolved alerts in words too', () => {
      for (const { report } of raised) {
        if (report.resolved.length === 0) continue;
        expect(JSON.stringify(resolvedMessage(report).attachments[0].content.body)).not.toMatch(RAW_NAME);
      }
    });
  });
});
