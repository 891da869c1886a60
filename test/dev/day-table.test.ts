import { describe, expect, it } from 'vitest';
import { alignColumns, dayTable } from '../../dev/day-table.js';
import { CSV_COLUMNS, unparseCsv } from '../../src/domain/report/csv.js';

const DAY = '2026-12-06';

function csv(rows: [string, string, string, number, number, string][]): string {
  return unparseCsv(
    CSV_COLUMNS,
    rows.map(([tenant, feature, model, requests, tokens, cost]) => [
      DAY,
      tenant,
      feature,
      model,
      tenant === '(idle)' ? '' : 'interactive',
      String(requests),
      '0',
      tenant === '(idle)' ? '' : String(tokens),
      tenant === '(idle)' ? '' : '0',
      tenant === '(idle)' ? '' : '0',
      '1.000',
      cost,
      '',
      '',
      '',
    ]),
  );
}

const DAY_CSV = csv([
  ['(retraining)', 'llama-3.1-8b-instruct', 'llama-3.1-8b-instruct', 1, 0, '90.660000'],
  ['(idle)', '', 'llama-3.1-8b-instruct', 0, 0, '40.004999'],
  ['contoso', 'chat', 'llama-3.1-8b-instruct', 12_345, 2_000_000, '25.125000'],
  ['fabrikam', 'chat', 'llama-3.1-8b-instruct', 1, 1000, '0.500000'],
  ['fabrikam', 'summarize-docs', 'mistral-7b', 2, 500, '3.000000'],
]);

describe("npm start's table of the day", () => {
  it('shows retraining as retraining jobs, with "1 job", not as a feature of "1 requests"', () => {
    const lines = dayTable(DAY_CSV, DAY);
    const retraining = lines.find((l) => l.includes('llama-3.1-8b-instruct'));
    expect(retraining).toBe('  retraining of llama-3.1-8b-instruct  90.66       1 job');
    expect(lines.join('\n')).not.toMatch(/\b1 requests\b/);
  });

  it('aligns every column of every row, whatever the label lengths', () => {
    expect(dayTable(DAY_CSV, DAY)).toEqual([
      `Top features by GPU cost on ${DAY} (USD), with retraining jobs and idle GPU-time:`,
      '  retraining of llama-3.1-8b-instruct  90.66       1 job',
      '  (idle GPU-time)                      40.00',
      '  chat                                 25.63  12,346 requests  $0.0128/1k tokens',
      '  summarize-docs                        3.00       2 requests  $6.0000/1k tokens',
      `Top tenants by GPU cost on ${DAY} (USD):`,
      '  contoso   25.13  12,345 requests  $0.0126/1k tokens',
      '  fabrikam   3.50       3 requests  $2.3333/1k tokens',
    ]);
  });

  it('pads by graphemes: an emoji sequence counts as one character, not as its code points', () => {
    expect(
      alignColumns(
        [
          ['👩‍💻', '1'],
          ['abc', '10'],
        ],
        [false, true],
      ),
    ).toEqual(['  👩‍💻     1', '  abc  10']);
  });
});
