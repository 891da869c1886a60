import { afterEach, describe, expect, it } from 'vitest';
import { makeReportDay } from '../../functions/reportDay.js';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { dailyDeps, driftSetup, type Services } from '../../src/composition/composition.js';
import { TeamsNotifier } from '../../src/adapters/teams/teams-notifier.js';
import { renderMetrics } from '../../src/domain/metrics/build.js';
import type { DailyMetrics } from '../../src/domain/metrics/metrics.js';
import { day, group, history, TODAY } from '../domain/drift/fixture.js';
import { startReceiver, type Answer } from '../adapters/teams/teams-receiver.js';
import { isolatedServices } from '../helpers/storage.js';

const NOW = new Date(`${TODAY}T23:59:30.000Z`);
// The day's cost went from $100 to $250 for the same tokens: two rules hold.
const ALERT_ID = 'costPer1kTokens:acme:chat:llama-3-8b:interactive';
const ALERT_IDS = [ALERT_ID, 'dailyCost:acme:chat:llama-3-8b:interactive'];
const MESSAGE = { day: TODAY, reason: 'yesterday', requestedAt: NOW.toISOString() };

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Reports already stored for 28 ordinary days and a day whose cost doubled, as reportDay leaves them. */
async function storeDays(s: Services, today: DailyMetrics): Promise<void> {
  for (const m of [...history(28), today]) {
    await s.reports.write(
      m.date,
      { csv: 'date\r\n', summary: '{}', metrics: renderMetrics(m) },
      // Later than any commit (there are none): reportDay finds the report current and runs drift.
      { revision: 1, ledgerAsOf: NOW.toISOString() },
    );
  }
}

async function setUp(answers: readonly Answer[], fastNotifier = false) {
  const receiver = await startReceiver(answers);
  stops.push(receiver.stop);
  const url = receiver.url('/workflows/abc/triggers/manual/run?sig=c2VjcmV0LXNpZw');
  const s = await isolatedServices(undefined, () => NOW, {
    TEAMS_WEBHOOK_URL: url,
    REPORT_LINK_BASE: 'https://chargeback.example/api/reports/',
  });
  await storeDays(s, day(TODAY, { groups: [group({}, { costUsd: 250 })] }));
  const setup = driftSetup(s);
  // The 500 case: the real client, without its backoff waits, so five failed tries take no time.
  const notifier = fastNotifier ? new TeamsNotifier({ url, sleep: () => Promise.resolve() }) : setup.notifier;
  const handler = makeReportDay(() => Promise.resolve({ ...dailyDeps(s), drift: { ...setup, notifier } }));
  const logs: string[] = [];
  let run = 0;
  const invoke = () =>
    handler(
      JSON.stringify(MESSAGE),
      new InvocationContext({
        invocationId: `run-${++run}`,
        functionName: 'reportDay',
        logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
      }),
    );
  return { s, receiver, invoke, logs };
}

/** The alert id a received card names. */
const idOf = (body: unknown): string | undefined => /Alert id: ([^"]+)/.exec(JSON.stringify(body))?.[1];

describe('reportDay runs drift after the day, against Azurite and a loopback Teams receiver', () => {
  it('posts a new alert once, with the link to the day, and writes alerts-DATE.json', async () => {
    const { s, receiver, invoke } = await setUp([{ status: 202 }]);
    await invoke();
    expect(receiver.received.map((r) => idOf(r.body))).toEqual(ALERT_IDS);
    expect(JSON.stringify(receiver.received[0]?.body)).toContain(
      `https://chargeback.example/api/reports/${TODAY}`,
    );
    const file = JSON.parse((await s.reports.alerts(TODAY)) ?? '{}') as { alerts: { id: string }[] };
    expect(file.alerts.map((a) => a.id)).toContain(ALERT_ID);
    expect((await s.alerts.get(ALERT_ID))?.record.notified).toMatchObject({ day: TODAY, kind: 'raised' });
  });

  it('posts nothing more when the same message is processed twice', async () => {
    const { receiver, invoke } = await setUp([{ status: 202 }]);
    await invoke();
    const once = receiver.received.length;
    await invoke();
    expect(once).toBeGreaterThan(0);
    expect(receiver.received).toHaveLength(once);
  });

  it('leaves the card in the outbox when Teams answers 500, and the next run sends it', async () => {
    const { s, receiver, invoke, logs } = await setUp(
      [...Array<Answer>(5).fill({ status: 500 }), { status: 202 }],
      true,
    );
    await invoke();
    expect(receiver.received).toHaveLength(5);
    expect((await s.outbox.list()).map((e) => e.key)).toEqual(ALERT_IDS.map((id) => `${TODAY}/alert/${id}`));
    expect((await s.alerts.claims(TODAY)).map((c) => c.status)).toEqual(['queued', 'queued']);
    await invoke();
    expect(receiver.received.slice(5).map((r) => idOf(r.body))).toEqual(ALERT_IDS);
    expect(await s.outbox.list()).toEqual([]);
    expect(logs.join('\n')).not.toContain('sig=');
  });

  it('computes and stores alerts but posts nothing without a webhook, and warns once', async () => {
    const s = await isolatedServices(undefined, () => NOW);
    await storeDays(s, day(TODAY, { groups: [group({}, { costUsd: 250 })] }));
    const handler = makeReportDay(() => Promise.resolve({ ...dailyDeps(s), drift: driftSetup(s) }));
    const warnings: string[] = [];
    const context = () =>
      new InvocationContext({
        functionName: 'reportDay',
        logHandler: (level, ...args) => {
          if (level === 'warning') warnings.push(args.map(String).join(' '));
        },
      });
    await handler(JSON.stringify(MESSAGE), context());
    await handler(JSON.stringify(MESSAGE), context());
    expect(warnings.filter((w) => w.includes('TEAMS_WEBHOOK_URL'))).toHaveLength(1);
    expect(await s.reports.alerts(TODAY)).toContain(ALERT_ID);
    expect((await s.alerts.get(ALERT_ID))?.record).toMatchObject({ status: 'open' });
    expect((await s.alerts.get(ALERT_ID))?.record.notified).toBeUndefined();
  });
});
