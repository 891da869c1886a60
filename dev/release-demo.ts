/**
 * The monthly report and the release cost gate on simulated data, for `npm start`: a month of
 * simulated days reported as `chargeback report` reports them, the month's CSV and page, and the
 * cost gate on three candidate releases served the same replayed workload as the baseline.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseCostGateArgs, runCostGate } from '../src/cli/cost-gate-command.js';
import { parseMonthlyArgs, runMonthly } from '../src/cli/monthly-command.js';
import { parseReportArgs, runReport } from '../src/cli/report-command.js';
import { addDays } from '../src/domain/days.js';
import { simulateDay, type SimulationOptions } from '../src/simulator/simulate.js';
import { daysOfMonth } from '../src/usecases/monthly/monthly-report.js';

const PRICES = 'prices/azure-a100.json';

async function writeEvents(path: string, options: SimulationOptions): Promise<void> {
  const stream = createWriteStream(path);
  for (const event of simulateDay(options)) {
    if (!stream.write(`${JSON.stringify(event.json)}\n`))
      await new Promise<void>((resolve) =>
        stream.once('drain', () => {
          resolve();
        }),
      );
  }
  stream.end();
  await finished(stream);
}

/** A month of days (fewer requests at weekends, growth over the month), each reported. */
async function simulateMonth(out: string, month: string): Promise<string> {
  const events = join(out, 'events');
  const reports = join(out, 'reports');
  await mkdir(events, { recursive: true });
  for (const [i, day] of (daysOfMonth(month) ?? []).entries()) {
    const weekend = [0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay());
    const path = join(events, `${day}.ndjson`);
    await writeEvents(path, {
      date: day,
      pods: 6,
      seed: 1000 + i,
      requests: Math.round((weekend ? 4000 : 8000) * (1 + i / 60)),
    });
    const options = parseReportArgs(['--events', path, '--prices', PRICES, '--date', day, '--out', reports]);
    if (options === 'help') throw new Error('unreachable');
    await runReport(options, () => new Date(`${addDays(day, 1)}T00:30:00Z`));
  }
  return reports;
}

export async function releaseDemo(out: string, log: (line: string) => void): Promise<void> {
  const month = '2026-11';
  const reports = await simulateMonth(join(out, 'month'), month);
  const monthly = parseMonthlyArgs([
    '--reports',
    reports,
    '--month',
    month,
    '--out',
    join(out, 'monthly'),
    '--values',
    'dev/feature-values.json',
  ]);
  if (monthly === 'help') throw new Error('unreachable');
  log(
    `Monthly report: ${(await runMonthly(monthly, new Date('2026-12-01T01:00:00Z'))).replace(/\n/g, '\n  ')}`,
  );

  // The release cost gate: one replayed workload, served by the baseline and by each candidate.
  const runs = join(out, 'cost-gate-runs');
  await mkdir(runs, { recursive: true });
  const workload: SimulationOptions = { date: '2026-12-05', pods: 6, seed: 77, requests: 12_000 };
  const candidates: [string, string, SimulationOptions][] = [
    ['unchanged', 'the same release again', workload],
    [
      'longer-prompts',
      "chat's prompts 40% longer (a new system prompt)",
      { ...workload, variant: { promptScale: { chat: 1.4 } } },
    ],
    [
      'bigger-sku',
      'llama-3.1-8b-instruct moved to Standard_NC48ads_A100_v4 (2 GPUs, tensor parallel: steps 35% faster)',
      {
        ...workload,
        variant: {
          models: {
            'llama-3.1-8b-instruct': { gpuSku: 'Standard_NC48ads_A100_v4', gpuCount: 2, stepFactor: 0.65 },
          },
        },
      },
    ],
  ];
  await writeEvents(join(runs, 'baseline.ndjson'), workload);
  for (const [name, what, options] of candidates) {
    await writeEvents(join(runs, `${name}.ndjson`), options);
    const gate = parseCostGateArgs([
      '--baseline',
      join(runs, 'baseline.ndjson'),
      '--candidate',
      join(runs, `${name}.ndjson`),
      '--traffic',
      reports,
      '--out',
      join(out, 'cost-gate', name),
    ]);
    if (gate === 'help') throw new Error('unreachable');
    const outcome = await runCostGate(gate);
    const headline = outcome.markdown.split('\n')[2] ?? '';
    log(`  ${name} (${what}): exit ${outcome.code}`);
    log(`    ${headline.replace(/\*\*/g, '')}`);
    for (const line of outcome.result.lines.slice(0, 2)) {
      if (line.changeNanos === undefined || line.changeNanos === 0n) continue;
      log(
        `    ${line.feature} / ${line.model} / ${line.requestClass}: ${(Number(line.changeNanos) / 1e9).toFixed(2)} USD a month`,
      );
    }
  }
  log(`  (each verdict in ${join(out, 'cost-gate', '<candidate>', 'cost-gate.md')} and cost-gate.json)`);
}
