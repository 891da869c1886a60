import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/domain/drift/alert.js';
import { ConfigurationError } from '../../src/domain/errors.js';
import {
  decide,
  DEFAULT_LIFECYCLE_POLICY,
  isWorse,
  noticeDelivered,
  openBefore,
  parseLifecyclePolicy,
  sameRecord,
  type AlertRecord,
  type Notice,
} from '../../src/domain/drift/lifecycle.js';

const ID = 'cost-per-1k|tenant=acme|feature=chat';
const POLICY = DEFAULT_LIFECYCLE_POLICY;

function alert(fields: Partial<Alert> = {}): Alert {
  return {
    id: ID,
    rule: 'cost-per-1k',
    severity: 'warning',
    scope: { tenant: 'acme', feature: 'chat' },
    metric: 'costPer1kTokens',
    value: 2,
    baseline: 1,
    threshold: 1.5,
    message: 'cost per 1k tokens doubled',
    ...fields,
  };
}

function notice(fields: Partial<Notice> = {}): Notice {
  return { day: '2026-03-01', kind: 'raised', severity: 'warning', value: 2, baseline: 1, ...fields };
}

function open(fields: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id: ID,
    status: 'open',
    openedOn: '2026-03-01',
    day: '2026-03-01',
    alert: alert(),
    notified: notice(),
    ...fields,
  };
}

function run(date: string, alerts: Alert[], resolved: string[], records: AlertRecord[] = []) {
  return decide({ date, alerts, resolved }, new Map(records.map((r) => [r.id, r])), POLICY);
}

describe('decide', () => {
  it('raises a new alert with one post and opens its record on the day', () => {
    const [step] = run('2026-03-01', [alert()], []);
    expect(step?.post).toMatchObject({ kind: 'raised', day: '2026-03-01', openedOn: '2026-03-01' });
    expect(step?.next).toMatchObject({ status: 'open', openedOn: '2026-03-01', day: '2026-03-01' });
  });

  it('keeps an alert that persists unchanged open without a post, with the new figures', () => {
    const [step] = run('2026-03-02', [alert({ value: 2.1 })], [], [open()]);
    expect(step?.post).toBeUndefined();
    expect(step?.next).toMatchObject({ day: '2026-03-02', openedOn: '2026-03-01', alert: { value: 2.1 } });
  });

  it('raises again an open alert whose first post was never delivered', () => {
    const { notified: _n, ...unheard } = open();
    const [step] = run('2026-03-02', [alert()], [], [unheard]);
    expect(step?.post?.kind).toBe('raised');
  });

  it('posts a worsening when the severity goes up, with what was posted before', () => {
    const [step] = run('2026-03-02', [alert({ severity: 'critical' })], [], [open()]);
    expect(step?.post).toMatchObject({ kind: 'worsened', previous: { severity: 'warning', value: 2 } });
  });

  it('posts a worsening at the factor from the last post, and not below it', () => {
    // Posted at 2 against 1: a distance of 1, so 1.5 times that is 2.5.
    expect(run('2026-03-02', [alert({ value: 2.5 })], [], [open()])[0]?.post?.kind).toBe('worsened');
    expect(run('2026-03-02', [alert({ value: 2.49 })], [], [open()])[0]?.post).toBeUndefined();
  });

  it('measures a slow creep from the last post, not from yesterday', () => {
    const crept = open({ day: '2026-03-03', alert: alert({ value: 2.4 }) });
    expect(run('2026-03-04', [alert({ value: 2.6 })], [], [crept])[0]?.post?.kind).toBe('worsened');
  });

  it('reminds once the interval has passed since the last post, and not a day earlier', () => {
    // Posted on 03-01; the default interval is 7 days.
    expect(run('2026-03-07', [alert()], [], [open({ day: '2026-03-06' })])[0]?.post).toBeUndefined();
    const [step] = run('2026-03-08', [alert()], [], [open({ day: '2026-03-07' })]);
    expect(step?.post).toMatchObject({ kind: 'reminder', previous: { day: '2026-03-01' } });
  });

  it('resolves an open alert with one post that carries its last figures', () => {
    const [step] = run('2026-03-03', [], [ID], [open()]);
    expect(step?.next).toMatchObject({ status: 'resolved', resolvedOn: '2026-03-03', day: '2026-03-03' });
    expect(step?.post).toMatchObject({ kind: 'resolved', alert: { value: 2 }, previous: { kind: 'raised' } });
  });

  it('resolves without a post an alert the channel never heard about', () => {
    const { notified: _n, ...unheard } = open();
    const [step] = run('2026-03-03', [], [ID], [unheard]);
    expect(step?.next.status).toBe('resolved');
    expect(step?.post).toBeUndefined();
  });

  it('does nothing for an id already resolved, or never stored', () => {
    const resolved = open({ status: 'resolved', resolvedOn: '2026-03-02', day: '2026-03-02' });
    expect(run('2026-03-03', [], [ID], [resolved])).toEqual([]);
    expect(run('2026-03-03', [], ['unknown'], [])).toEqual([]);
  });

  it('opens a new episode when a resolved alert comes back on a later day', () => {
    const resolved = open({ status: 'resolved', resolvedOn: '2026-03-02', day: '2026-03-02' });
    const [step] = run('2026-03-05', [alert()], [], [resolved]);
    expect(step?.post).toMatchObject({ kind: 'raised', openedOn: '2026-03-05' });
    expect(step?.next).toEqual({
      id: ID,
      status: 'open',
      openedOn: '2026-03-05',
      day: '2026-03-05',
      alert: alert(),
    });
  });

  it('updates the figures of a restated day without posting again', () => {
    const [step] = run('2026-03-01', [alert({ value: 9, severity: 'critical' })], [], [open()]);
    expect(step?.post).toBeUndefined();
    expect(step?.next.alert.value).toBe(9);
  });

  it('leaves alone a record that a later day already changed', () => {
    expect(run('2026-02-27', [alert()], [], [open()])).toEqual([]);
    expect(run('2026-02-27', [], [ID], [open()])).toEqual([]);
  });

  it('treats an id both holding and resolved as holding', () => {
    const steps = run('2026-03-02', [alert()], [ID], [open()]);
    expect(steps).toHaveLength(1);
    expect(steps[0]?.next.status).toBe('open');
  });
});

describe('isWorse', () => {
  it('does not call a move to the other side of the baseline a worsening', () => {
    expect(isWorse(alert({ value: -5 }), notice(), POLICY)).toBe(false);
  });

  it('does not scale a notice that sat on the baseline', () => {
    expect(isWorse(alert({ value: 100 }), notice({ value: 1 }), POLICY)).toBe(false);
  });

  it('does not call a severity going down a worsening', () => {
    expect(isWorse(alert(), notice({ severity: 'critical' }), POLICY)).toBe(false);
  });
});

describe('noticeDelivered', () => {
  const post = {
    day: '2026-03-04',
    id: ID,
    kind: 'worsened' as const,
    alert: alert({ value: 3 }),
    openedOn: '2026-03-01',
  };

  it('records what the channel heard', () => {
    expect(noticeDelivered(open(), post).notified).toEqual({
      day: '2026-03-04',
      kind: 'worsened',
      severity: 'warning',
      value: 3,
      baseline: 1,
    });
  });

  it('never replaces a later notice, nor lands on a later episode', () => {
    const later = open({ notified: notice({ day: '2026-03-05' }) });
    expect(noticeDelivered(later, post)).toBe(later);
    const reopened = open({ openedOn: '2026-03-06', day: '2026-03-06' });
    expect(noticeDelivered(reopened, post)).toBe(reopened);
  });
});

describe('openBefore', () => {
  it('counts alerts open at the end of the previous day, including those resolved since', () => {
    const records = [
      open({ id: 'a' }),
      open({ id: 'b', openedOn: '2026-03-05' }),
      open({ id: 'c', status: 'resolved', resolvedOn: '2026-03-05' }),
      open({ id: 'd', status: 'resolved', resolvedOn: '2026-03-04' }),
    ];
    expect([...openBefore(records, '2026-03-05')].sort()).toEqual(['a', 'c']);
  });
});

describe('parseLifecyclePolicy', () => {
  it('takes the defaults for what is absent', () => {
    expect(parseLifecyclePolicy(undefined)).toEqual(DEFAULT_LIFECYCLE_POLICY);
    expect(parseLifecyclePolicy({ renotifyDays: 3 })).toEqual({
      ...DEFAULT_LIFECYCLE_POLICY,
      renotifyDays: 3,
    });
  });

  it('names the field it refuses', () => {
    expect(() => parseLifecyclePolicy({ worsenFactor: 1 })).toThrow(ConfigurationError);
    expect(() => parseLifecyclePolicy({ worsenFactor: 1 })).toThrow(/lifecycle\.worsenFactor/);
    expect(() => parseLifecyclePolicy({ renotify: 3 })).toThrow(/lifecycle/);
  });
});

describe('sameRecord', () => {
  it('ignores key order and absent fields, and sees any changed figure', () => {
    const { alert: a, ...rest } = open();
    expect(sameRecord(open(), { alert: a, resolvedOn: undefined, ...rest })).toBe(true);
    expect(sameRecord(open(), open({ alert: alert({ value: 2.0001 }) }))).toBe(false);
  });
});
