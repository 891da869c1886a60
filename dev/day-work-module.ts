/**
 * The day's work (src/usecases/day/day-work.ts) for dev/fan-out-worker.ts, on a Storage account
 * named by the environment (bench/fan-out-day.ts sets it):
 *
 *   DAY_WORK_CONNECTION_STRING  the account (Azurite's)
 *   DAY_WORK_LEDGER_TABLE       the ledger's table (default `ledger`)
 *   DAY_WORK_LEDGER_CONTAINER   the ledger's container (default `ledger`)
 *   DAY_WORK_REPORTS_CONTAINER  where the day's report is stored
 *   DAY_WORK_RUNS_CONTAINER     where units' results and runs go (`runs/<job>/`)
 *   DAY_WORK_NOW                ISO time the plan was made at (the run's clock)
 *   DAY_UNIT_EVENTS             events per unit before a partition is cut by pod (400,000)
 */
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { BlobRunStorage } from '../src/adapters/azure-storage/blob-run-storage.js';
import { BlobReportStore } from '../src/adapters/azure-storage/blob-report-store.js';
import { StorageLedger } from '../src/adapters/azure-storage/storage-ledger.js';
import { temporaryRunSpace } from '../src/adapters/files/temp-run-space.js';
import { readPriceCard } from '../src/composition/files.js';
import { DEFAULT_WEIGHTING } from '../src/domain/weighting.js';
import { DEFAULT_UNIT_EVENTS } from '../src/usecases/daily/daily-run.js';
import { dayWork, type DayWorkDeps } from '../src/usecases/day/day-work.js';
import type { Work } from '../src/ports/fan-out.js';

/** The day's work's ports on the account the environment names. */
export function dayWorkDeps(env: NodeJS.ProcessEnv = process.env): DayWorkDeps {
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') throw new Error(`${name} is required`);
    return value;
  };
  const connection = required('DAY_WORK_CONNECTION_STRING');
  const blobs = BlobServiceClient.fromConnectionString(connection);
  const table = TableClient.fromConnectionString(connection, env.DAY_WORK_LEDGER_TABLE ?? 'ledger', {
    allowInsecureConnection: true,
  });
  const runs = blobs.getContainerClient(required('DAY_WORK_RUNS_CONTAINER'));
  const now = new Date(required('DAY_WORK_NOW'));
  return {
    ledger: new StorageLedger(table, blobs.getContainerClient(env.DAY_WORK_LEDGER_CONTAINER ?? 'ledger')),
    reports: new BlobReportStore(blobs.getContainerClient(required('DAY_WORK_REPORTS_CONTAINER'))),
    prices: readPriceCard('prices/azure-a100.json'),
    now: () => now,
    idle: 'separate',
    weighting: DEFAULT_WEIGHTING,
    restateDays: 35,
    unitEvents: Number(env.DAY_UNIT_EVENTS ?? DEFAULT_UNIT_EVENTS),
    runStorageFor: (job) => new BlobRunStorage(runs, `runs/${job}/`),
    space: () => temporaryRunSpace(),
  };
}

let built: Work | undefined;
const day = (): Work => (built ??= dayWork(dayWorkDeps()));

/** Built on first use, so that importing this module for dayWorkDeps reads no environment. */
export const work: Work = {
  runUnit: (plan, round, unit) => day().runUnit(plan, round, unit),
  fanIn: (plan, round, results, signal) => day().fanIn(plan, round, results, signal),
};
