import { dayPath } from '../domain/days.js';

/** What a stored report says about itself, beyond its content. */
export interface StoredReportInfo {
  readonly revision: number;
  /** Segments committed after this instant (less a margin) may be missing from the report. */
  readonly ledgerAsOf: string;
}

export interface ReportStore {
  info(day: string): Promise<StoredReportInfo | undefined>;
  /** Writes the CSV, then the summary (the summary is the commit: a report exists when it does). */
  write(day: string, csv: string, summary: string, info: StoredReportInfo): Promise<void>;
  csv(day: string): Promise<string | undefined>;
  summary(day: string): Promise<string | undefined>;
}

/**
 * `chargeback/YYYY/MM/DD/` in the `reports` container (SPEC 5). Throws RangeError for a string that
 * is not a day, so no caller can name a blob outside the day folders.
 */
export function reportPaths(day: string): { csv: string; summary: string } {
  const folder = `chargeback/${dayPath(day)}`;
  return { csv: `${folder}/chargeback-${day}.csv`, summary: `${folder}/summary-${day}.json` };
}
