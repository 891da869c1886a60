import { describe, expect, it } from 'vitest';
import { MemoryAlertStore } from '../../../src/adapters/memory/memory-alert-store.js';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import { MemoryReportStore } from '../../../src/adapters/memory/memory-report-store.js';
import { addDays } from '../../../src/domain/days.js';
import type { TeamsMessage } from '../../../src/domain/drift/card.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../../../src/domain/drift/lifecycle.js';
import { DEFAULT_DRIFT_RULES } from '../../../src/domain/drift/rules.js';
import { renderMetrics } from '../../../src/domain/metrics/build.js';
import type { DailyMetrics, GroupMetrics } from '../../../src/domain/metrics/metrics.js';
import { runDrift, type DriftDeps } from '../../../src/usecases/drift/run-drift.js';
import { day, group, history, TODAY } from '../../domain/drift/fixture.js';

const NOW = new Date(`${TODAY}T23:59:00Z`);

async function deps(today: DailyMetrics, past: readonly DailyMetrics[] = history(28)) {
  const reports = new MemoryReportStore();
  for (const m of [...past, today])
    await reports.write(
      m.date,
      { csv: '', summary: '{}', metrics: renderMetrics(m) },
      { revision: 1, ledgerAsOf: '' },
    );
  const posted: TeamsMessage[] = [];
  const d: DriftDeps = {
    reports,
    alerts: new MemoryAlertStore(),
    outbox: new MemoryOutbox(),
    notifier: {
      post: (message) => {
        posted.push(message);
        return Promise.resolve();
      },
    },
    rules: DEFAULT_DRIFT_RULES,
    policy: DEFAULT_LIFECYCLE_POLICY,
    now: () => NOW,
    runId: 'test',
  };
  return { d, reports, posted };
}

/** `count` tenants whose chat cost went from $100 to $250: two alerts each. */
const tenants = (count: number, costUsd: number): GroupMetrics[] =>
  Array.from({ length: count }, (_, i) => group({ tenant: `t${i}` }, { costUsd }));

describe('runDrift', () => {
  it('does nothing for a day without metrics', async () => {
    const { d } = await deps(day(TODAY));
    expect(await runDrift(addDays(TODAY, 1), d)).toBeUndefined();
  });

  it('sends one digest above five alerts and settles every post it carries as posted', async () => {
    const past = history(28, () => ({ groups: tenants(3, 100) }));
    const { d, posted } = await deps(day(TODAY, { groups: tenants(3, 250) }), past);
    const outcome = await runDrift(TODAY, d);
    expect(outcome).toMatchObject({ alerts: 6, posts: 6 });
    expect(posted).toHaveLength(1);
    expect(JSON.stringify(posted[0])).toContain('6 drift alerts');
    const claims = await d.alerts.claims(TODAY);
    expect(claims.map((c) => c.status)).toEqual(Array<string>(6).fill('posted'));
  });

  it('posts no card for an alert that merely persists, and one "back to normal" when it ends', async () => {
    const past = history(28, () => ({ groups: tenants(1, 100) }));
    const { d, reports, posted } = await deps(day(TODAY, { groups: tenants(1, 250) }), past);
    await runDrift(TODAY, d);
    const next = addDays(TODAY, 1);
    await reports.write(
      next,
      { csv: '', summary: '{}', metrics: renderMetrics(day(next, { groups: tenants(1, 250) })) },
      { revision: 1, ledgerAsOf: '' },
    );
    const later = addDays(TODAY, 2);
    await reports.write(
      later,
      { csv: '', summary: '{}', metrics: renderMetrics(day(later, { groups: tenants(1, 100) })) },
      { revision: 1, ledgerAsOf: '' },
    );
    const persisted = await runDrift(next, d);
    expect(persisted).toMatchObject({ alerts: 2, posts: 0 });
    expect(posted).toHaveLength(2);
    const ended = await runDrift(later, d);
    expect(ended).toMatchObject({ alerts: 0, resolved: 2, posts: 2 });
    expect(posted).toHaveLength(3);
    expect(JSON.parse((await reports.alerts(later)) ?? '{}')).toMatchObject({ date: later, alerts: [] });
  });

  it('leaves a damaged history file out of the baseline and names it', async () => {
    const { d, reports } = await deps(day(TODAY));
    const bad = addDays(TODAY, -3);
    await reports.write(
      bad,
      { csv: '', summary: '{}', metrics: '{"schemaVersion": 99}' },
      { revision: 1, ledgerAsOf: '' },
    );
    expect(await runDrift(TODAY, d)).toMatchObject({ baselineDays: 27, unreadableDays: [bad] });
  });
});
