import { randomUUID } from 'node:crypto';
import Papa from 'papaparse';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvocationContext } from '../../dev/functions-runtime.js';
import { makeIngestUsage } from '../../functions/ingestUsage.js';
import { makeReportDay } from '../../functions/reportDay.js';
import { dailyDeps, driftSetup, ingestDeps, type Services } from '../../src/composition/composition.js';
import type { DriftReport } from '../../src/domain/drift/alert.js';
import { parseMetrics } from '../../src/domain/metrics/build.js';
import type { Spent } from '../../src/domain/budgets/state.js';
import { startReceiver } from '../adapters/teams/teams-receiver.js';
import { budgetServices } from '../helpers/storage.js';

const D1 = '2026-11-22';
const D2 = '2026-11-23';
const SKU = 'Standard_NC24ads_A100_v4';
const ACME_ALERT = 'budgetEstimateError:acme:*';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const stop of stops.splice(0)) await stop();
});

/** A request of `tenant` on pod vllm-0 from `start` for `minutes`, with no meanConcurrency (counted whole). */
function request(tenant: string, start: string, minutes: number) {
  const startedAt = new Date(start);
  return {
    type: 'usage',
    schemaVersion: 1,
    eventId: randomUUID(),
    requestId: randomUUID(),
    tenant,
    feature: 'chat',
    model: 'llama',
    requestClass: 'interactive',
    pod: 'vllm-0',
    gpuSku: SKU,
    gpuCount: 1,
    startedAt: startedAt.toISOString(),
    firstTokenAt: null,
    finishedAt: new Date(startedAt.getTime() + minutes * 60_000).toISOString(),
    promptTokens: 100,
    completionTokens: 100,
    status: 'ok',
  };
}

function held(start: string, end: string) {
  return {
    type: 'capacity',
    schemaVersion: 1,
    eventId: randomUUID(),
    pod: 'vllm-0',
    gpuSku: SKU,
    gpuCount: 1,
    model: 'llama',
    windowStart: start,
    windowEnd: end,
  };
}

/**
 * The Function App as composed for budgets, on Azurite, with a loopback Teams receiver: ingestUsage
 * (which adds the estimate) and reportDay (report, then drift), and a clock the test moves.
 */
async function setUp() {
  const receiver = await startReceiver([{ status: 202 }]);
  stops.push(receiver.stop);
  let clock = new Date(`${D2}T00:10:00Z`);
  const { services: s } = await budgetServices(
    {
      budgets: [
        { scope: { tenant: 'acme' }, period: 'month', limit: { usd: 1000 }, policy: 'alert' },
        { scope: { tenant: 'beta' }, period: 'day', limit: { usd: 100 }, policy: 'refuse' },
      ],
    },
    () => clock,
    { TEAMS_WEBHOOK_URL: receiver.url('/workflows/abc/triggers/manual/run?sig=c2VjcmV0') },
  );
  let sequence = 0;
  const ingest = async (events: readonly object[]) => {
    const first = sequence;
    sequence += events.length;
    await makeIngestUsage(() => Promise.resolve(ingestDeps(s)))(
      events.map((e) => JSON.stringify(e)),
      new InvocationContext({
        logHandler: () => undefined,
        triggerMetadata: {
          partitionContext: { partitionId: '0' },
          sequenceNumberArray: events.map((_, i) => first + i),
          enqueuedTimeUtcArray: events.map(() => clock.toISOString()),
        },
      }),
    );
  };
  const handler = makeReportDay(() => Promise.resolve({ ...dailyDeps(s), drift: driftSetup(s) }));
  let run = 0;
  const report = (day: string) =>
    handler(
      JSON.stringify({ day, reason: 'yesterday', requestedAt: clock.toISOString() }),
      new InvocationContext({ invocationId: `run-${++run}`, logHandler: () => undefined }),
    );
  const at = (iso: string) => {
    clock = new Date(iso);
  };
  return { s, receiver, ingest, report, at };
}

function budgetsOf(s: Services) {
  const budgets = s.budgets;
  const [acme, beta] = budgets?.file.budgets ?? [];
  if (budgets === undefined || acme === undefined || beta === undefined)
    throw new Error('budgets not composed');
  return { spend: budgets.spend, acme, beta };
}

/** The sum of the CSV's costUsd over the tenant's rows, in micro-dollars, and how many rows. */
async function csvCost(s: Services, day: string, tenant: string): Promise<{ micros: number; rows: number }> {
  const csv = (await s.reports.csv(day)) ?? '';
  const rows = Papa.parse<Record<string, string>>(csv, { header: true, skipEmptyLines: true }).data.filter(
    (r) => r['tenant'] === tenant,
  );
  return { micros: rows.reduce((n, r) => n + Math.round(Number(r['costUsd']) * 1e6), 0), rows: rows.length };
}

async function alertsFile(s: Services, day: string): Promise<DriftReport> {
  return JSON.parse((await s.reports.alerts(day)) ?? '{}') as DriftReport;
}

/** The alert id a received card names, its Markdown escapes (`\\*`) taken off. */
const idOf = (body: unknown): string | undefined =>
  /Alert id: ([^"]+)/.exec(JSON.stringify(body))?.[1]?.replaceAll('\\\\', '');

describe('a reported day replaces the budgets estimate, and drift judges the error (Azurite, composed as the Function App is)', () => {
  it('puts the report rows in place of the estimate, raises a far-off estimate once, and resolves it', async () => {
    const { s, receiver, ingest, report, at } = await setUp();
    const { spend, acme, beta } = budgetsOf(s);
    const logged: string[] = [];
    vi.spyOn(console, 'info').mockImplementation((line: unknown) => {
      logged.push(String(line));
    });

    // D1: the pod held its GPU 10:00-12:00. Acme ran four requests at once for 30 minutes, each
    // counted whole by the estimate (four times the pod's time); beta one request alone after them.
    await ingest([
      held(`${D1}T10:00:00Z`, `${D1}T12:00:00Z`),
      ...[0, 1, 2, 3].map(() => request('acme', `${D1}T10:00:00Z`, 30)),
      request('beta', `${D1}T11:00:00Z`, 30),
    ]);
    const acmeEstimate = await spend.read('day', D1, acme.key);
    at(`${D2}T01:00:00Z`);
    await report(D1);

    // The exact figure that replaced each scope's estimate is the report's rows for the tenant.
    for (const [tenant, budget] of [
      ['acme', acme],
      ['beta', beta],
    ] as const) {
      const exact = ((await spend.exactMonth('2026-11')).get(budget.key) ?? new Map<string, Spent>()).get(D1);
      const csv = await csvCost(s, D1, tenant);
      expect(csv.rows).toBeGreaterThan(0);
      // The CSV prints each row rounded to the micro-dollar; the exact figure is not rounded.
      expect(Math.abs((exact?.nanos ?? NaN) / 1000 - csv.micros)).toBeLessThanOrEqual(csv.rows * 0.5);
    }

    // The day's metrics carry the error per scope: acme's estimate four times its exact figure.
    const metrics = parseMetrics((await s.reports.metrics(D1)) ?? '');
    const [acmeDay, betaDay] = metrics.budgets ?? [];
    expect(metrics.budgets?.map((b) => b.scope)).toEqual([{ tenant: 'acme' }, { tenant: 'beta' }]);
    expect(acmeDay?.estimateUsd).toBeCloseTo(acmeEstimate.nanos / 1e9, 9);
    expect(acmeDay?.relativeError).toBeCloseTo(3, 3);
    expect(Math.abs(betaDay?.relativeError ?? NaN)).toBeLessThan(0.01);
    // The log line, for a log query, says the same.
    const line = logged.find((l) => l.includes('"metric":"budgetEstimateError"') && l.includes('"acme"'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ day: D1, relativeError: acmeDay?.relativeError });

    // Drift judged it with the other rules: in the day's alerts file, posted once.
    const first = await alertsFile(s, D1);
    expect(first.alerts.map((a) => [a.id, a.severity])).toEqual([[ACME_ALERT, 'critical']]);
    expect(receiver.received.map((r) => idOf(r.body))).toEqual([ACME_ALERT]);

    // The same day again: nothing changes, nothing is posted.
    const before = {
      metrics: await s.reports.metrics(D1),
      exact: (await spend.exactMonth('2026-11')).get(acme.key) ?? new Map<string, Spent>(),
      posts: receiver.received.length,
      betaNanos: ((await spend.exactMonth('2026-11')).get(beta.key) ?? new Map<string, Spent>()).get(D1)
        ?.nanos,
    };
    at(`${D2}T01:30:00Z`);
    await report(D1);
    expect(await s.reports.metrics(D1)).toBe(before.metrics);
    expect((await spend.exactMonth('2026-11')).get(acme.key) ?? new Map<string, Spent>()).toEqual(
      before.exact,
    );
    expect(receiver.received).toHaveLength(before.posts);

    // Restated for a late request of beta: a new revision, the alert holds with its id, no post.
    at(`${D2}T02:00:00Z`);
    await ingest([request('beta', `${D1}T11:40:00Z`, 10)]);
    at(`${D2}T02:30:00Z`);
    await report(D1);
    const restated = parseMetrics((await s.reports.metrics(D1)) ?? '');
    expect(restated.revision).toBe(metrics.revision + 1);
    // Beta's figure is the restated report's rows, put in place of the first one, not added to it.
    const betaExact =
      ((await spend.exactMonth('2026-11')).get(beta.key) ?? new Map<string, Spent>()).get(D1)?.nanos ?? NaN;
    const betaCsv = await csvCost(s, D1, 'beta');
    expect(betaExact).not.toBe(before.betaNanos);
    expect(Math.abs(betaExact / 1000 - betaCsv.micros)).toBeLessThanOrEqual(betaCsv.rows * 0.5);
    expect((await alertsFile(s, D1)).alerts.map((a) => a.id)).toEqual([ACME_ALERT]);
    expect(receiver.received).toHaveLength(before.posts);

    // D2: acme's one request alone, estimated right: the alert resolves, with a back-to-normal card.
    at(`${D2}T12:00:00Z`);
    await ingest([held(`${D2}T10:00:00Z`, `${D2}T11:00:00Z`), request('acme', `${D2}T10:00:00Z`, 30)]);
    at('2026-11-24T01:00:00Z');
    await report(D2);
    const second = await alertsFile(s, D2);
    expect(parseMetrics((await s.reports.metrics(D2)) ?? '').budgets?.[0]?.relativeError).toBeCloseTo(0, 6);
    expect(second.alerts).toEqual([]);
    expect(second.resolved).toEqual([ACME_ALERT]);
    expect(JSON.stringify(receiver.received.at(-1)?.body)).toContain(`Back to normal on ${D2}`);
    expect((await s.alerts.get(ACME_ALERT))?.record.status).toBe('resolved');
  }, 120_000);
});
