import { describe, expect, it } from 'vitest';
import { MemoryAlertStore } from '../../../src/adapters/memory/memory-alert-store.js';
import { MemoryOutbox } from '../../../src/adapters/memory/memory-outbox.js';
import type { TeamsMessage } from '../../../src/domain/drift/card.js';
import { DEFAULT_LIFECYCLE_POLICY } from '../../../src/domain/drift/lifecycle.js';
import { DEFAULT_DRIFT_RULES } from '../../../src/domain/drift/rules.js';
import { renderMetrics } from '../../../src/domain/metrics/build.js';
import { TransientError } from '../../../src/domain/errors.js';
import { AlertLifecycle } from '../../../src/usecases/drift/lifecycle.js';
import { runDrift, type DriftDeps } from '../../../src/usecases/drift/run-drift.js';
import { MODEL_SPECS } from '../../../dev/drift-history/fleet.js';
import { generateHistory } from '../../../dev/drift-history/generate.js';

const MODEL = MODEL_SPECS[1]?.name ?? '';
const history = generateHistory({
  seed: 3,
  days: 35,
  start: '2026-06-01',
  incidents: [{ kind: 'idle', day: 30, duration: 3, size: 2, scope: { model: MODEL } }],
});
const files = new Map(history.days.map((m) => [m.date, renderMetrics(m)]));
const dayOf = (i: number): string => history.days[i]?.date ?? '';

function setup(accept: () => boolean): { deps: DriftDeps; posted: TeamsMessage[]; outbox: MemoryOutbox } {
  const posted: TeamsMessage[] = [];
  const outbox = new MemoryOutbox();
  const store = new MemoryAlertStore();
  const now = (): Date => new Date('2026-07-10T00:40:00Z');
  const deps: DriftDeps = {
    reports: { metrics: (day) => Promise.resolve(files.get(day)) },
    rules: DEFAULT_DRIFT_RULES,
    lifecycle: new AlertLifecycle({ store, policy: DEFAULT_LIFECYCLE_POLICY, now, runId: 'run-1' }),
    notifier: {
      post: (message) => {
        if (!accept()) return Promise.reject(new TransientError('receiver answered 500'));
        posted.push(message);
        return Promise.resolve();
      },
    },
    outbox,
    now,
  };
  return { deps, posted, outbox };
}

describe('the daily run drift step', () => {
  it('posts a new alert once, and nothing when the same day runs again', async () => {
    const { deps, posted } = setup(() => true);
    const first = await runDrift(dayOf(30), deps);
    expect(first?.report.alerts.some((a) => a.rule === 'idleShare')).toBe(true);
    expect(posted.length).toBeGreaterThan(0);
    const count = posted.length;
    const again = await runDrift(dayOf(30), deps);
    expect(again?.posts).toEqual([]);
    expect(posted).toHaveLength(count);
  });

  it('keeps the cards in the outbox when Teams fails, and the next run sends them first', async () => {
    let up = false;
    const { deps, posted, outbox } = setup(() => up);
    const first = await runDrift(dayOf(30), deps);
    expect(first?.delivery.queued.length).toBeGreaterThan(0);
    expect(posted).toEqual([]);
    expect((await outbox.list()).length).toBe(first?.delivery.queued.length);
    up = true;
    const next = await runDrift(dayOf(31), deps);
    expect(next?.delivery.sent.slice(0, first?.delivery.queued.length)).toEqual(first?.delivery.queued);
    expect(await outbox.list()).toEqual([]);
  });

  it('does nothing for a day without metrics', async () => {
    const { deps, posted } = setup(() => true);
    expect(await runDrift('2027-01-01', deps)).toBeUndefined();
    expect(posted).toEqual([]);
  });
});
