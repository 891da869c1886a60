import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { makeReportDay } from '../../functions/reportDay.js';
import { MemoryAlertStore } from '../../src/adapters/memory/memory-alert-store.js';
import { MemoryLedger } from '../../src/adapters/memory/memory-ledger.js';
import { MemoryOutbox } from '../../src/adapters/memory/memory-outbox.js';
import { MemoryReportStore } from '../../src/adapters/memory/memory-report-store.js';
import type { TeamsMessage } from '../../src/domain/drift/card.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../../src/domain/drift/lifecycle.js';
import { DEFAULT_DRIFT_RULES } from '../../src/domain/drift/rules.js';
import { renderMetrics } from '../../src/domain/metrics/build.js';
import { DEFAULT_WEIGHTING } from '../../src/domain/weighting.js';
import { AlertLifecycle } from '../../src/usecases/drift/lifecycle.js';
import type { DriftDeps } from '../../src/usecases/drift/run-drift.js';
import { MODEL_SPECS } from '../../dev/drift-history/fleet.js';
import { generateHistory } from '../../dev/drift-history/generate.js';
import { TEST_PRICES } from '../helpers/events.js';

const MODEL = MODEL_SPECS[1]?.name ?? '';
const history = generateHistory({
  seed: 3,
  days: 31,
  start: '2026-06-01',
  incidents: [{ kind: 'idle', day: 30, duration: 1, size: 2, scope: { model: MODEL } }],
});
const DAY = history.days[30]?.date ?? '';
const files = new Map(history.days.map((m) => [m.date, renderMetrics(m)]));

function system(driftFails = false) {
  const logs: string[] = [];
  const posted: TeamsMessage[] = [];
  const store = new MemoryAlertStore();
  const outbox = new MemoryOutbox();
  const now = (): Date => new Date('2026-07-02T00:40:00Z');
  const daily = {
    ledger: new MemoryLedger(),
    reports: new MemoryReportStore(),
    prices: TEST_PRICES,
    now,
    idle: 'separate' as const,
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
  };
  const drift = (runId: string): Promise<DriftDeps> =>
    driftFails
      ? Promise.reject(new Error('alert table unreachable'))
      : Promise.resolve({
          // The history's metrics stand in for the stored ones: the memory ledger has no events.
          reports: { metrics: (day: string) => Promise.resolve(files.get(day)) },
          rules: DEFAULT_DRIFT_RULES,
          lifecycle: new AlertLifecycle({ store, policy: DEFAULT_LIFECYCLE_POLICY, now, runId }),
          notifier: { post: (m: TeamsMessage) => Promise.resolve(void posted.push(m)) },
          outbox,
          now,
        });
  const handler = makeReportDay(() => Promise.resolve(daily), drift);
  const context = (): InvocationContext =>
    new InvocationContext({
      functionName: 'reportDay',
      invocationId: `inv-${logs.length}`,
      logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
    });
  const message = { day: DAY, reason: 'yesterday', requestedAt: '2026-07-02T00:30:00.000Z' };
  return { handler, context, message, logs, posted, daily };
}

describe('reportDay with drift', () => {
  it('reports the day, then posts its new alerts once; the message delivered again posts nothing more', async () => {
    const s = system();
    await s.handler(s.message, s.context());
    expect(await s.daily.reports.summary(DAY)).toBeDefined();
    expect(s.posted.length).toBeGreaterThan(0);
    expect(s.logs.some((l) => l.includes(`drift ${DAY}`))).toBe(true);
    const count = s.posted.length;
    await s.handler(s.message, s.context());
    expect(s.posted).toHaveLength(count);
  });

  it('keeps the report when drift fails, and says so in the log', async () => {
    const s = system(true);
    await s.handler(s.message, s.context());
    expect(await s.daily.reports.summary(DAY)).toBeDefined();
    expect(s.logs.some((l) => l.includes(`drift ${DAY} failed: alert table unreachable`))).toBe(true);
  });
});
