import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, neutralise } from '../../../src/domain/report/csv.js';
import { at, capacity, runDay, usage } from '../../helpers/events.js';

describe('report CSV', () => {
  it('has the columns of contracts.md §5.1 in order', () => {
    const header = runDay([]).csv.split('\r\n')[0];
    expect(header).toBe(CSV_COLUMNS.join(','));
    expect(CSV_COLUMNS).toHaveLength(15);
  });

  it.each(['=HYPERLINK("x")', '+1', '-1', '@SUM(A1)'])('neutralises %j', (text) => {
    expect(neutralise(text)).toBe(`'${text}`);
  });

  it.each([' =1+2', '"=1+2', "' @SUM(A1)", '  "-1', '\u00a0+1', '\u201c=1', '\uff1d1+1'])(
    'neutralises %j, a formula after leading spaces or quotes',
    (text) => {
      expect(neutralise(text)).toBe(`'${text}`);
    },
  );

  it.each([
    ['\tx', '\\u0009x'],
    ['\rx', '\\u000dx'],
    ['llama\u0000-8b', 'llama\\u0000-8b'],
    ['a\r\nb\u007f\u0085', 'a\\u000d\\u000ab\\u007f\\u0085'],
    ['\u0000=1+2', '\\u0000=1+2'],
  ])('shows the control characters of %j as text: %s', (text, expected) => {
    expect(neutralise(text)).toBe(expected);
  });

  it('round-trips hostile model and request-class names through a CSV parser, none reaching it raw', () => {
    // Names the names rule accepts: formulas are neutralised in the cell, and come back as text.
    const models: [string, string][] = [
      ['=1+2', "'=1+2"],
      ['"=cmd|\' /C calc\'!A0"', `'"=cmd|' /C calc'!A0"`],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['plain', 'plain'],
    ];
    // Names it refuses at intake (control characters, whitespace at an end): rejected with the
    // field's reason, so none reaches a cell at all.
    const refused = [' =1+2', 'nul\u0000model', 'cr\rlf\n', '\u0085next'];
    const report = runDay([
      ...[...models.map(([m]) => m), ...refused].map((model, i) => capacity({ pod: `pod-${i}`, model })),
      ...models.map(([model], i) =>
        usage({ pod: `pod-${i}`, model, requestClass: model, startedAt: at(i), finishedAt: at(i + 1) }),
      ),
      ...refused.map((model, i) =>
        usage({ pod: `pod-r${i}`, model, requestClass: 'batch', startedAt: at(i), finishedAt: at(i + 1) }),
      ),
    ]);
    // eslint-disable-next-line no-control-regex -- no control character may reach the CSV
    expect(report.csv.replaceAll('\r\n', '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    const parsed = Papa.parse<Record<string, string>>(report.csv, {
      header: true,
      skipEmptyLines: true,
    }).data;
    const usageRows = parsed.filter((r) => r.tenant === 'acme');
    expect(usageRows.map((r) => [r.model, r.requestClass]).sort()).toEqual(
      models.map(([, cell]) => [cell, cell]).sort(),
    );
    // Each refused name is rejected twice (its capacity and its usage event), each naming model.
    expect(report.rejections.filter((r) => r.includes('model'))).toHaveLength(refused.length * 2);
  });

  it('leaves ordinary text alone', () => {
    expect(neutralise('contoso')).toBe('contoso');
  });

  it('round-trips hostile tenant and feature names through a CSV parser', () => {
    const tenants = [
      'a,b',
      'say "hi"',
      'line\nbreak? no: control chars are rejected',
      'emoji 🙂',
      '=1+1',
      'x'.repeat(128),
    ];
    const legal = tenants.filter((name) => !name.includes('\n'));
    const report = runDay([
      capacity(),
      ...legal.map((tenant, i) =>
        usage({ tenant, feature: `f,${i}`, startedAt: at(i), finishedAt: at(i + 1) }),
      ),
    ]);
    const parsed = Papa.parse<Record<string, string>>(report.csv, {
      header: true,
      skipEmptyLines: true,
    }).data;
    const seen = parsed.map((row) => row.tenant);
    for (const name of legal) expect(seen).toContain(neutralise(name));
    expect(parsed.every((row) => Object.keys(row).length === CSV_COLUMNS.length)).toBe(true);
  });

  it('writes gpuSeconds with 3 decimals, money with 6 and latency as integers', () => {
    const row = runDay([capacity(), usage({ startedAt: at(0), finishedAt: at(1 / 3) })]).rows.find(
      (r) => r.tenant === 'acme',
    );
    expect(row?.gpuSeconds).toMatch(/^\d+\.\d{3}$/);
    expect(row?.costUsd).toMatch(/^\d+\.\d{6}$/);
    expect(row?.p50LatencyMs).toBe('333');
  });
});
