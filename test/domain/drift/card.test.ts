import { describe, expect, it } from 'vitest';
import type { Alert, DriftReport } from '../../../src/domain/drift/alert.js';
import {
  alertMessage,
  driftMessages,
  messageBytes,
  type TeamsMessage,
} from '../../../src/domain/drift/card.js';
import { parserIssues, schemaErrors } from './adaptive-card-validators.js';

const URL = 'https://reports.example.net/chargeback/2026/11/22/chargeback-2026-11-22.csv';
/** The posted envelope's budget: a margin below the webhook's ~28 KB, which Teams counts after rendering. */
const BUDGET = 24 * 1024;

function alert(n: number, overrides: Partial<Alert> = {}): Alert {
  return {
    id: `costPer1kTokens:acme:chat-${n}:llama-3-70b:interactive`,
    rule: 'costPer1kTokens',
    severity: 'warning',
    scope: { tenant: 'acme', feature: `chat-${n}`, model: 'llama-3-70b', requestClass: 'interactive' },
    metric: 'costPer1kTokensUsd',
    value: 0.42,
    baseline: 0.18,
    threshold: 0.27,
    message: `Cost per 1k tokens of acme/chat-${n} rose from 0.18 to 0.42 USD.`,
    contributors: [
      { name: 'completion tokens per request', value: 2.9 },
      { name: 'pod vllm-a100-3', value: 0.61 },
    ],
    ...overrides,
  };
}

function report(alerts: readonly Alert[], resolved: readonly string[] = []): DriftReport {
  return { date: '2026-11-22', baselineDays: 28, alerts, resolved };
}

function head<T>(list: readonly T[]): T {
  const first = list[0];
  if (first === undefined) throw new Error('expected at least one');
  return first;
}

function texts(message: TeamsMessage): string {
  return JSON.stringify(message.attachments[0].content.body);
}

describe('drift cards', () => {
  it('wraps the card in the Workflows envelope of contracts.md §7', () => {
    const [first] = driftMessages(report([alert(1)]), { reportUrl: URL });
    expect(first?.message).toMatchObject({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null }],
    });
    expect(first?.message.attachments[0].content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
  });

  it('sends one card per alert while there are at most five', () => {
    const messages = driftMessages(report([1, 2, 3, 4, 5].map((n) => alert(n))));
    expect(messages.map((m) => m.key)).toEqual(
      [1, 2, 3, 4, 5].map((n) => `2026-11-22/alert/costPer1kTokens:acme:chat-${n}:llama-3-70b:interactive`),
    );
  });

  it('sends one digest card instead of six', () => {
    const messages = driftMessages(report([1, 2, 3, 4, 5, 6].map((n) => alert(n))));
    expect(messages.map((m) => m.key)).toEqual(['2026-11-22/digest']);
    expect(texts(head(messages).message)).toContain('6 drift alerts on 2026-11-22');
  });

  it('takes the digest threshold from the context', () => {
    expect(driftMessages(report([alert(1), alert(2)]), { digestAbove: 1 }).map((m) => m.key)).toEqual([
      '2026-11-22/digest',
    ]);
  });

  it('lists critical alerts first in the digest', () => {
    const alerts = [1, 2, 3, 4, 5]
      .map((n) => alert(n))
      .concat(alert(9, { severity: 'critical', rule: 'idleShare', metric: 'idleShare' }));
    const body = head(driftMessages(report(alerts))).message.attachments[0].content.body;
    expect(body[2]).toMatchObject({
      text: expect.stringMatching(/^\*\*CRITICAL\*\* Idle GPU share/) as unknown,
    });
  });

  it('adds a short back-to-normal card for the resolved ids', () => {
    const messages = driftMessages(report([], ['error-rate:acme/chat', 'idle-share:llama-3-70b']));
    expect(messages.map((m) => m.key)).toEqual(['2026-11-22/resolved']);
    expect(texts(head(messages).message)).toContain('Back to normal on 2026-11-22: 2 alerts resolved');
    expect(texts(head(messages).message)).toContain('idle-share:llama-3-70b');
  });

  it('names a resolved alert’s rule and scope in words', () => {
    const shown = texts(
      head(driftMessages(report([], ['dailyCost:acme:chat%3Abeta:llama-3-8b:interactive']))).message,
    );
    expect(shown).toContain('✓ Daily cost · acme / chat:beta / llama-3-8b / interactive');
  });

  it('sends nothing for a quiet day', () => {
    expect(driftMessages(report([]))).toEqual([]);
  });

  it('says what changed, by how much, against what baseline, where, and who drove it', () => {
    const shown = texts(alertMessage(alert(1), report([alert(1)])));
    for (const part of [
      'Warning: Cost per 1k tokens up 133%',
      '"Today","value":"$0.42 per 1k tokens"',
      '"Baseline","value":"$0.18 per 1k tokens (median of previous days)"',
      '"Change","value":"+133.3% (×2.33)"',
      '"Threshold","value":"$0.27 per 1k tokens"',
      '"History","value":"28 previous days"',
      '"Tenant","value":"acme"',
      '"Feature","value":"chat-1"',
      '"Model","value":"llama-3-70b"',
      '"Request class","value":"interactive"',
      'Top contributors',
      '"completion tokens per request","value":"2.9"',
    ])
      expect(shown).toContain(part);
  });

  it('names an SLA alert’s baseline as the SLA, in milliseconds', () => {
    const sla = alert(1, {
      rule: 'p95LatencySla',
      metric: 'p95LatencyMs',
      value: 36_000,
      baseline: 30_000,
      threshold: 30_000,
    });
    const shown = texts(alertMessage(sla, report([sla])));
    for (const part of [
      'Warning: p95 latency over the SLA',
      '"Today","value":"36,000 ms"',
      '"SLA","value":"30,000 ms"',
      '"Change","value":"1.2× the SLA"',
    ])
      expect(shown).toContain(part);
  });

  it('gives a prompt-length shift no change in percent against its baseline of 0', () => {
    const shift = alert(1, {
      rule: 'promptLengthShift',
      metric: 'promptTokensPsi',
      value: 3.2,
      baseline: 0,
      threshold: 0.5,
    });
    const shown = texts(alertMessage(shift, report([shift])));
    expect(shown).toContain('Warning: Prompt lengths shifted');
    expect(shown).toContain('"Today","value":"PSI 3.2"');
    expect(shown).not.toContain('"Change"');
  });

  it('reads idle contributors in GPU-hours', () => {
    const idle = alert(1, {
      rule: 'idleShare',
      metric: 'idleShare',
      value: 0.5,
      baseline: 0.25,
      threshold: 0.4,
      contributors: [{ name: 'vllm-a100-3', value: 36_000 }],
    });
    const shown = texts(alertMessage(idle, report([idle])));
    expect(shown).toContain('Warning: Idle GPU share up 100%');
    expect(shown).toContain('"vllm-a100-3","value":"10 idle GPU-hours"');
  });

  it('writes the digest lines in units against the median', () => {
    const alerts = [1, 2, 3, 4, 5, 6].map((n) => alert(n));
    const shown = texts(head(driftMessages(report(alerts))).message);
    expect(shown).toContain(
      '**warning** Cost per 1k tokens up 133% · tenant acme / feature chat-1 / model llama-3-70b / interactive: ' +
        '$0.42 per 1k tokens against a median of $0.18 per 1k tokens',
    );
    expect(shown).toContain('baselines are medians of previous days (28 found)');
  });

  it('links the day’s report when its URL is given', () => {
    const message = alertMessage(alert(1), report([alert(1)]), { reportUrl: URL });
    expect(message.attachments[0].content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open the day’s report', url: URL },
    ]);
  });

  it('says a change from a zero baseline is new rather than infinite', () => {
    const shown = texts(alertMessage(alert(1, { baseline: 0 }), report([])));
    expect(shown).toContain('new: baseline 0');
    expect(shown).toContain('Cost per 1k tokens up from 0');
  });

  it('still reads an alert whose metric and rule have no label, with their names and plain digits', () => {
    const odd = alert(1, { rule: 'hand-made', metric: 'widgets', value: 3 });
    const shown = texts(alertMessage(odd, report([odd])));
    expect(shown).toContain('Warning: widgets up 1,567%');
    expect(shown).toContain('"Today","value":"3"');
  });

  it('keeps hostile names on one line and inert as markdown', () => {
    const hostile = alert(1, {
      scope: { tenant: '**bold** [x](https://evil)\n# {{DATE(2017-02-14T06:08:39Z)}}\u202e' },
    });
    const tenant = alertMessage(hostile, report([])).attachments[0].content.body[3] as {
      facts: { title: string; value: string }[];
    };
    expect(tenant.facts.find((f) => f.title === 'Tenant')?.value).toBe(
      '\\*\\*bold\\*\\* \\[x\\](https://evil) # {\u200b{DATE(2017-02-14T06:08:39Z)}}',
    );
  });

  it.each([
    ['one alert', driftMessages(report([alert(1)]), { reportUrl: URL })],
    ['a digest', driftMessages(report([1, 2, 3, 4, 5, 6, 7].map((n) => alert(n))), { reportUrl: URL })],
    ['a resolved card', driftMessages(report([], ['a', 'b']), { environment: 'prod' })],
  ])('%s passes the Adaptive Card 1.4 checks', (_, messages) => {
    for (const { message } of messages) {
      expect(schemaErrors(message)).toEqual([]);
      expect(parserIssues(message.attachments[0].content)).toEqual([]);
    }
  });

  it('the subset schema rejects what 1.4 does not allow', () => {
    const first = head(driftMessages(report([alert(1)])));
    const content = { ...first.message.attachments[0].content, version: '1.5', body: [{ type: 'Table' }] };
    const broken = { ...first.message, attachments: [{ ...first.message.attachments[0], content }] };
    expect(schemaErrors(broken)).not.toEqual([]);
  });

  describe('worst case: hundreds of alerts with 128-character hostile names', () => {
    const nasty = (n: number): string => `${n}`.padEnd(128, '*_[]`<>{{\u202e😀é\n');
    const alerts = Array.from({ length: 600 }, (_, n) =>
      alert(n, {
        id: `x:${nasty(n)}`,
        severity: n % 3 === 0 ? 'critical' : 'warning',
        scope: {
          tenant: nasty(n),
          feature: nasty(n + 1),
          model: nasty(n + 2),
          requestClass: nasty(n),
          pod: nasty(n),
        },
        metric: nasty(n),
        message: nasty(n).repeat(8),
        contributors: Array.from({ length: 20 }, (_, i) => ({ name: nasty(i), value: i })),
      }),
    );
    const messages = driftMessages(
      report(
        alerts,
        alerts.map((a) => a.id),
      ),
      { reportUrl: URL, environment: nasty(0) },
    );

    it('stays within 24 KB per message', () => {
      for (const { message } of messages) expect(messageBytes(message)).toBeLessThanOrEqual(BUDGET);
    });

    it('counts exactly the rows it leaves out', () => {
      const digest = head(messages).message.attachments[0].content.body;
      const rows = digest.filter((e) => /^\*\*(CRITICAL|warning)\*\*/.test(String(e.text))).length;
      const more = /… and (\d+) more/.exec(String(digest.at(-1)?.text));
      expect(rows + Number(more?.[1])).toBe(600);
    });

    it('still passes the Adaptive Card 1.4 checks', () => {
      for (const { message } of messages) {
        expect(schemaErrors(message)).toEqual([]);
        expect(parserIssues(message.attachments[0].content)).toEqual([]);
      }
    });

    it('keeps a single alert’s card within 24 KB too', () => {
      expect(messageBytes(alertMessage(head(alerts), report(alerts)))).toBeLessThanOrEqual(BUDGET);
    });
  });
});
