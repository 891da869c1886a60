import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, neutralise } from '../../src/report/csv.js';
import { at, capacity, runDay, usage } from '../helpers/events.js';

describe('report CSV', () => {
  it('has the SPEC columns in order', () => {
    const header = runDay([]).csv.split('\r\n')[0];
    expect(header).toBe(CSV_COLUMNS.join(','));
    expect(CSV_COLUMNS).toHaveLength(15);
  });

  it.each(['=HYPERLINK("x")', '+1', '-1', '@SUM(A1)', '\tx', '\rx'])('neutralises %j', (text) => {
    expect(neutralise(text)).toBe(`'${text}`);
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
